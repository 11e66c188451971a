/*
 * compat/libc_real.h: the host libc's own implementations of what gpm
 * interposes, and the GLIBC_PRIVATE entry points gpm builds G TCBs with.
 *
 * Found once at start-up (gpm_real_resolve) with dlsym(RTLD_NEXT) for the
 * default version of a public symbol, or dlvsym for a named version. The
 * shim calls these in pass-through mode (GPM_DISABLE=1, or an unknown glibc)
 * and before gpm is initialised; the core calls the real pthread_create to
 * make Ms.
 */
#ifndef GPM_COMPAT_LIBC_REAL_H
#define GPM_COMPAT_LIBC_REAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <mqueue.h>
#include <netdb.h>
#include <poll.h>
#include <semaphore.h>
#include <spawn.h>
#include <stdio.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

/*
 * GPM_REAL(return type, name, version or NULL for the default, parameters)
 * One line per interposed symbol whose native version gpm may call.
 */
#define GPM_REAL_INTERPOSED(X)                                                                 \
    X(int, pthread_create, NULL, (pthread_t *, const pthread_attr_t *, void *(*)(void *), void *)) \
    X(int, pthread_join, NULL, (pthread_t, void **))                                           \
    X(int, pthread_tryjoin_np, NULL, (pthread_t, void **))                                     \
    X(int, pthread_detach, NULL, (pthread_t))                                                  \
    X(void, pthread_exit, NULL, (void *))                                                      \
    X(int, pthread_yield, "GLIBC_2.2.5", (void))                                               \
    X(int, sched_yield, NULL, (void))                                                          \
    X(int, pthread_getattr_np, NULL, (pthread_t, pthread_attr_t *))                           \
    X(int, pthread_setname_np, NULL, (pthread_t, const char *))                               \
    X(int, pthread_getname_np, NULL, (pthread_t, char *, size_t))                             \
    X(int, pthread_getconcurrency, NULL, (void))                                               \
    X(int, pthread_setconcurrency, NULL, (int))                                                \
    X(int, pthread_key_create, NULL, (pthread_key_t *, void (*)(void *)))                     \
    X(int, pthread_key_delete, NULL, (pthread_key_t))                                          \
    X(void *, pthread_getspecific, NULL, (pthread_key_t))                                      \
    X(int, pthread_setspecific, NULL, (pthread_key_t, const void *))                          \
    X(int, thrd_create, NULL, (thrd_t *, thrd_start_t, void *))                                \
    X(int, thrd_join, NULL, (thrd_t, int *))                                                   \
    X(int, thrd_detach, NULL, (thrd_t))                                                        \
    X(void, thrd_exit, NULL, (int))                                                            \
    X(void, thrd_yield, NULL, (void))                                                          \
    X(int, tss_create, NULL, (tss_t *, tss_dtor_t))                                            \
    X(void, tss_delete, NULL, (tss_t))                                                         \
    X(void *, tss_get, NULL, (tss_t))                                                          \
    X(int, tss_set, NULL, (tss_t, void *))                                                     \
    X(void *, dlopen, NULL, (const char *, int))                                               \
    X(void *, dlmopen, NULL, (long, const char *, int))                                        \
    X(void, __pthread_unwind_next, NULL, (void *))                                             \
    X(int, pthread_timedjoin_np, NULL, (pthread_t, void **, const struct timespec *))          \
    X(int, pthread_clockjoin_np, NULL, (pthread_t, void **, clockid_t, const struct timespec *)) \
    X(int, pthread_mutex_init, NULL, (pthread_mutex_t *, const pthread_mutexattr_t *))         \
    X(int, pthread_mutex_destroy, NULL, (pthread_mutex_t *))                                    \
    X(int, pthread_mutex_lock, NULL, (pthread_mutex_t *))                                       \
    X(int, pthread_mutex_trylock, NULL, (pthread_mutex_t *))                                    \
    X(int, pthread_mutex_timedlock, NULL, (pthread_mutex_t *, const struct timespec *))        \
    X(int, pthread_mutex_clocklock, NULL, (pthread_mutex_t *, clockid_t, const struct timespec *)) \
    X(int, pthread_mutex_unlock, NULL, (pthread_mutex_t *))                                     \
    X(int, pthread_mutex_consistent, NULL, (pthread_mutex_t *))                                 \
    X(int, pthread_mutex_getprioceiling, NULL, (const pthread_mutex_t *, int *))               \
    X(int, pthread_mutex_setprioceiling, NULL, (pthread_mutex_t *, int, int *))                \
    X(int, pthread_cond_init, NULL, (pthread_cond_t *, const pthread_condattr_t *))            \
    X(int, pthread_cond_destroy, NULL, (pthread_cond_t *))                                      \
    X(int, pthread_cond_wait, NULL, (pthread_cond_t *, pthread_mutex_t *))                      \
    X(int, pthread_cond_timedwait, NULL, (pthread_cond_t *, pthread_mutex_t *, const struct timespec *)) \
    X(int, pthread_cond_clockwait, NULL, (pthread_cond_t *, pthread_mutex_t *, clockid_t, const struct timespec *)) \
    X(int, pthread_cond_signal, NULL, (pthread_cond_t *))                                       \
    X(int, pthread_cond_broadcast, NULL, (pthread_cond_t *))                                    \
    X(int, pthread_rwlock_init, NULL, (pthread_rwlock_t *, const pthread_rwlockattr_t *))      \
    X(int, pthread_rwlock_destroy, NULL, (pthread_rwlock_t *))                                  \
    X(int, pthread_rwlock_rdlock, NULL, (pthread_rwlock_t *))                                   \
    X(int, pthread_rwlock_tryrdlock, NULL, (pthread_rwlock_t *))                                \
    X(int, pthread_rwlock_timedrdlock, NULL, (pthread_rwlock_t *, const struct timespec *))    \
    X(int, pthread_rwlock_clockrdlock, NULL, (pthread_rwlock_t *, clockid_t, const struct timespec *)) \
    X(int, pthread_rwlock_wrlock, NULL, (pthread_rwlock_t *))                                   \
    X(int, pthread_rwlock_trywrlock, NULL, (pthread_rwlock_t *))                                \
    X(int, pthread_rwlock_timedwrlock, NULL, (pthread_rwlock_t *, const struct timespec *))    \
    X(int, pthread_rwlock_clockwrlock, NULL, (pthread_rwlock_t *, clockid_t, const struct timespec *)) \
    X(int, pthread_rwlock_unlock, NULL, (pthread_rwlock_t *))                                   \
    X(int, pthread_barrier_init, NULL, (pthread_barrier_t *, const pthread_barrierattr_t *, unsigned)) \
    X(int, pthread_barrier_destroy, NULL, (pthread_barrier_t *))                                \
    X(int, pthread_barrier_wait, NULL, (pthread_barrier_t *))                                   \
    X(int, pthread_spin_init, NULL, (pthread_spinlock_t *, int))                                \
    X(int, pthread_spin_destroy, NULL, (pthread_spinlock_t *))                                  \
    X(int, pthread_spin_lock, NULL, (pthread_spinlock_t *))                                     \
    X(int, pthread_spin_trylock, NULL, (pthread_spinlock_t *))                                  \
    X(int, pthread_spin_unlock, NULL, (pthread_spinlock_t *))                                   \
    X(int, pthread_once, NULL, (pthread_once_t *, void (*)(void)))                              \
    X(int, sem_init, NULL, (sem_t *, int, unsigned))                                            \
    X(int, sem_destroy, NULL, (sem_t *))                                                        \
    X(int, sem_wait, NULL, (sem_t *))                                                           \
    X(int, sem_trywait, NULL, (sem_t *))                                                        \
    X(int, sem_timedwait, NULL, (sem_t *, const struct timespec *))                             \
    X(int, sem_clockwait, NULL, (sem_t *, clockid_t, const struct timespec *))                  \
    X(int, sem_post, NULL, (sem_t *))                                                           \
    X(int, sem_getvalue, NULL, (sem_t *, int *))                                                \
    X(int, nanosleep, NULL, (const struct timespec *, struct timespec *))                       \
    X(int, clock_nanosleep, NULL, (clockid_t, int, const struct timespec *, struct timespec *)) \
    X(int, usleep, NULL, (useconds_t))                                                          \
    X(unsigned, sleep, NULL, (unsigned))                                                        \
    X(int, thrd_sleep, NULL, (const struct timespec *, struct timespec *))                      \
    X(int, mtx_init, NULL, (mtx_t *, int))                                                      \
    X(int, mtx_lock, NULL, (mtx_t *))                                                           \
    X(int, mtx_trylock, NULL, (mtx_t *))                                                        \
    X(int, mtx_timedlock, NULL, (mtx_t *__restrict, const struct timespec *__restrict))        \
    X(int, mtx_unlock, NULL, (mtx_t *))                                                         \
    X(void, mtx_destroy, NULL, (mtx_t *))                                                       \
    X(int, cnd_init, NULL, (cnd_t *))                                                           \
    X(int, cnd_signal, NULL, (cnd_t *))                                                         \
    X(int, cnd_broadcast, NULL, (cnd_t *))                                                      \
    X(int, cnd_wait, NULL, (cnd_t *, mtx_t *))                                                  \
    X(int, cnd_timedwait, NULL, (cnd_t *__restrict, mtx_t *__restrict, const struct timespec *__restrict)) \
    X(void, cnd_destroy, NULL, (cnd_t *))                                                       \
    X(void, call_once, NULL, (once_flag *, void (*)(void)))                                    \
    X(int, sigaction, NULL, (int, const struct sigaction *, struct sigaction *))              \
    X(__sighandler_t, signal, NULL, (int, __sighandler_t))                                      \
    X(__sighandler_t, bsd_signal, NULL, (int, __sighandler_t))                                  \
    X(__sighandler_t, sysv_signal, NULL, (int, __sighandler_t))                                 \
    X(__sighandler_t, sigset, NULL, (int, __sighandler_t))                                      \
    X(int, sigprocmask, NULL, (int, const sigset_t *, sigset_t *))                             \
    X(int, pthread_sigmask, NULL, (int, const sigset_t *, sigset_t *))                         \
    X(pid_t, gettid, NULL, (void))                                                              \
    X(int, tgkill, NULL, (pid_t, pid_t, int))                                                   \
    X(int, sigwait, NULL, (const sigset_t *, int *))                                            \
    X(int, sigwaitinfo, NULL, (const sigset_t *, siginfo_t *))                                  \
    X(int, sigtimedwait, NULL, (const sigset_t *, siginfo_t *, const struct timespec *))       \
    X(int, sigsuspend, NULL, (const sigset_t *))                                                \
    X(int, pause, NULL, (void))                                                                 \
    X(int, sigpending, NULL, (sigset_t *))                                                      \
    X(int, sigaltstack, NULL, (const stack_t *, stack_t *))                                     \
    X(int, siginterrupt, NULL, (int, int))                                                      \
    X(int, sighold, NULL, (int))                                                                \
    X(int, sigrelse, NULL, (int))                                                               \
    X(int, sigignore, NULL, (int))                                                              \
    X(int, raise, NULL, (int))                                                                  \
    X(int, kill, NULL, (pid_t, int))                                                            \
    X(int, sigqueue, NULL, (pid_t, int, const union sigval))                                    \
    X(int, pthread_kill, NULL, (pthread_t, int))                                                \
    X(int, pthread_sigqueue, NULL, (pthread_t, int, const union sigval))                        \
    X(int, pthread_cancel, NULL, (pthread_t))                                                   \
    X(void, pthread_testcancel, NULL, (void))                                                   \
    X(int, execve, NULL, (const char *, char *const[], char *const[]))                          \
    X(int, execv, NULL, (const char *, char *const[]))                                          \
    X(int, execvp, NULL, (const char *, char *const[]))                                         \
    X(int, execvpe, NULL, (const char *, char *const[], char *const[]))                         \
    X(int, fexecve, NULL, (int, char *const[], char *const[]))                                  \
    X(int, posix_spawn, NULL, (pid_t *, const char *, const posix_spawn_file_actions_t *,       \
                               const posix_spawnattr_t *, char *const[], char *const[]))        \
    X(int, posix_spawnp, NULL, (pid_t *, const char *, const posix_spawn_file_actions_t *,      \
                                const posix_spawnattr_t *, char *const[], char *const[]))       \
    X(int, system, NULL, (const char *))                                                        \
    X(FILE *, popen, NULL, (const char *, const char *)) \
    X(int, clock_gettime, NULL, (clockid_t, struct timespec *))                                 \
    X(int, clock_getres, NULL, (clockid_t, struct timespec *))                                  \
    X(int, pthread_getcpuclockid, NULL, (pthread_t, clockid_t *))                               \
    X(int, getrusage, NULL, (__rusage_who_t, struct rusage *)) \
    X(int, pthread_setaffinity_np, NULL, (pthread_t, size_t, const cpu_set_t *))               \
    X(int, pthread_getaffinity_np, NULL, (pthread_t, size_t, cpu_set_t *))                     \
    X(int, pthread_setschedparam, NULL, (pthread_t, int, const struct sched_param *))          \
    X(int, pthread_getschedparam, NULL, (pthread_t, int *, struct sched_param *))              \
    X(int, pthread_setschedprio, NULL, (pthread_t, int))                                        \
    X(int, sched_setaffinity, NULL, (pid_t, size_t, const cpu_set_t *))                        \
    X(int, sched_getaffinity, NULL, (pid_t, size_t, cpu_set_t *))                              \
    X(int, sched_setscheduler, NULL, (pid_t, int, const struct sched_param *))                 \
    X(int, sched_getscheduler, NULL, (pid_t))                                                   \
    X(int, sched_setparam, NULL, (pid_t, const struct sched_param *))                          \
    X(int, sched_getparam, NULL, (pid_t, struct sched_param *))                                \
    X(int, close, NULL, (int))                                                                  \
    X(int, close_range, NULL, (unsigned, unsigned, int))                                        \
    X(void, closefrom, NULL, (int))                                                             \
    X(int, dup2, NULL, (int, int))                                                              \
    X(int, dup3, NULL, (int, int, int))                                                         \
    X(int, socket, NULL, (int, int, int))                                                       \
    X(int, socketpair, NULL, (int, int, int, int[2]))                                           \
    X(int, setsockopt, NULL, (int, int, int, const void *, socklen_t))                          \
    X(int, pipe, NULL, (int[2]))                                                                \
    X(int, pipe2, NULL, (int[2], int))                                                          \
    X(int, eventfd, NULL, (unsigned, int))                                                      \
    X(int, timerfd_create, NULL, (int, int))                                                    \
    X(int, signalfd, NULL, (int, const sigset_t *, int))                                        \
    X(int, inotify_init, NULL, (void))                                                          \
    X(int, inotify_init1, NULL, (int))                                                          \
    X(int, epoll_create, NULL, (int))                                                           \
    X(int, epoll_create1, NULL, (int))                                                          \
    X(int, dup, NULL, (int))

