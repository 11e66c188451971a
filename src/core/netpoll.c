/*
 * src/core/netpoll.c: the netpoller (Go's netpoll.go and
 * netpoll_epoll.go, for programs that own their file descriptors).
 *
 * Why
 * ===
 * A G that blocks in read(2) on a socket holds its kernel thread in the
 * kernel: sysmon takes its P after 20 µs and hands it to another M, and
 * when the read returns the M must get a P back. A thread-per-connection
 * server pays that hand-off for every request and needs a kernel thread
 * per idle connection. With the poller, a call that would block parks the
 * G instead, and one epoll_wait makes runnable every G whose file became
 * ready: idle connections cost a parked G, not a kernel thread.
 *
 * The program's view must not change
 * ----------------------------------
 * Go owns its descriptors and makes them non-blocking. gpm does not own
 * the program's: their status flags are shared with other processes (a
 * forked child, a shell's terminal), so gpm never changes them. A wrapped
 * call on a pollable file instead
 *   - makes the call in its own non-blocking form where one exists: on a
 *     socket, MSG_DONTWAIT (read on a socket is recv with no flags, write
 *     is send); epoll_wait, poll and select with a zero timeout;
 *     on a pipe or FIFO, read, write, readv and writev become preadv2 and
 *     pwritev2 with RWF_NOWAIT (offset -1: the file's position, as read);
 *   - where none exists (terminals, eventfds, accept on a listening
 *     socket, a kernel that refuses RWF_NOWAIT on pipes), asks readiness
 *     first with poll(2) and a zero timeout, and makes the blocking call
 *     only when the file is ready. Another thread may take the data
 *     between the two: then the call blocks its kernel thread, as without
 *     the poller (sysmon hands the P on).
 * When the call would block and the program made the file non-blocking
 * (O_NONBLOCK, read with F_GETFL before gpm parks anyone), the program
 * gets its EAGAIN, exactly as before; once gpm knows a file is
 * non-blocking, a data call on it is the bare system call, without
 * entersyscall (gpm_netio_isnonblocking, nonblockingattempt), which is
 * what an event loop's reads and writes cost. Otherwise the G parks until the file
 * is ready, then tries again. SO_RCVTIMEO and SO_SNDTIMEO, and the
 * timeouts of poll, select and epoll_wait, are timers; signals and
 * cancellation interrupt the wait ("Interrupting a wait" in signal.c).
 * Regular files, directories and block devices are not pollable: their
 * calls keep entersyscall.
 *
 * The pollfd table
 * ----------------
 * Per descriptor number, a struct pollfd_ (Go's pollDesc): what kind of
 * file it is (learnt once with fstat: socket, other pollable, not
 * pollable), per direction a sequence number the poller bumps on every
 * event, and the list of waiters. The kind is a cache that may go stale
 * when libc closes and reuses a number behind gpm's back (fclose, then
 * fopen). A "socket" that is not answers ENOTSOCK and is looked at again;
 * "other pollable" uses readiness first, right for any file; "not
 * pollable" keeps entersyscall, right for any file. A "pipe" that is a
 * regular file now would read with RWF_NOWAIT, which may return less
 * than a plain read where the page cache holds part of the data: that
 * needs libc to reuse the number of a pipe the program read for a file
 * the program then reads with read(2) (see "Registration").
 *
 * Registration: every file a G waits on is added to the epoll instance,
 * edge-triggered for reading and writing, with the descriptor number as
 * its key, and stays there: epoll drops it when the file is closed. The
 * pollfd remembers that it was added, and whether the program made the
 * file non-blocking (F_GETFL, kept until some F_SETFL or FIONBIO anywhere:
 * a file description may have several numbers), so that a wait costs no
 * system call but the call's own. Both are forgotten when gpm sees the
 * number closed or made anew: close, dup2, dup3, close_range, and every
 * call that makes descriptors and that the program calls (open, socket,
 * accept, pipe, eventfd, timerfd_create, signalfd, epoll_create,
 * inotify_init, dup, fcntl(F_DUPFD), popen). What gpm cannot see is
 * libc closing and reusing a number by itself (fclose then fopen): that
 * gives a regular file, or a descriptor the program does not wait on.
 *
 * Waiting without losing a wake-up
 * --------------------------------
 *   waiter                               poller (any M)
 *   s = pd->seq[dir]                     epoll_wait returns an event for fd
 *   try the call: would block            lock(pd)
 *   epoll_ctl(ADD) (EEXIST: already)     pd->seq[dir]++
 *   lock(pd)                             fire every waiter for dir
 *   pd->seq[dir] == s ?                  unlock(pd); ready their Gs
 *     yes: queue; unlock; park
 *     no:  unlock; try again
 * Readiness that came after the try is an event: a new edge if the file
 * was registered already, and if not, adding a ready file queues an event
 * at once. Its seq++ is either before the waiter's check (which then tries
 * again) or after, when the waiter is queued. An event
 * wakes every waiter of its direction (several threads may read one pipe,
 * or accept on one socket); each tries again from the start (readiness
 * first where that applies), and the losers park again.
 *
 * A wait (struct pollwait, on the G's stack) may span several files (poll
 * and select) and has three ways to end: an event, its timer, or an
 * interruption. Its state settles which one came first, with one CAS:
 *
 *   ARMING --park's unlockf--> PARKED
 *     |                          |
 *     +--------------------------+--> READY | TIMEDOUT | INTERRUPTED
 *
 * Whoever moves it from PARKED readies the G; from ARMING, nobody does:
 * park's unlockf then fails and the G runs on at once. The G takes its
 * waiters off their lists itself after the wait, under each pollfd's
 * lock, so nothing refers to its stack once it returns.
 *
 * Close while a G waits
 * ---------------------
 * Linux keeps the file of a blocked read alive when another thread closes
 * its descriptor: the read goes on, and returns when the peer sends. A
 * parked G holds no reference, so close would end the file under it. So a
 * call that found its file not ready lists itself on the pollfd (struct
 * pollcall) until it returns, parked or between tries, and close (and
 * dup2 onto it, and close_range) of a descriptor with such calls first
 * duplicates it, among gpm's own high numbers: the calls (and their
 * waiters) move to the duplicate, go on there, and the last of them closes
 * it. The program cannot see or close it (gpm_netfd_isown), as natively
 * the file has no number. A call interrupted by a handler leaves the list
 * first (a handler may longjmp, a cancellation unwinds); if it goes on
 * (SA_RESTART), it starts again from the number, as the kernel's restart
 * does.
 *
 * The scheduler's side (sched.c)
 * ------------------------------
 *   - findrunnable polls without waiting (netpoll(0)) when it finds no
 *     work, before it steals; the last M to go idle blocks in epoll_wait
 *     until the earliest timer, instead of on its futex (claim/unclaim;
 *     gpm_wake_timerm breaks it for an earlier timer);
 *   - sysmon polls when nobody has for 10 ms (every P busy computing);
 *   - the Gs an event readies are injected in one batch: onto the
 *     global queue, with an M started per idle P.
 * A wake-up for the blocked M is a write to an eventfd in the epoll set.
 * gpm's two descriptors sit high (at least 1000, or near the soft
 * RLIMIT_NOFILE), are close-on-exec, and are invisible to the program:
 * close of them says EBADF, dup2 onto them moves them away first.
 * A forked child gets a poller of its own on first use.
 *
 * Moving a descriptor that high grows the process's descriptor table,
 * and the kernel, when it replaces the table of a process with several
 * threads, waits for an RCU grace period (expand_fdtable: about 10 ms
 * measured here), during which the G that makes the poller holds its M
 * in the kernel. So start-up, while the process has one thread, grows the
 * table once to cover gpm's descriptors (gpm_netpoll_reservefds) and
 * leaves nothing open: the table never shrinks, and the first wait then
 * costs microseconds. (Found with GPM_TRACE: a worker's first read of a
 * pipe ran 11 ms before it parked.)
 *
 * Who uses the poller
 * -------------------
 * Ordinary Gs, once signals are routed (from the program's second thread
 * on): a single-threaded program, a wired G and a foreign thread keep
 * blocking their kernel thread, where the kernel delivers their signals.
 * GPM_NETPOLL=0 turns the poller off: every call keeps entersyscall.
 *
 * Lock order: a G's sig.lock (an interrupter), then a pollfd's lock; two
 * pollfd locks at once only when a close moves waiters, the closed fd's
 * then its fresh duplicate's. The poller holds one at a time and readies
 * Gs after releasing it. Timer functions and interrupters only CAS a wait's
 * state, without pollfd locks.
 */
