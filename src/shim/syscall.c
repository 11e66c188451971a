/*
 * src/shim/syscall.c: libc calls that may block in the kernel.
 *
 * Each calls libc's own function between gpm_entersyscall and
 * gpm_exitsyscall ("System calls" in src/core/sched.c): while the call
 * blocks, sysmon hands the G's P to another M, so the other Gs of that P
 * run on; a call that returns at once (a non-blocking fd, data already
 * there) keeps its P for the price of two atomic operations. Return values,
 * errno, EINTR and partial transfers are libc's, untouched. errno is the
 * G's own (its TLS moves with it), so exitsyscall moving the G to another
 * kernel thread cannot disturb it.
 *
 * The list is GPM_BLOCKING_CALLS in compat/libc_real.h (the calls on files
 * that may be pollable are netio.c's: they go through the poller), plus the variadic
 * open, openat, fcntl (only the waiting lock commands) and syscall (the
 * numbers of blocking calls; SYS_futex goes to src/core/futex.c, which
 * parks Gs on private futexes and passes the rest to the kernel; SYS_gettid,
 * SYS_tgkill, SYS_tkill and SYS_set_tid_address name threads by their G's
 * id, as tid.c) written out below.
 */
#undef _FILE_OFFSET_BITS /* define pread and pread64 both, as libc does */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../compat/glibc_abi.h"
#include "../core/futex.h"
#include "../core/gstack.h"
#include "../core/gsig.h"
#include "../core/netpoll.h"
#include "shim.h"

/* Handlers run after the call keep its errno (deliver_one restores it). */
static inline void gpm_afterwrapped_errno(void)
{
    gpm_afterwrapped();
}

#define WRAP(ret, name, params, args)                \
    GPM_EXPORT ret name params                       \
    {                                                \
        if (!gpm_active())                           \
            return gpm_real.name args;               \
        gpm_entersyscall();                          \
        ret r_ = gpm_real.name args;                 \
        gpm_exitsyscall();                           \
        gpm_afterwrapped_errno();                    \
        return r_;                                   \
    }
GPM_BLOCKING_CALLS(WRAP)
#undef WRAP

/* open and openat block on FIFOs (until the other end opens) and on slow
   file systems; the mode argument exists when O_CREAT or O_TMPFILE asks. */
static mode_t openmode(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & __O_TMPFILE) == __O_TMPFILE ? va_arg(ap, mode_t) : 0;
}

#define OPEN(name)                                          \
    GPM_EXPORT int name(const char *path, int flags, ...)   \
    {                                                       \
        va_list ap;                                         \
        va_start(ap, flags);                                \
        mode_t mode = openmode(flags, ap);                  \
        va_end(ap);                                         \
        if (!gpm_active())                                  \
            return gpm_real.name(path, flags, mode);        \
        gpm_entersyscall();                                 \
        int r = gpm_real.name(path, flags, mode);           \
        gpm_exitsyscall();                                  \
        if (r >= 0)                                         \
            gpm_netfd_new(r);                               \
        gpm_afterwrapped_errno();                           \
        return r;                                           \
    }
OPEN(open)
OPEN(open64)

#define OPENAT(name)                                                \
    GPM_EXPORT int name(int dirfd, const char *path, int flags, ...) \
    {                                                               \
        va_list ap;                                                 \
        va_start(ap, flags);                                        \
        mode_t mode = openmode(flags, ap);                          \
        va_end(ap);                                                 \
        if (!gpm_active())                                          \
            return gpm_real.name(dirfd, path, flags, mode);         \
        gpm_entersyscall();                                         \
        int r = gpm_real.name(dirfd, path, flags, mode);            \
        gpm_exitsyscall();                                          \
        if (r >= 0)                                                 \
            gpm_netfd_new(r);                                       \
        gpm_afterwrapped_errno();                                   \
        return r;                                                   \
    }
OPENAT(openat)
OPENAT(openat64)

/* fcntl's third argument is an int or a pointer, passed in the same
   register either way; only the waiting lock commands can block. */