/*
 * GPM_BLOCKING_CALLS(X): libc functions that may block in the kernel, which
 * src/shim/syscall.c wraps in entersyscall/exitsyscall. X(return type,
 * name, parameters, arguments). Variadic ones (open, openat, fcntl,
 * syscall) are written out by hand there, with their reals below.
 */
#define GPM_BLOCKING_CALLS(X)                                                                          \
    X(ssize_t, pread, (int fd, void *buf, size_t n, off_t off), (fd, buf, n, off))                     \
    X(ssize_t, pread64, (int fd, void *buf, size_t n, off64_t off), (fd, buf, n, off))                 \
    X(ssize_t, pwrite, (int fd, const void *buf, size_t n, off_t off), (fd, buf, n, off))              \
    X(ssize_t, pwrite64, (int fd, const void *buf, size_t n, off64_t off), (fd, buf, n, off))          \
    X(ssize_t, preadv, (int fd, const struct iovec *iov, int n, off_t off), (fd, iov, n, off))         \
    X(ssize_t, preadv64, (int fd, const struct iovec *iov, int n, off64_t off), (fd, iov, n, off))     \
    X(ssize_t, pwritev, (int fd, const struct iovec *iov, int n, off_t off), (fd, iov, n, off))        \
    X(ssize_t, pwritev64, (int fd, const struct iovec *iov, int n, off64_t off), (fd, iov, n, off))    \
    X(ssize_t, preadv2, (int fd, const struct iovec *iov, int n, off_t off, int fl), (fd, iov, n, off, fl))\
    X(ssize_t, pwritev2, (int fd, const struct iovec *iov, int n, off_t off, int fl), (fd, iov, n, off, fl))\
    X(pid_t, wait, (int *st), (st))                                                                    \
    X(pid_t, waitpid, (pid_t p, int *st, int o), (p, st, o))                                           \
    X(int, waitid, (idtype_t t, id_t id, siginfo_t *i, int o), (t, id, i, o))                          \
    X(pid_t, wait3, (int *st, int o, struct rusage *r), (st, o, r))                                    \
    X(pid_t, wait4, (pid_t p, int *st, int o, struct rusage *r), (p, st, o, r))                        \
    X(int, fsync, (int fd), (fd))                                                                      \
    X(int, fdatasync, (int fd), (fd))                                                                  \
    X(int, flock, (int fd, int op), (fd, op))                                                          \
    X(int, lockf, (int fd, int cmd, off_t len), (fd, cmd, len))                                        \
    X(int, lockf64, (int fd, int cmd, off64_t len), (fd, cmd, len))                                    \
    X(ssize_t, msgrcv, (int id, void *m, size_t n, long t, int fl), (id, m, n, t, fl))                 \
    X(int, msgsnd, (int id, const void *m, size_t n, int fl), (id, m, n, fl))                          \
    X(ssize_t, mq_receive, (mqd_t q, char *m, size_t n, unsigned *pr), (q, m, n, pr))                  \
    X(int, mq_send, (mqd_t q, const char *m, size_t n, unsigned pr), (q, m, n, pr))                    \
    X(ssize_t, mq_timedreceive, (mqd_t q, char *m, size_t n, unsigned *pr, const struct timespec *t), (q, m, n, pr, t))\
    X(int, mq_timedsend, (mqd_t q, const char *m, size_t n, unsigned pr, const struct timespec *t), (q, m, n, pr, t))\
    X(int, getaddrinfo, (const char *n, const char *s, const struct addrinfo *h, struct addrinfo **r), (n, s, h, r))\
    X(struct hostent *, gethostbyname, (const char *n), (n))                                           \
    X(struct hostent *, gethostbyname2, (const char *n, int af), (n, af))                              \
    X(int, gethostbyname_r, (const char *n, struct hostent *h, char *b, size_t bl, struct hostent **r, int *e), (n, h, b, bl, r, e))\
    X(int, gethostbyname2_r, (const char *n, int af, struct hostent *h, char *b, size_t bl, struct hostent **r, int *e), (n, af, h, b, bl, r, e))