#define _GNU_SOURCE
#include "exectrace.h"
#include "netpoll.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "env.h"
#include "gsig.h"
#include "lock.h"
#include "sys.h"
#include "timer.h"

/* ---- The pollfd table ------------------------------------------------- */

enum { PD_UNKNOWN, PD_NOTPOLL, PD_SOCKET, PD_PIPE, PD_OTHER };

struct pollwaiter;

struct pollfd_ {
    struct gpm_mutex lock;
    _Atomic uint8_t kind;
    _Atomic bool timeoknown;         /* rcvtimeo and sndtimeo are read */
    _Atomic uint32_t rseq, wseq;     /* events seen, per direction (under lock) */
    _Atomic bool registered;         /* in the epoll set (as far as gpm knows) */
    _Atomic uint32_t nbstate;        /* O_NONBLOCK as read in a flags epoch: (epoch + 1) << 1 | set */
    _Atomic int32_t holders;         /* Gs whose call goes on here after a close */
    _Atomic int32_t born;            /* forks + 1 when the program made it; 0: unknown */
    _Atomic int64_t rcvtimeo, sndtimeo; /* ns, 0: none */
    struct pollwaiter *head, *tail;  /* under lock */
    struct pollcall *calls;          /* calls that waited here and go on (under lock) */
};

/* A call that found its file not ready: it goes on with that file, not
   with the number, even if another thread closes it ("Close while a G
   waits"). On its G's stack, listed on its pollfd until the call ends. */
struct pollcall {
    struct pollcall *next, *prev;
    _Atomic(struct pollfd_ *) pd;
    int *opfd;
};

#define PD_CHUNK 4096
#define PD_NCHUNKS 1024 /* descriptors below 4 Mi */

static _Atomic(struct pollfd_ *) pdchunks[PD_NCHUNKS];

/* fd's pollfd (alloc: made if need be), or NULL. */
static struct pollfd_ *pdget(int fd, bool alloc)
{
    if (fd < 0 || fd >= PD_CHUNK * PD_NCHUNKS)
        return NULL;
    _Atomic(struct pollfd_ *) *slot = &pdchunks[fd / PD_CHUNK];
    struct pollfd_ *c = atomic_load_explicit(slot, memory_order_acquire);
    if (c == NULL) {
        if (!alloc)
            return NULL;
        size_t len = PD_CHUNK * sizeof(struct pollfd_);
        void *m = gpm_mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (gpm_mmap_failed(m))
            return NULL;
        struct pollfd_ *none = NULL;
        if (atomic_compare_exchange_strong(slot, &none, (struct pollfd_ *)m)) {
            c = m;
        } else {
            gpm_munmap(m, len);
            c = none;
        }
    }
    return &c[fd % PD_CHUNK];
}

/* Forgets what is known of the file at pd's number. */
static void pdforget(struct pollfd_ *pd)
{
    atomic_store_explicit(&pd->kind, PD_UNKNOWN, memory_order_relaxed);
    atomic_store_explicit(&pd->nbstate, 0, memory_order_relaxed);
    atomic_store_explicit(&pd->registered, false, memory_order_relaxed);
    atomic_store_explicit(&pd->timeoknown, false, memory_order_relaxed);
    atomic_store_explicit(&pd->born, 0, memory_order_relaxed);
}

static uint8_t classify(int fd, struct pollfd_ *pd)
{
    struct stat st;
    if (gpm_syscall2(SYS_fstat, fd, (long)&st) < 0)
        return PD_UNKNOWN;
    uint8_t k;
    switch (st.st_mode & S_IFMT) {
    case S_IFSOCK:
        k = PD_SOCKET;
        break;
    case S_IFIFO:
        k = PD_PIPE;
        break;
    case S_IFCHR:
    case 0: /* anonymous inodes: eventfd, timerfd, signalfd, epoll, ... */
        k = PD_OTHER;
        break;
    default:
        k = PD_NOTPOLL;
        break;
    }
    atomic_store_explicit(&pd->kind, k, memory_order_relaxed);
    return k;
}

/* ---- The poller --------------------------------------------------------- */

#define BREAKDATA UINT64_MAX