#define FCNTL(name)                                                           \
    GPM_EXPORT int name(int fd, int cmd, ...)                                 \
    {                                                                         \
        va_list ap;                                                           \
        va_start(ap, cmd);                                                    \
        void *arg = va_arg(ap, void *);                                       \
        va_end(ap);                                                           \
        bool blocks = cmd == F_SETLKW || cmd == F_OFD_SETLKW || cmd == F_SETLKW64; \
        if ((cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && gpm_active()) {     \
            if (gpm_netfd_isown(fd)) {                                        \
                errno = EBADF;                                                \
                return -1;                                                    \
            }                                                                 \
            int r = gpm_real.name(fd, cmd, arg);                              \
            if (r >= 0)                                                       \
                gpm_netfd_new(r);                                             \
            return r;                                                         \
        }                                                                     \
        if (cmd == F_SETFL) {                                                 \
            int r = gpm_real.name(fd, cmd, arg);                              \
            if (r == 0)                                                       \
                gpm_netfd_flagschanged(); /* O_NONBLOCK, for the poller */   \
            return r;                                                         \
        }                                                                     \
        if (!blocks || !gpm_active())                                         \
            return gpm_real.name(fd, cmd, arg);                               \
        gpm_entersyscall();                                                   \
        int r = gpm_real.name(fd, cmd, arg);                                  \
        gpm_exitsyscall();                                                    \
        gpm_afterwrapped_errno();                                             \
        return r;                                                             \
    }
FCNTL(fcntl)
FCNTL(fcntl64)

/* syscall(2): the numbers of the calls above. */
static bool blocking_nr(long nr)
{
    switch (nr) {
    case SYS_read: case SYS_write: case SYS_readv: case SYS_writev: case SYS_pread64: case SYS_pwrite64:
    case SYS_preadv: case SYS_pwritev: case SYS_preadv2: case SYS_pwritev2: case SYS_recvfrom:
    case SYS_recvmsg: case SYS_recvmmsg: case SYS_sendto: case SYS_sendmsg: case SYS_sendmmsg:
    case SYS_accept: case SYS_accept4: case SYS_connect: case SYS_poll: case SYS_ppoll: case SYS_select:
    case SYS_pselect6: case SYS_epoll_wait: case SYS_epoll_pwait: case SYS_epoll_pwait2: case SYS_wait4:
    case SYS_waitid: case SYS_open: case SYS_openat: case SYS_fsync: case SYS_fdatasync: case SYS_flock:
    case SYS_msgrcv: case SYS_msgsnd: case SYS_mq_timedreceive: case SYS_mq_timedsend:
    case SYS_nanosleep: case SYS_clock_nanosleep:
        return true;
    default:
        return false;
    }
}

static long robust_set(void *head, size_t len)
{
    struct gpm_g *gp = gpm_getg();
    if (len != sizeof(struct robust_list_head))
        return -EINVAL; /* the kernel's only check */
    if (gp == NULL)
        return gpm_real.syscall(SYS_set_robust_list, head, len) < 0 ? -errno : 0;
    gp->krobust = head;
    gp->krobustlen = len;
    return 0;
}

/* Another G's list by its tid; a tid that is no G's is another process's
   thread (or none), which the kernel answers. */
static long robust_get(pid_t tid, void **head, size_t *len)
{
    struct gpm_g *gp = tid == 0 ? gpm_getg() : gpm_tid_to_g(tid);
    if (gp == NULL)
        return gpm_real.syscall(SYS_get_robust_list, tid, head, len) < 0 ? -errno : 0;
    /* Nothing registered: glibc's own list in the TCB, which glibc
       registers for every thread it starts. */
    *head = gp->krobust != NULL ? gp->krobust : (char *)gp->tcb + TCB_OFF_ROBUST_LIST;
    *len = sizeof(struct robust_list_head);
    return 0;
}

GPM_EXPORT long syscall(long nr, ...)
{
    va_list ap;
    va_start(ap, nr);
    long a0 = va_arg(ap, long), a1 = va_arg(ap, long), a2 = va_arg(ap, long);
    long a3 = va_arg(ap, long), a4 = va_arg(ap, long), a5 = va_arg(ap, long);
    va_end(ap);
    if (!gpm_active())
        return gpm_real.syscall(nr, a0, a1, a2, a3, a4, a5);
    /* A thread's id is its G's (tid.c). */
    if (nr == SYS_gettid)
        return gettid();
    if (nr == SYS_set_tid_address)
        return gpm_shim_set_tid_address((int *)a0);
    /* The robust futex list is the thread's, so the G's ("Robust futex
       lists" in futex.c). */
    if (nr == SYS_set_robust_list || nr == SYS_get_robust_list) {
        long r = nr == SYS_set_robust_list ? robust_set((void *)a0, (size_t)a1)
                                           : robust_get((pid_t)a0, (void **)a1, (size_t *)a2);
        if (r < 0) {
            errno = (int)-r;
            return -1;
        }
        return r;
    }
    /* Signals are the G's (signal.c). */
    switch (nr) {
    case SYS_tgkill:
        return tgkill((pid_t)a0, (pid_t)a1, (int)a2);
    case SYS_tkill:
        return tgkill(getpid(), (pid_t)a0, (int)a1);
    case SYS_rt_sigprocmask:
        return sigprocmask((int)a0, (const sigset_t *)a1, (sigset_t *)a2);
    case SYS_rt_sigsuspend:
        return sigsuspend((const sigset_t *)a0);
    case SYS_pause:
        return pause();
    case SYS_rt_sigtimedwait:
        return sigtimedwait((const sigset_t *)a0, (siginfo_t *)a1, (const struct timespec *)a2);
    default:
        break;
    }
    if (nr == SYS_futex) {
        long r = gpm_futex((uint32_t *)a0, (int)a1, (uint32_t)a2, (unsigned long)a3, (uint32_t *)a4, (uint32_t)a5);
        if (r < 0) {
            errno = (int)-r;
            return -1;
        }
        return r;
    }
    if (!blocking_nr(nr)) {
        long r = gpm_real.syscall(nr, a0, a1, a2, a3, a4, a5);
        if ((nr == SYS_fcntl && a1 == F_SETFL) || (nr == SYS_ioctl && (unsigned long)a1 == FIONBIO))
            gpm_netfd_flagschanged(); /* O_NONBLOCK, for the poller (netio.c), once changed */
        if (nr == SYS_setsockopt && a1 == SOL_SOCKET && r == 0)
            gpm_netfd_timeochanged((int)a0); /* SO_RCVTIMEO or another: read again when needed */
        return r;
    }
    gpm_entersyscall();
    long r = gpm_real.syscall(nr, a0, a1, a2, a3, a4, a5);
    gpm_exitsyscall();
    gpm_afterwrapped_errno();
    return r;
}