/*
 * GPM_NETIO_CALLS(X): the blocking calls on files that may be pollable,
 * which src/shim/netio.c runs through the poller (src/core/netpoll.c),
 * and the old way (entersyscall) on other files. Same shape as above.
 */
#define GPM_NETIO_CALLS(X)                                                                             \
    X(ssize_t, read, (int fd, void *buf, size_t n), (fd, buf, n))                                      \
    X(ssize_t, write, (int fd, const void *buf, size_t n), (fd, buf, n))                               \
    X(ssize_t, readv, (int fd, const struct iovec *iov, int n), (fd, iov, n))                          \
    X(ssize_t, writev, (int fd, const struct iovec *iov, int n), (fd, iov, n))                         \
    X(ssize_t, recv, (int fd, void *buf, size_t n, int fl), (fd, buf, n, fl))                          \
    X(ssize_t, recvfrom, (int fd, void *buf, size_t n, int fl, struct sockaddr *a, socklen_t *al), (fd, buf, n, fl, a, al))\
    X(ssize_t, recvmsg, (int fd, struct msghdr *m, int fl), (fd, m, fl))                               \
    X(int, recvmmsg, (int fd, struct mmsghdr *v, unsigned n, int fl, struct timespec *t), (fd, v, n, fl, t))\
    X(ssize_t, send, (int fd, const void *buf, size_t n, int fl), (fd, buf, n, fl))                    \
    X(ssize_t, sendto, (int fd, const void *buf, size_t n, int fl, const struct sockaddr *a, socklen_t al), (fd, buf, n, fl, a, al))\
    X(ssize_t, sendmsg, (int fd, const struct msghdr *m, int fl), (fd, m, fl))                         \
    X(int, sendmmsg, (int fd, struct mmsghdr *v, unsigned n, int fl), (fd, v, n, fl))                  \
    X(int, connect, (int fd, const struct sockaddr *a, socklen_t al), (fd, a, al))                     \
    X(int, accept, (int fd, struct sockaddr *a, socklen_t *al), (fd, a, al))                           \
    X(int, accept4, (int fd, struct sockaddr *a, socklen_t *al, int fl), (fd, a, al, fl))              \
    X(int, poll, (struct pollfd *f, nfds_t n, int t), (f, n, t))                                       \
    X(int, ppoll, (struct pollfd *f, nfds_t n, const struct timespec *t, const sigset_t *m), (f, n, t, m))\
    X(int, select, (int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t), (n, r, w, e, t))       \
    X(int, pselect, (int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *t, const sigset_t *m), (n, r, w, e, t, m))\
    X(int, epoll_wait, (int fd, struct epoll_event *ev, int n, int t), (fd, ev, n, t))                 \
    X(int, epoll_pwait, (int fd, struct epoll_event *ev, int n, int t, const sigset_t *m), (fd, ev, n, t, m))\
    X(int, epoll_pwait2, (int fd, struct epoll_event *ev, int n, const struct timespec *t, const sigset_t *m), (fd, ev, n, t, m))