static struct {
    struct gpm_mutex initlock;
    _Atomic bool inited;
    int epfd, breakfd;
    _Atomic uint32_t breakpending;
    _Atomic int32_t nwait;        /* Gs parked on files */
    _Atomic int32_t nheld;        /* duplicates kept for calls after a close */
    _Atomic int64_t lastpoll;     /* last poll; 0 while an M blocks in one */
    _Atomic int64_t until;        /* when the blocked M wakes; 0: none blocks */
    _Atomic uint32_t flagsepoch;  /* bumped by every F_SETFL and FIONBIO */
    _Atomic bool nopipenowait;    /* the kernel refuses RWF_NOWAIT on pipes */
    _Atomic int32_t forks;        /* forks and spawns so far: a child shares file descriptions */
} np;

/* Where gpm's own descriptors go: out of the program's usual range (the
   kernel gives the lowest free number, which programs rely on). */
static long highfd(void)
{
    struct rlimit rl;
    long lo = 1000;
    if (gpm_syscall4(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, (long)&rl) == 0 && rl.rlim_cur < 1100)
        lo = rl.rlim_cur > 128 ? (long)rl.rlim_cur - 64 : 3;
    return lo;
}

static int movehigh(int fd)
{
    long nfd = gpm_syscall3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, highfd());
    if (nfd < 0)
        return fd;
    gpm_syscall1(SYS_close, fd);
    return (int)nfd;
}

void gpm_netpoll_reservefds(void)
{
    if (!gpm_config.netpoll)
        return;
    long fd = gpm_syscall2(SYS_eventfd2, 0, EFD_CLOEXEC);
    if (fd < 0)
        return;
    /* netpollinit's second descriptor goes one above the first. */
    long high = gpm_syscall3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, highfd() + 1);
    if (high >= 0)
        gpm_syscall1(SYS_close, high);
    gpm_syscall1(SYS_close, fd);
}

/* Makes the epoll instance, on the first wait. Gs that come meanwhile
   yield instead of sleeping on the lock: a thousand threads that all read
   at once must not each cost a kernel thread blocked on it (sysmon would
   take every P from under them). Runs on a G's stack. */
static bool netpollinit(void)
{
    if (atomic_load_explicit(&np.inited, memory_order_acquire))
        return true;
    for (;;) {
        uint32_t unlocked = 0;
        if (atomic_compare_exchange_strong_explicit(&np.initlock.key, &unlocked, 1, memory_order_acquire,
                                                    memory_order_relaxed))
            break;
        gpm_yield();
        if (atomic_load_explicit(&np.inited, memory_order_acquire))
            return true;
    }
    if (!atomic_load_explicit(&np.inited, memory_order_relaxed)) {
        long ep = gpm_syscall1(SYS_epoll_create1, EPOLL_CLOEXEC);
        long bf = ep < 0 ? ep : gpm_syscall2(SYS_eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (bf < 0) {
            if (ep >= 0)
                gpm_syscall1(SYS_close, ep);
        } else {
            np.epfd = movehigh((int)ep);
            np.breakfd = movehigh((int)bf);
            struct epoll_event ev = {.events = EPOLLIN, .data.u64 = BREAKDATA};
            gpm_syscall4(SYS_epoll_ctl, np.epfd, EPOLL_CTL_ADD, np.breakfd, (long)&ev);
            atomic_store(&np.lastpoll, gpm_nanotime());
            atomic_store_explicit(&np.inited, true, memory_order_release);
        }
    }
    gpm_unlock(&np.initlock);
    return atomic_load_explicit(&np.inited, memory_order_relaxed);
}

/* Adds fd to the epoll set (EEXIST is success). 0 or -errno. */
static long registerfd(int fd)
{
    if (!netpollinit())
        return -ENOMEM;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET,
                             .data.u64 = (uint64_t)fd};
    long r = gpm_syscall4(SYS_epoll_ctl, np.epfd, EPOLL_CTL_ADD, fd, (long)&ev);
    return r == -EEXIST ? 0 : r;
}

/* ---- Waits -------------------------------------------------------------- */

enum { PW_ARMING, PW_PARKED, PW_READY, PW_TIMEDOUT, PW_INTERRUPTED };

struct pollwait {
    struct gpm_g *g;
    _Atomic uint32_t state;
    struct gpm_intr intr;
    struct gpm_timer t;
};

struct pollwaiter {
    struct pollwaiter *next, *prev;
    struct pollwait *w;
    _Atomic(struct pollfd_ *) pd; /* changed (under both locks) by a close */
    int *opfd;                    /* the G's call follows its file on a close */
    uint32_t seq;                 /* pd's sequence when the G last tried */
    uint8_t dir;
    bool queued;                  /* under pd's lock */
};

#define EV_READ (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLPRI)
#define EV_WRITE (EPOLLOUT | EPOLLHUP | EPOLLERR)

static uint32_t seqof(struct pollfd_ *pd, uint8_t dir)
{
    uint32_t s = 0;
    if (dir & GPM_NETIO_READ)
        s += atomic_load(&pd->rseq);
    if (dir & GPM_NETIO_WRITE)
        s += atomic_load(&pd->wseq);
    return s;
}

/* Ends w with `why` if nothing has yet. Returns whether the G was parked,
   in which case the caller readies it. */
static bool fire(struct pollwait *w, uint32_t why)
{
    uint32_t s = atomic_load(&w->state);
    while (s == PW_ARMING || s == PW_PARKED)
        if (atomic_compare_exchange_weak(&w->state, &s, why))
            return s == PW_PARKED;
    return false;
}

static bool pollwait_unlockf(struct gpm_m *mp, struct gpm_g *gp, void *arg)
{
    (void)mp;
    (void)gp;
    struct pollwait *w = arg;
    uint32_t s = PW_ARMING;
    return atomic_compare_exchange_strong(&w->state, &s, PW_PARKED);
}

static void pollwait_timeout(struct gpm_m *mp, void *arg)
{
    struct pollwait *w = arg;
    struct gpm_g *gp = w->g;
    if (fire(w, PW_TIMEDOUT))
        gpm_ready_on(mp, gp);
}

static bool pollwait_interrupt(struct gpm_g *gp, struct gpm_intr *in)
{
    struct pollwait *w = (struct pollwait *)((char *)in - offsetof(struct pollwait, intr));
    if (!fire(w, PW_INTERRUPTED))
        return false;
    gpm_ready(gp);
    return true;
}