/* The variadic blocking calls, by hand. */
#define GPM_REAL_VARIADIC(X)                                                                   \
    X(int, open, NULL, (const char *, int, ...))                                               \
    X(int, open64, NULL, (const char *, int, ...))                                             \
    X(int, openat, NULL, (int, const char *, int, ...))                                        \
    X(int, openat64, NULL, (int, const char *, int, ...))                                      \
    X(int, fcntl, NULL, (int, int, ...))                                                       \
    X(int, fcntl64, NULL, (int, int, ...))                                                     \
    X(long, syscall, NULL, (long, ...))                                                        \
    X(int, prctl, NULL, (int, ...))                                                            \
    X(int, ioctl, NULL, (int, unsigned long, ...))

/* GLIBC_PRIVATE functions, all required for per-G TLS. */
#define GPM_REAL_PRIVATE(X)                                                                    \
    X(void *, _dl_allocate_tls, "GLIBC_PRIVATE", (void *))                                     \
    X(void *, _dl_allocate_tls_init, "GLIBC_PRIVATE", (void *, bool))                          \
    X(void, _dl_deallocate_tls, "GLIBC_PRIVATE", (void *, bool))                               \
    X(void, _dl_get_tls_static_info, "GLIBC_PRIVATE", (size_t *, size_t *))                    \
    X(void, __ctype_init, "GLIBC_PRIVATE", (void))                                             \
    X(void, __call_tls_dtors, "GLIBC_PRIVATE", (void))