static void unlink_(struct pollfd_ *pd, struct pollwaiter *wt)
{
    if (wt->prev != NULL)
        wt->prev->next = wt->next;
    else
        pd->head = wt->next;
    if (wt->next != NULL)
        wt->next->prev = wt->prev;
    else
        pd->tail = wt->prev;
    wt->next = wt->prev = NULL;
    wt->queued = false;
}

static void link_(struct pollfd_ *pd, struct pollwaiter *wt)
{
    wt->next = NULL;
    wt->prev = pd->tail;
    if (pd->tail != NULL)
        pd->tail->next = wt;
    else
        pd->head = wt;
    pd->tail = wt;
    wt->queued = true;
}

/* Locks the pollfd wt is on (a close may move it). */
static struct pollfd_ *lockpd(struct pollwaiter *wt)
{
    for (;;) {
        struct pollfd_ *pd = atomic_load(&wt->pd);
        gpm_lock(&pd->lock);
        if (atomic_load(&wt->pd) == pd)
            return pd;
        gpm_unlock(&pd->lock);
    }
}

/* Queues wt unless an event came since the G's last try (false). */
static bool waiterqueue(struct pollwaiter *wt)
{
    struct pollfd_ *pd = lockpd(wt);
    bool ok = seqof(pd, wt->dir) == wt->seq;
    if (ok)
        link_(pd, wt);
    gpm_unlock(&pd->lock);
    return ok;
}

static void waiterremove(struct pollwaiter *wt)
{
    struct pollfd_ *pd = lockpd(wt);
    if (wt->queued)
        unlink_(pd, wt);
    gpm_unlock(&pd->lock);
}

/*
 * Parks the calling G on ws[0..n) until an event for one of them, the
 * deadline (0: none) or an interruption. Returns how the wait ended.
 */
static uint32_t pollpark(struct pollwaiter *ws, int n, int64_t deadline, bool cancelpoint, uint16_t reason)
{
    struct gpm_g *gp = gpm_getg();
    struct pollwait w = {.g = gp, .state = PW_ARMING};
    w.intr.fn = pollwait_interrupt;
    w.intr.cancelpoint = cancelpoint;
    if (deadline != 0) {
        if (deadline <= gpm_nanotime())
            return PW_TIMEDOUT;
        w.t = (struct gpm_timer){.when = deadline, .f = pollwait_timeout, .arg = &w};
        gpm_timer_arm(gp, &w.t);
    }
    if (!gpm_intr_begin(gp, &w.intr)) {
        if (deadline != 0)
            gpm_deltimer(&w.t);
        return PW_INTERRUPTED;
    }
    /* Counted before the first waiter is queued: an M that goes idle after
       this G parks sees it and polls. */
    atomic_fetch_add(&np.nwait, 1);
    int q = 0;
    for (; q < n; q++) {
        ws[q].w = &w;
        if (!waiterqueue(&ws[q]))
            break;
    }
    if (q == n) {
        if (GPM_TRACING()) /* the descriptor + 1: 0 is "nothing" */
            gp->waitobj = ws[0].opfd != NULL ? (uintptr_t)*ws[0].opfd + 1 : 0;
        gpm_park_timed(pollwait_unlockf, &w, reason, deadline != 0 ? &w.t : NULL);
    } else {
        fire(&w, PW_READY); /* an event came before all were queued */
    }
    for (int i = 0; i < q; i++)
        waiterremove(&ws[i]);
    atomic_fetch_sub(&np.nwait, 1);
    if (deadline != 0)
        gpm_deltimer(&w.t);
    gpm_intr_end(gp, &w.intr);
    return atomic_load(&w.state);
}

/* ---- Events ------------------------------------------------------------- */

struct glist {
    struct gpm_g *head, *tail;
    int32_t n;
};

/* An event for pd: wakes the waiters of its directions into out. */
static void pdevent(struct pollfd_ *pd, uint32_t ev, struct glist *out)
{
    uint8_t dirs = (ev & EV_READ ? GPM_NETIO_READ : 0) | (ev & EV_WRITE ? GPM_NETIO_WRITE : 0);
    gpm_lock(&pd->lock);
    /* Plain increments: every change is made under pd's lock (the lock-free
       reads in gpm_netio only take a snapshot, checked again under it). */
    if (dirs & GPM_NETIO_READ)
        atomic_store_explicit(&pd->rseq, atomic_load_explicit(&pd->rseq, memory_order_relaxed) + 1,
                              memory_order_relaxed);
    if (dirs & GPM_NETIO_WRITE)
        atomic_store_explicit(&pd->wseq, atomic_load_explicit(&pd->wseq, memory_order_relaxed) + 1,
                              memory_order_relaxed);
    int nmatch = 0;
    for (struct pollwaiter *wt = pd->head; wt != NULL; wt = wt->next)
        nmatch += (wt->dir & dirs) != 0;
    struct pollwaiter *nx;
    for (struct pollwaiter *wt = pd->head; wt != NULL && nmatch > 0; wt = nx) {
        nx = wt->next;
        if ((wt->dir & dirs) == 0)
            continue;
        unlink_(pd, wt);
        /* wt's wait is alive while wt was queued: its G takes pd's lock to
           take wt off, after any wake-up. */
        struct pollwait *w = wt->w;
        struct gpm_g *gp = w->g;
        if (fire(w, PW_READY)) {
            gpm_setgstatus(gp, G_WAITING, G_RUNNABLE); /* its one waker: fire said so */
            gp->waitreason = WAIT_NONE;
            gp->schedlink = NULL;
            if (out->tail != NULL)
                out->tail->schedlink = gp;
            else
                out->head = gp;
            out->tail = gp;
            out->n++;
        }
    }
    gpm_unlock(&pd->lock);
}

struct gpm_g *gpm_netpoll(int64_t delay, int32_t *n)
{
    *n = 0;
    if (!atomic_load_explicit(&np.inited, memory_order_acquire))
        return NULL;
    struct epoll_event evs[128];
    struct timespec ts = {delay / 1000000000, delay % 1000000000};
    /* A kernel before 5.11, or valgrind (which does not know the call and
       warns at each), answers ENOSYS: asked once. */
    static _Atomic bool nopwait2;
    long r = -ENOSYS;
    if (!atomic_load_explicit(&nopwait2, memory_order_relaxed)) {
        r = gpm_syscall6(SYS_epoll_pwait2, np.epfd, (long)evs, 128, delay < 0 ? 0 : (long)&ts, 0, 8);
        if (r == -ENOSYS)
            atomic_store_explicit(&nopwait2, true, memory_order_relaxed);
    }
    if (r == -ENOSYS) {
        long ms = delay < 0 ? -1 : (delay + 999999) / 1000000;
        r = gpm_syscall4(SYS_epoll_wait, np.epfd, (long)evs, 128, ms);
    }
    struct glist out = {0};
    for (long i = 0; i < r; i++) {
        if (evs[i].data.u64 == BREAKDATA) {
            uint64_t v;
            gpm_syscall3(SYS_read, np.breakfd, (long)&v, sizeof v);
            atomic_store(&np.breakpending, 0);
            continue;
        }
        struct pollfd_ *pd = pdget((int)evs[i].data.u64, false);
        if (pd != NULL)
            pdevent(pd, evs[i].events, &out);
    }
    *n = out.n;
    return out.head;
}

bool gpm_netpoll_waiting(void)
{
    return atomic_load(&np.nwait) > 0;
}

bool gpm_netpoll_claim(int64_t until)
{
    if (atomic_load(&np.lastpoll) == 0 || atomic_exchange(&np.lastpoll, 0) == 0)
        return false;
    atomic_store(&np.until, until);
    return true;
}

void gpm_netpoll_unclaim(int64_t now)
{
    atomic_store(&np.until, 0);
    atomic_store(&np.lastpoll, now);
}

int64_t gpm_netpoll_until(void)
{
    return atomic_load(&np.until);
}

int64_t gpm_netpoll_last(void)
{
    return atomic_load(&np.lastpoll);
}

bool gpm_netpoll_claimnb(int64_t last)
{
    return last != 0 && atomic_compare_exchange_strong(&np.lastpoll, &last, gpm_nanotime());
}

void gpm_netpoll_break(void)
{
    if (!atomic_load_explicit(&np.inited, memory_order_acquire))
        return;
    uint32_t z = 0;
    if (!atomic_compare_exchange_strong(&np.breakpending, &z, 1))
        return;
    uint64_t one = 1;
    gpm_syscall3(SYS_write, np.breakfd, (long)&one, sizeof one);
}

/* ---- Calls -------------------------------------------------------------- */

/* The G may use the poller (see "Who uses the poller"). */
static bool pollable_g(struct gpm_g *gp)
{
    return gp != NULL && gp->m != NULL && gp->kind != G_KIND_FOREIGN && gp->lockedm == NULL &&
           gpm_config.netpoll && gpm_sigrouting();
}

/* What is known of O_NONBLOCK on fd's file: 1 set, 0 clear, -1 nothing. */
static int nbcached(struct pollfd_ *pd)
{
    uint32_t e = (atomic_load_explicit(&np.flagsepoch, memory_order_relaxed) + 1) << 1;
    uint32_t st = atomic_load_explicit(&pd->nbstate, memory_order_relaxed);
    return (st & ~1u) == e ? (int)(st & 1) : -1;
}

/*
 * Whether the program made fd's file non-blocking, before a G parks.
 * F_GETFL, kept until some status flags change anywhere in the process (one
 * file description may have several numbers, so F_SETFL on one changes the
 * others). Another process sharing the description may change it too: a
 * kept "blocking" is trusted only for a file this process made since its
 * last fork or spawn; other files are asked at every park. A kept
 * "non-blocking" that went stale costs nothing worse than a call that
 * blocks outside gpm until sysmon revokes its P (nonblockingattempt).
 */
static bool nonblocking(struct pollfd_ *pd, int fd)
{
    uint32_t e = (atomic_load(&np.flagsepoch) + 1) << 1;
    uint32_t st = atomic_load_explicit(&pd->nbstate, memory_order_relaxed);
    bool ours = atomic_load_explicit(&pd->born, memory_order_relaxed) == atomic_load(&np.forks) + 1;
    if ((st & ~1u) == e && ((st & 1) || ours))
        return st & 1;
    long fl = gpm_syscall2(SYS_fcntl, fd, F_GETFL);
    if (fl < 0)
        return false; /* closed meanwhile: the call will say EBADF */
    bool nb = (fl & O_NONBLOCK) != 0;
    atomic_store_explicit(&pd->nbstate, e | nb, memory_order_relaxed);
    return nb;
}

static int64_t tvns(const struct timeval *tv)
{
    return (int64_t)tv->tv_sec * 1000000000 + (int64_t)tv->tv_usec * 1000;
}

/* The deadline SO_RCVTIMEO or SO_SNDTIMEO gives a call starting now. */
static int64_t sockdeadline(struct pollfd_ *pd, int fd, uint8_t dir)
{
    if (!atomic_load(&pd->timeoknown)) {
        struct timeval tv = {0};
        socklen_t len = sizeof tv;
        int64_t r = 0, w = 0;
        if (gpm_syscall6(SYS_getsockopt, fd, SOL_SOCKET, SO_RCVTIMEO, (long)&tv, (long)&len, 0) == 0)
            r = tvns(&tv);
        len = sizeof tv;
        tv = (struct timeval){0};
        if (gpm_syscall6(SYS_getsockopt, fd, SOL_SOCKET, SO_SNDTIMEO, (long)&tv, (long)&len, 0) == 0)
            w = tvns(&tv);
        atomic_store(&pd->rcvtimeo, r);
        atomic_store(&pd->sndtimeo, w);
        atomic_store(&pd->timeoknown, true);
    }
    int64_t t = atomic_load(dir == GPM_NETIO_READ ? &pd->rcvtimeo : &pd->sndtimeo);
    return t > 0 ? gpm_nanotime() + t : 0;
}

/* The blocking form of the call, as every other wrapped call. */
static long blockingattempt(struct gpm_netop *op, int fd)
{
    gpm_entersyscall();
    long r = op->attempt(op, fd, GPM_NETIO_BLOCK);
    gpm_exitsyscall();
    gpm_afterwrapped();
    return r;
}

/*
 * The call on a file the program made non-blocking: it cannot block, so it
 * is made without entersyscall, as the program's own code (Go makes the
 * same bet with its non-blocking descriptors). If another process made the
 * shared file blocking again behind the cache's back, the call blocks with
 * the P in P_USER, and sysmon revokes the P from the sleeping M as from any
 * code that sleeps outside gpm ("sysmon: retake, revoke, preempt").
 */
static long nonblockingattempt(struct gpm_netop *op, int fd)
{
    long r = op->attempt(op, fd, GPM_NETIO_BLOCK);
    gpm_afterwrapped();
    gpm_preemptpoint();
    return r;
}