#define GPM_REAL_FIELD(ret, name, version, params) ret(*name) params;
#define GPM_BLOCKING_FIELD(ret, name, params, args) ret(*name) params;
struct gpm_real_libc {
    GPM_REAL_INTERPOSED(GPM_REAL_FIELD)
    GPM_REAL_VARIADIC(GPM_REAL_FIELD)
    GPM_BLOCKING_CALLS(GPM_BLOCKING_FIELD)
    GPM_NETIO_CALLS(GPM_BLOCKING_FIELD)
    GPM_REAL_PRIVATE(GPM_REAL_FIELD)
};
#undef GPM_REAL_FIELD
#undef GPM_BLOCKING_FIELD

extern struct gpm_real_libc gpm_real;

/* libc's clock_gettime, valid at every moment: before gpm_real_resolve
   the entry resolves itself on first use (src/shim/clock.c calls it
   without asking whether gpm is up, to keep the common clocks' path one
   compare long). */
static inline int (*gpm_real_clock_gettime(void))(clockid_t, struct timespec *)
{
    return __atomic_load_n(&gpm_real.clock_gettime, __ATOMIC_RELAXED);
}

/* Resolves every entry. Returns NULL on success, else the name of the first
   entry that is missing (a required one makes per-G TLS impossible). Does
   not allocate on success (dlsym/dlvsym only set dlerror state on failure). */
const char *gpm_real_resolve(void);

#endif