bool gpm_netio_isnonblocking(int fd)
{
    /* Any G of an M: the call does not park, so neither the poller nor
       signal routing is needed (pollable_g). */
    struct gpm_g *gp = gpm_getg();
    if (gp == NULL || gp->m == NULL || gp->kind == G_KIND_FOREIGN || (unsigned)fd >= PD_CHUNK * PD_NCHUNKS)
        return false;
    struct pollfd_ *c = atomic_load_explicit(&pdchunks[fd / PD_CHUNK], memory_order_acquire);
    if (c == NULL)
        return false;
    struct pollfd_ *pd = &c[fd % PD_CHUNK];
    uint8_t kind = atomic_load_explicit(&pd->kind, memory_order_relaxed);
    return kind != PD_UNKNOWN && kind != PD_NOTPOLL && nbcached(pd) == 1;
}

/* After an interrupted wait: runs the handlers, acts on a cancellation.
   Returns whether the call must return EINTR. */
static bool interrupted(struct gpm_g *gp, struct gpm_netop *op, bool timeo)
{
    if (op->cancelpoint)
        gpm_testcancel();
    int d = gpm_sigdeliver_restart(gp);
    /* Without a handler run (a cancellation that is disabled, a signal
       that went elsewhere), the call simply goes on. */
    return d == GPM_SIGRAN_NORESTART || (d == GPM_SIGRAN_RESTART && (op->norestart || timeo));
}

/* A G's call went on on a duplicate after a close: the last one out
   closes it. */
static void unhold(int fd)
{
    struct pollfd_ *pd = pdget(fd, false);
    if (atomic_fetch_sub(&pd->holders, 1) != 1)
        return;
    pdforget(pd);
    atomic_fetch_sub(&np.nheld, 1);
    gpm_syscall1(SYS_close, fd);
}

/* Lists call on pd: from now on a close hands it the file. */
static void enroll(struct pollcall *call, struct pollfd_ *pd, int *opfd)
{
    call->opfd = opfd;
    atomic_store_explicit(&call->pd, pd, memory_order_relaxed);
    gpm_lock(&pd->lock);
    call->prev = NULL;
    call->next = pd->calls;
    if (pd->calls != NULL)
        pd->calls->prev = call;
    pd->calls = call;
    gpm_unlock(&pd->lock);
}

/* Takes call off its pollfd; if a close handed it a duplicate, lets go of
   that. Returns the number the call began with. */
static int leave(struct pollcall *call, int fd)
{
    struct pollfd_ *pd;
    for (;;) {
        pd = atomic_load(&call->pd);
        gpm_lock(&pd->lock);
        if (atomic_load(&call->pd) == pd)
            break;
        gpm_unlock(&pd->lock);
    }
    if (call->prev != NULL)
        call->prev->next = call->next;
    else
        pd->calls = call->next;
    if (call->next != NULL)
        call->next->prev = call->prev;
    gpm_unlock(&pd->lock);
    if (*call->opfd != fd)
        unhold(*call->opfd);
    return fd;
}

long gpm_netio(int fd, struct gpm_netop *op)
{
    struct gpm_g *gp = gpm_getg();
    if (!pollable_g(gp))
        return GPM_NETIO_FALLBACK;
    struct pollfd_ *pd = pdget(fd, true);
    if (pd == NULL)
        return GPM_NETIO_FALLBACK;
    uint8_t kind = atomic_load_explicit(&pd->kind, memory_order_relaxed);
    if (kind == PD_UNKNOWN)
        kind = classify(fd, pd);
    if (kind == PD_UNKNOWN || kind == PD_NOTPOLL)
        return GPM_NETIO_FALLBACK;
    /* A file the program made non-blocking: its own call is all there is
       to do. */
    if (op->datacall && nbcached(pd) == 1)
        return nonblockingattempt(op, fd);
    int how = GPM_NETIO_BLOCK;
    if (op->anynowait || (kind == PD_SOCKET && op->socknowait))
        how = GPM_NETIO_SOCKNOWAIT;
    else if (kind == PD_PIPE && op->filenowait && !atomic_load_explicit(&np.nopipenowait, memory_order_relaxed))
        how = GPM_NETIO_FILENOWAIT;
    int opfd = fd;
    int64_t deadline = op->deadline;
    long ontimeout = op->ontimeout;
    bool timeo = false, timeoread = false, enrolled = false;
    struct pollcall call;
    long r = 0;
    for (;;) {
        uint32_t seq = seqof(pd, op->dir);
        if (how != GPM_NETIO_BLOCK) {
            r = op->attempt(op, opfd, how);
            if ((r == -EOPNOTSUPP || r == -EINVAL) && how == GPM_NETIO_FILENOWAIT) {
                /* A kernel without RWF_NOWAIT on pipes: readiness first. */
                atomic_store(&np.nopipenowait, true);
                how = GPM_NETIO_BLOCK;
                continue;
            }
            if (r == -ENOTSOCK && kind == PD_SOCKET && opfd == fd && !op->moved) {
                pdforget(pd); /* a stale kind: the file is another now */
                r = GPM_NETIO_FALLBACK;
                break;
            }
            if (r != -EAGAIN && r != -EWOULDBLOCK)
                break;
        } else {
            struct pollfd pf = {.fd = opfd, .events = op->dir == GPM_NETIO_READ ? POLLIN : POLLOUT};
            /* -EINTR: a signal is pending (perhaps a poke of gpm's), which
               a zero-timeout poll reports instead of "not ready". */
            long pr = gpm_syscall3(SYS_poll, (long)&pf, 1, 0);
            if (pr != 0 && pr != -EINTR) {
                r = blockingattempt(op, opfd); /* ready, or an error the call reports */
                break;
            }
        }
        /* The call would block. */
        if (op->datacall && nonblocking(pd, opfd)) {
            if (how == GPM_NETIO_BLOCK)
                r = op->attempt(op, opfd, GPM_NETIO_BLOCK); /* the program's own EAGAIN */
            break;
        }
        if ((op->datacall || op->sotimeo) && kind == PD_SOCKET && !timeoread) {
            timeoread = true;
            int64_t d = sockdeadline(pd, opfd, op->dir);
            if (d != 0) {
                deadline = d;
                ontimeout = op->datacall ? -EAGAIN : op->ontimeout;
                timeo = true;
            }
        }
        long rr = atomic_load_explicit(&pd->registered, memory_order_relaxed) ? 0 : registerfd(opfd);
        if (rr == 0)
            atomic_store_explicit(&pd->registered, true, memory_order_relaxed);
        if (rr != 0) {
            if (rr == -EPERM)
                atomic_store_explicit(&pd->kind, PD_NOTPOLL, memory_order_relaxed);
            r = opfd == fd && !op->moved ? GPM_NETIO_FALLBACK : blockingattempt(op, opfd);
            break;
        }
        if (!enrolled) {
            /* From here the call has its file: as a blocked kernel call,
               it keeps it if another thread closes the number. */
            enroll(&call, pd, &opfd);
            enrolled = true;
        }
        struct pollwaiter wt = {.pd = pd, .opfd = &opfd, .seq = seq, .dir = op->dir};
        uint32_t st = pollpark(&wt, 1, deadline, op->cancelpoint, op->reason);
        pd = atomic_load(&wt.pd);
        if (st == PW_TIMEDOUT) {
            r = ontimeout;
            break;
        }
        if (st == PW_INTERRUPTED) {
            /* Handlers may longjmp, a cancellation unwinds: neither may
               find the call listed. A call the kernel restarts looks the
               number up again, so one that goes on starts afresh too. */
            opfd = leave(&call, fd);
            enrolled = false;
            pd = pdget(fd, true);
            if (interrupted(gp, op, timeo) || op->moved) {
                r = -EINTR; /* after a partial send: what was sent */
                break;
            }
        }
    }
    if (enrolled)
        leave(&call, fd);
    return r;
}

long gpm_netio_many(const int *fds, const uint8_t *dirs, int n, struct gpm_netop *op)
{
    struct gpm_g *gp = gpm_getg();
    if (!pollable_g(gp) || n > GPM_NETIO_MANY_MAX)
        return GPM_NETIO_FALLBACK;
    struct pollwaiter ws[GPM_NETIO_MANY_MAX];
    int wfd[GPM_NETIO_MANY_MAX];
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (fds[i] < 0 || dirs[i] == 0)
            continue;
        struct pollfd_ *pd = pdget(fds[i], true);
        if (pd == NULL)
            return GPM_NETIO_FALLBACK;
        wfd[m] = fds[i];
        ws[m++] = (struct pollwaiter){.pd = pd, .dir = dirs[i]};
    }
    for (;;) {
        for (int i = 0; i < m; i++)
            ws[i].seq = seqof(atomic_load(&ws[i].pd), ws[i].dir);
        long r = op->attempt(op, -1, GPM_NETIO_SOCKNOWAIT);
        if (r != 0 || op->deadline == -1)
            return r;
        /* Nothing ready. A file epoll refuses is one poll reports always
           ready, so it cannot be among these; any refusal, and the call
           waits the old way. */
        for (int i = 0; i < m; i++) {
            struct pollfd_ *pd = atomic_load(&ws[i].pd);
            if (atomic_load_explicit(&pd->registered, memory_order_relaxed))
                continue;
            if (registerfd(wfd[i]) != 0)
                return GPM_NETIO_FALLBACK;
            atomic_store_explicit(&pd->registered, true, memory_order_relaxed);
        }
        uint32_t st = pollpark(ws, m, op->deadline, op->cancelpoint, op->reason);
        if (st == PW_TIMEDOUT)
            return op->ontimeout;
        if (st == PW_INTERRUPTED && interrupted(gp, op, false))
            return -EINTR;
    }
}

/* ---- The program's descriptors ------------------------------------------ */

bool gpm_netfd_isown(int fd)
{
    if (atomic_load_explicit(&np.inited, memory_order_acquire) && (fd == np.epfd || fd == np.breakfd))
        return true;
    if (atomic_load_explicit(&np.nheld, memory_order_relaxed) == 0)
        return false;
    struct pollfd_ *pd = pdget(fd, false);
    return pd != NULL && atomic_load(&pd->holders) > 0;
}

int gpm_netfd_ownin(unsigned lo, unsigned hi, int *out, int max)
{
    int n = 0;
    if (!atomic_load_explicit(&np.inited, memory_order_acquire))
        return 0;
    int fixed[2] = {np.epfd, np.breakfd};
    for (int i = 0; i < 2 && n < max; i++)
        if ((unsigned)fixed[i] >= lo && (unsigned)fixed[i] <= hi)
            out[n++] = fixed[i];
    if (atomic_load(&np.nheld) > 0) {
        for (unsigned c = lo / PD_CHUNK; c < PD_NCHUNKS && c <= hi / PD_CHUNK && n < max; c++) {
            struct pollfd_ *chunk = atomic_load_explicit(&pdchunks[c], memory_order_acquire);
            for (unsigned i = 0; chunk != NULL && i < PD_CHUNK && n < max; i++) {
                unsigned fd = c * PD_CHUNK + i;
                if (fd >= lo && fd <= hi && atomic_load_explicit(&chunk[i].holders, memory_order_relaxed) > 0)
                    out[n++] = (int)fd;
            }
        }
    }
    for (int i = 1; i < n; i++) /* a handful: insertion sort */
        for (int j = i; j > 0 && out[j - 1] > out[j]; j--) {
            int t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

/* fd is closing: its waiters that follow their file move to a duplicate. */
static void handover(int fd, struct pollfd_ *pd)
{
    gpm_lock(&pd->lock);
    if (pd->calls == NULL) {
        gpm_unlock(&pd->lock);
        return;
    }
    long nfd = gpm_syscall3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, highfd());
    struct pollfd_ *npd = nfd >= 0 ? pdget((int)nfd, true) : NULL;
    if (npd == NULL || registerfd((int)nfd) != 0) {
        /* No duplicate: the waiters keep waiting on the number, as a
           program's poll does. */
        if (nfd >= 0)
            gpm_syscall1(SYS_close, nfd);
        gpm_unlock(&pd->lock);
        return;
    }
    atomic_store_explicit(&npd->kind, atomic_load_explicit(&pd->kind, memory_order_relaxed), memory_order_relaxed);
    atomic_store_explicit(&npd->registered, true, memory_order_relaxed);
    gpm_lock(&npd->lock);
    struct pollwaiter *nx;
    for (struct pollwaiter *wt = pd->head; wt != NULL; wt = nx) {
        nx = wt->next;
        if (wt->opfd == NULL)
            continue; /* poll and select look the number up again, as the kernel's */
        unlink_(pd, wt);
        link_(npd, wt);
        atomic_store(&wt->pd, npd);
    }
    int32_t moved = 0;
    struct pollcall *cnx;
    for (struct pollcall *c = pd->calls; c != NULL; c = cnx) {
        cnx = c->next;
        c->prev = NULL;
        c->next = npd->calls;
        if (npd->calls != NULL)
            npd->calls->prev = c;
        npd->calls = c;
        atomic_store(&c->pd, npd);
        *c->opfd = (int)nfd;
        moved++;
    }
    pd->calls = NULL;
    if (atomic_fetch_add(&npd->holders, moved) == 0)
        atomic_fetch_add(&np.nheld, 1);
    gpm_unlock(&npd->lock);
    gpm_unlock(&pd->lock);
}

bool gpm_netfd_closing(int fd)
{
    if (gpm_netfd_isown(fd))
        return false;
    struct pollfd_ *pd = pdget(fd, false);
    if (pd == NULL)
        return true;
    pdforget(pd);
    if (__atomic_load_n(&pd->calls, __ATOMIC_RELAXED) != NULL)
        handover(fd, pd);
    return true;
}

void gpm_netfd_closingrange(unsigned lo, unsigned hi)
{
    for (unsigned c = lo / PD_CHUNK; c < PD_NCHUNKS && c <= hi / PD_CHUNK; c++) {
        struct pollfd_ *chunk = atomic_load_explicit(&pdchunks[c], memory_order_acquire);
        if (chunk == NULL)
            continue;
        for (unsigned i = 0; i < PD_CHUNK; i++) {
            unsigned fd = c * PD_CHUNK + i;
            if (fd < lo || fd > hi || gpm_netfd_isown((int)fd))
                continue;
            pdforget(&chunk[i]);
            if (__atomic_load_n(&chunk[i].calls, __ATOMIC_RELAXED) != NULL)
                handover((int)fd, &chunk[i]);
        }
    }
}

bool gpm_netfd_replacing(int newfd)
{
    if (atomic_load_explicit(&np.inited, memory_order_acquire) && (newfd == np.epfd || newfd == np.breakfd)) {
        /* Ours moves away; an M blocked on the old number keeps the same
           epoll instance (its file lives on under the new number). */
        gpm_lock(&np.initlock);
        int *own = newfd == np.epfd ? &np.epfd : &np.breakfd;
        long nfd = gpm_syscall3(SYS_fcntl, newfd, F_DUPFD_CLOEXEC, newfd + 1);
        if (nfd >= 0)
            __atomic_store_n(own, (int)nfd, __ATOMIC_RELEASE);
        gpm_unlock(&np.initlock);
        return nfd >= 0;
    }
    if (gpm_netfd_isown(newfd))
        return false;
    return gpm_netfd_closing(newfd);
}

void gpm_netfd_newsocket(int fd, bool nonblocking_, int parent)
{
    struct pollfd_ *pd = pdget(fd, true);
    if (pd == NULL)
        return;
    pdforget(pd);
    /* The kernel copies a listener's socket options, the timeouts among
       them, into every socket accept makes from it. */
    struct pollfd_ *ppd = parent >= 0 ? pdget(parent, false) : NULL;
    if (parent < 0 || (ppd != NULL && atomic_load(&ppd->timeoknown))) {
        atomic_store(&pd->rcvtimeo, ppd != NULL ? atomic_load(&ppd->rcvtimeo) : 0);
        atomic_store(&pd->sndtimeo, ppd != NULL ? atomic_load(&ppd->sndtimeo) : 0);
        atomic_store(&pd->timeoknown, true);
    }
    atomic_store_explicit(&pd->kind, PD_SOCKET, memory_order_relaxed);
    atomic_store_explicit(&pd->born, atomic_load(&np.forks) + 1, memory_order_relaxed);
    atomic_store_explicit(&pd->nbstate, ((atomic_load(&np.flagsepoch) + 1) << 1) | nonblocking_,
                          memory_order_relaxed);
}

void gpm_netfd_new(int fd)
{
    struct pollfd_ *pd = pdget(fd, true);
    if (pd == NULL)
        return;
    pdforget(pd);
    atomic_store_explicit(&pd->born, atomic_load(&np.forks) + 1, memory_order_relaxed);
}

bool gpm_netfd_private(int fd)
{
    struct pollfd_ *pd = pdget(fd, false);
    return pd != NULL && atomic_load_explicit(&pd->kind, memory_order_relaxed) == PD_SOCKET &&
           atomic_load_explicit(&pd->born, memory_order_relaxed) == atomic_load(&np.forks) + 1;
}

void gpm_netfd_sharing(void)
{
    atomic_fetch_add(&np.forks, 1);
}

void gpm_netfd_flagschanged(void)
{
    atomic_fetch_add(&np.flagsepoch, 1);
}

void gpm_netfd_timeochanged(int fd)
{
    struct pollfd_ *pd = pdget(fd, false);
    if (pd != NULL)
        atomic_store(&pd->timeoknown, false);
}

/* ---- fork ----------------------------------------------------------------- */

void gpm_netpoll_forkchild(void)
{
    /* The parent's Gs are not here: no waiter, no duplicate held for one.
       The epoll instance is the parent's too: the child makes its own. */
    for (unsigned c = 0; c < PD_NCHUNKS; c++) {
        struct pollfd_ *chunk = atomic_load_explicit(&pdchunks[c], memory_order_relaxed);
        if (chunk == NULL)
            continue;
        for (unsigned i = 0; i < PD_CHUNK; i++) {
            struct pollfd_ *pd = &chunk[i];
            pd->lock = (struct gpm_mutex)GPM_MUTEX_INIT;
            pd->head = pd->tail = NULL;
            pd->calls = NULL;
            atomic_store_explicit(&pd->registered, false, memory_order_relaxed); /* a new epoll set */
            if (atomic_load(&pd->holders) > 0) {
                atomic_store(&pd->holders, 0);
                pdforget(pd);
                gpm_syscall1(SYS_close, c * PD_CHUNK + i);
            }
        }
    }
    if (atomic_load(&np.inited)) {
        gpm_syscall1(SYS_close, np.epfd);
        gpm_syscall1(SYS_close, np.breakfd);
    }
    np.initlock = (struct gpm_mutex)GPM_MUTEX_INIT;
    atomic_store(&np.inited, false);
    atomic_store(&np.breakpending, 0);
    atomic_store(&np.nwait, 0);
    atomic_store(&np.nheld, 0);
    atomic_store(&np.lastpoll, 0);
    atomic_store(&np.until, 0);
}
