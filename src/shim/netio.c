/*
 * src/shim/netio.c: blocking calls on files that may be pollable
 * (GPM_NETIO_CALLS in compat/libc_real.h), and what the program does to
 * its descriptors.
 *
 * Each call describes itself to the poller (struct gpm_netop in
 * src/core/netpoll.h: its non-blocking form, what it waits for, its
 * timeout) and lets it run the call: the G parks while the call would
 * block ("The program's view must not change" in src/core/netpoll.c). When
 * the poller says the file is not for it, the call runs the old way,
 * between entersyscall and exitsyscall, as src/shim/syscall.c does.
 * Results, errno and partial transfers are the kernel's:
 *   - a blocking send of a stream socket sends everything unless a signal,
 *     a timeout or an error stops it, when it returns what was sent;
 *   - recv with MSG_WAITALL, recvmmsg without MSG_WAITFORONE, and calls
 *     with a signal mask (ppoll, pselect, epoll_pwait) keep the old way,
 *     which the kernel gets right by itself;
 *   - poll, select and epoll_wait with a zero timeout, and calls with
 *     MSG_DONTWAIT, cannot block: they go straight to libc.
 * Descriptors: close, dup2, dup3, close_range and closefrom keep gpm's own
 * descriptors out of the program's reach and let a G blocked on a closed
 * descriptor go on with its file; socket, socketpair, accept, setsockopt,
 * fcntl(F_SETFL) and ioctl(FIONBIO) tell the poller what they changed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../core/gsig.h"
#include "../core/netpoll.h"
#include "../core/sys.h"
#include "../core/timer.h"
#include "shim.h"

/* The old way: entersyscall around libc's own. */
#define OLDWAY(call)                  \
    ({                                \
        gpm_entersyscall();           \
        __typeof__(call) r_ = (call); \
        gpm_exitsyscall();            \
        gpm_afterwrapped();           \
        r_;                           \
    })

/*
 * A data call on a descriptor the program made non-blocking is the
 * system call and no more (gpm_netio_isnonblocking): made here directly,
 * a cancellation point as libc's is (a pending cancellation is acted on
 * before it), and returned from the caller. libc's own wrapper would
 * switch glibc's asynchronous cancellation on and off around it, two
 * locked instructions that gpm's cancellation does not use.
 */
#define NONBLOCKING(fd, nr, a, b, c, d, e, f)                                                   \
    do {                                                                                        \
        if (gpm_netio_isnonblocking(fd)) {                                                      \
            gpm_testcancel_pending();                                                           \
            long r_ = gpm_syscall6((nr), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), \
                                   (long)(f));                                                  \
            if (r_ < 0) {                                                                       \
                errno = (int)-r_;                                                               \
                r_ = -1;                                                                        \
            }                                                                                   \
            gpm_afterwrapped_keeperrno();                                                       \
            gpm_preemptpoint();                                                                 \
            return r_;                                                                          \
        }                                                                                       \
    } while (0)

/* A socket's receive and send in their non-blocking forms, as the bare
   system calls: they cannot block, so libc's wrappers (which switch
   glibc's asynchronous cancellation on and off around the call) add
   nothing. The result or -errno, as the poller's. */
static inline long recvfrom_nowait(int fd, void *buf, size_t n, int flags, struct sockaddr *addr, socklen_t *alen)
{
    return gpm_syscall6(SYS_recvfrom, fd, (long)buf, (long)n, flags | MSG_DONTWAIT, (long)addr, (long)alen);
}

static inline long sendto_nowait(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr,
                                 socklen_t alen)
{
    return gpm_syscall6(SYS_sendto, fd, (long)buf, (long)n, flags | MSG_DONTWAIT, (long)addr, (long)alen);
}

/* A libc result as the poller's (-errno). */
static inline long neg(long r)
{
    return r < 0 ? -errno : r;
}

/* The poller's result as libc's. Handlers that ran after the call keep
   errno, so it is set last. */
static inline long result(long r)
{
    gpm_afterwrapped();
    if (r < 0) {
        errno = (int)-r;
        return -1;
    }
    return r;
}

/* Runs op on fd through the poller, or else oldcall the old way. */
#define NETIO(fd, op, oldcall)                                           \
    ({                                                                   \
        long n_ = gpm_netio((fd), (op));                                 \
        n_ == GPM_NETIO_FALLBACK ? (long)OLDWAY(oldcall) : result(n_);  \
    })

/* A call that moves data and may wait for dir. */
#define DATAOP(fn, d)                                                                                   \
    (struct gpm_netop)                                                                                  \
    {                                                                                                   \
        .attempt = (fn), .dir = (d), .socknowait = true, .datacall = true, .cancelpoint = true,        \
        .reason = WAIT_IO                                                                               \
    }

/* ---- Reading ------------------------------------------------------------ */

struct rd {
    struct gpm_netop op;
    void *buf;
    size_t n;
    int flags;
    struct sockaddr *addr;
    socklen_t *alen;
    struct msghdr *msg;
    const struct iovec *iov;
    int iovcnt;
    struct mmsghdr *vec;
    unsigned vlen;
    struct timespec *tmo;
};

static long read_attempt(struct gpm_netop *op, int fd, int how)
{
    struct rd *a = (struct rd *)op;
    if (how == GPM_NETIO_SOCKNOWAIT)
        return recvfrom_nowait(fd, a->buf, a->n, 0, NULL, NULL);
    if (how == GPM_NETIO_FILENOWAIT) {
        struct iovec v = {a->buf, a->n};
        return neg(gpm_real.preadv2(fd, &v, 1, -1, RWF_NOWAIT));
    }
    return neg(gpm_real.read(fd, a->buf, a->n));
}

GPM_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
    if (!gpm_active())
        return gpm_real.read(fd, buf, n);
    NONBLOCKING(fd, SYS_read, fd, buf, n, 0, 0, 0);
    struct rd a = {.op = DATAOP(read_attempt, GPM_NETIO_READ), .buf = buf, .n = n};
    a.op.filenowait = true;
    return NETIO(fd, &a.op, gpm_real.read(fd, buf, n));
}

static long readv_attempt(struct gpm_netop *op, int fd, int how)
{
    struct rd *a = (struct rd *)op;
    if (how == GPM_NETIO_BLOCK)
        return neg(gpm_real.readv(fd, a->iov, a->iovcnt));
    if (how == GPM_NETIO_FILENOWAIT)
        return neg(gpm_real.preadv2(fd, a->iov, a->iovcnt, -1, RWF_NOWAIT));
    struct msghdr m = {.msg_iov = (struct iovec *)a->iov, .msg_iovlen = (size_t)a->iovcnt};
    return neg(gpm_real.recvmsg(fd, &m, MSG_DONTWAIT));
}

GPM_EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
    if (!gpm_active())
        return gpm_real.readv(fd, iov, iovcnt);
    NONBLOCKING(fd, SYS_readv, fd, iov, iovcnt, 0, 0, 0);
    struct rd a = {.op = DATAOP(readv_attempt, GPM_NETIO_READ), .iov = iov, .iovcnt = iovcnt};
    a.op.filenowait = true;
    return NETIO(fd, &a.op, gpm_real.readv(fd, iov, iovcnt));
}

static long recvfrom_attempt(struct gpm_netop *op, int fd, int how)
{
    struct rd *a = (struct rd *)op;
    if (how != GPM_NETIO_BLOCK)
        return recvfrom_nowait(fd, a->buf, a->n, a->flags, a->addr, a->alen);
    return neg(gpm_real.recvfrom(fd, a->buf, a->n, a->flags, a->addr, a->alen));
}

/* Flags with which a receive cannot block, or must keep the old way. */
#define RECV_DIRECT (MSG_DONTWAIT | MSG_ERRQUEUE) /* the error queue never blocks */
#define RECV_OLDWAY MSG_WAITALL

GPM_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr, socklen_t *alen)
{
    if (!gpm_active() || (flags & RECV_DIRECT))
        return gpm_real.recvfrom(fd, buf, n, flags, addr, alen);
    NONBLOCKING(fd, SYS_recvfrom, fd, buf, n, flags, addr, alen);
    struct rd a = {.op = DATAOP(recvfrom_attempt, GPM_NETIO_READ), .buf = buf, .n = n, .flags = flags,
                   .addr = addr, .alen = alen};
    if (flags & RECV_OLDWAY)
        return OLDWAY(gpm_real.recvfrom(fd, buf, n, flags, addr, alen));
    return NETIO(fd, &a.op, gpm_real.recvfrom(fd, buf, n, flags, addr, alen));
}

GPM_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    return recvfrom(fd, buf, n, flags, NULL, NULL);
}

static long recvmsg_attempt(struct gpm_netop *op, int fd, int how)
{
    struct rd *a = (struct rd *)op;
    return neg(gpm_real.recvmsg(fd, a->msg, a->flags | (how ? MSG_DONTWAIT : 0)));
}

GPM_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    if (!gpm_active() || (flags & RECV_DIRECT))
        return gpm_real.recvmsg(fd, msg, flags);
    NONBLOCKING(fd, SYS_recvmsg, fd, msg, flags, 0, 0, 0);
    struct rd a = {.op = DATAOP(recvmsg_attempt, GPM_NETIO_READ), .msg = msg, .flags = flags};
    if (flags & RECV_OLDWAY)
        return OLDWAY(gpm_real.recvmsg(fd, msg, flags));
    return NETIO(fd, &a.op, gpm_real.recvmsg(fd, msg, flags));
}

static long recvmmsg_attempt(struct gpm_netop *op, int fd, int how)
{
    struct rd *a = (struct rd *)op;
    return neg(gpm_real.recvmmsg(fd, a->vec, a->vlen, a->flags | (how ? MSG_DONTWAIT : 0), a->tmo));
}

/* Without MSG_WAITFORONE a blocking recvmmsg waits for all vlen messages:
   the old way. */
GPM_EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned vlen, int flags, struct timespec *tmo)
{
    if (!gpm_active() || (flags & RECV_DIRECT))
        return gpm_real.recvmmsg(fd, vec, vlen, flags, tmo);
    struct rd a = {.op = DATAOP(recvmmsg_attempt, GPM_NETIO_READ), .vec = vec, .vlen = vlen, .flags = flags,
                   .tmo = tmo};
    long r = !(flags & MSG_WAITFORONE) ? GPM_NETIO_FALLBACK : gpm_netio(fd, &a.op);
    if (r == GPM_NETIO_FALLBACK)
        return OLDWAY(gpm_real.recvmmsg(fd, vec, vlen, flags, tmo));
    return (int)result(r);
}

/* ---- Writing ------------------------------------------------------------ */

/* Stream sockets take part of a non-blocking send: the call goes on with
   the rest, counting in done, as the kernel's blocking send does. */
struct wr {
    struct gpm_netop op;
    const char *buf;
    size_t n, done;
    int flags;
    const struct sockaddr *addr;
    socklen_t alen;
    const struct iovec *iov;
    int iovcnt;
    const struct msghdr *msg;
    struct mmsghdr *vec;
    unsigned vlen;
};

/* The partial count when a send that moved some bytes then fails. */
static long wrresult(struct wr *a, long r)
{
    if (r < 0 && r != GPM_NETIO_FALLBACK && a->done > 0)
        r = (long)a->done;
    return result(r);
}

static long write_attempt(struct gpm_netop *op, int fd, int how)
{
    struct wr *a = (struct wr *)op;
    for (;;) {
        long r;
        if (how == GPM_NETIO_SOCKNOWAIT) {
            r = sendto_nowait(fd, a->buf + a->done, a->n - a->done, 0, NULL, 0);
        } else if (how == GPM_NETIO_FILENOWAIT) {
            struct iovec v = {(void *)(a->buf + a->done), a->n - a->done};
            r = neg(gpm_real.pwritev2(fd, &v, 1, -1, RWF_NOWAIT));
        } else {
            r = neg(gpm_real.write(fd, a->buf + a->done, a->n - a->done));
        }
        if (r < 0)
            return r;
        a->done += (size_t)r;
        op->moved = a->done > 0;
        if (how == GPM_NETIO_BLOCK || a->done >= a->n || r == 0)
            return (long)a->done;
    }
}

GPM_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
    if (!gpm_active())
        return gpm_real.write(fd, buf, n);
    NONBLOCKING(fd, SYS_write, fd, buf, n, 0, 0, 0);
    struct wr a = {.op = DATAOP(write_attempt, GPM_NETIO_WRITE), .buf = buf, .n = n};
    a.op.filenowait = true;
    long r = gpm_netio(fd, &a.op);
    if (r == GPM_NETIO_FALLBACK) {
        if (a.done == 0)
            return OLDWAY(gpm_real.write(fd, buf, n));
        ssize_t w = OLDWAY(gpm_real.write(fd, (const char *)buf + a.done, n - a.done));
        return w < 0 ? (ssize_t)a.done : (ssize_t)a.done + w;
    }
    return wrresult(&a, r);
}

static long sendto_attempt(struct gpm_netop *op, int fd, int how)
{
    struct wr *a = (struct wr *)op;
    for (;;) {
        long r = how != GPM_NETIO_BLOCK
                     ? sendto_nowait(fd, a->buf + a->done, a->n - a->done, a->flags, a->addr, a->alen)
                     : neg(gpm_real.sendto(fd, a->buf + a->done, a->n - a->done, a->flags, a->addr, a->alen));
        if (r < 0)
            return r;
        a->done += (size_t)r;
        op->moved = a->done > 0;
        if (how == GPM_NETIO_BLOCK || a->done >= a->n || r == 0)
            return (long)a->done;
    }
}

GPM_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr, socklen_t alen)
{
    if (!gpm_active() || (flags & MSG_DONTWAIT))
        return gpm_real.sendto(fd, buf, n, flags, addr, alen);
    NONBLOCKING(fd, SYS_sendto, fd, buf, n, flags, addr, alen);
    struct wr a = {.op = DATAOP(sendto_attempt, GPM_NETIO_WRITE), .buf = buf, .n = n, .flags = flags,
                   .addr = addr, .alen = alen};
    long r = gpm_netio(fd, &a.op);
    if (r == GPM_NETIO_FALLBACK) {
        if (a.done == 0)
            return OLDWAY(gpm_real.sendto(fd, buf, n, flags, addr, alen));
        ssize_t w = OLDWAY(gpm_real.sendto(fd, (const char *)buf + a.done, n - a.done, flags, addr, alen));
        return w < 0 ? (ssize_t)a.done : (ssize_t)a.done + w;
    }
    return wrresult(&a, r);
}

GPM_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    return sendto(fd, buf, n, flags, NULL, 0);
}

/* The most iovecs a send that goes on after a partial one copies; more,
   and it uses readiness first and the blocking call. */
#define IOV_COPY 64

/* iov without its first `skip` bytes, into out (IOV_COPY at most). */
static int iovskip(const struct iovec *iov, int cnt, size_t skip, struct iovec *out)
{
    int k = 0;
    for (int i = 0; i < cnt; i++) {
        if (skip >= iov[i].iov_len) {
            skip -= iov[i].iov_len;
            continue;
        }
        out[k].iov_base = (char *)iov[i].iov_base + skip;
        out[k].iov_len = iov[i].iov_len - skip;
        skip = 0;
        k++;
    }
    return k;
}

static size_t iovtotal(const struct iovec *iov, size_t cnt)
{
    size_t t = 0;
    for (size_t i = 0; i < cnt; i++)
        t += iov[i].iov_len;
    return t;
}

/* sendmsg's and writev's attempt: a->msg (a->iov for writev) from done. */
static long sendmsg_attempt(struct gpm_netop *op, int fd, int how)
{
    struct wr *a = (struct wr *)op;
    const struct iovec *iov = a->msg != NULL ? a->msg->msg_iov : a->iov;
    int cnt = a->msg != NULL ? (int)a->msg->msg_iovlen : a->iovcnt;
    for (;;) {
        struct iovec rest[IOV_COPY];
        struct msghdr m = a->msg != NULL ? *a->msg : (struct msghdr){0};
        m.msg_iov = rest;
        m.msg_iovlen = (size_t)iovskip(iov, cnt, a->done, rest);
        if (a->done > 0) {
            /* Ancillary data goes with the first part only. */
            m.msg_control = NULL;
            m.msg_controllen = 0;
        }
        ssize_t r;
        if (how == GPM_NETIO_SOCKNOWAIT)
            r = gpm_real.sendmsg(fd, &m, a->flags | MSG_DONTWAIT);
        else if (how == GPM_NETIO_FILENOWAIT)
            r = gpm_real.pwritev2(fd, rest, (int)m.msg_iovlen, -1, RWF_NOWAIT);
        else if (a->msg != NULL)
            r = gpm_real.sendmsg(fd, &m, a->flags);
        else
            r = gpm_real.writev(fd, rest, (int)m.msg_iovlen);
        if (r < 0)
            return -errno;
        a->done += (size_t)r;
        op->moved = a->done > 0;
        if (how == GPM_NETIO_BLOCK || a->done >= a->n || r == 0)
            return (long)a->done;
    }
}

GPM_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    if (!gpm_active() || (flags & MSG_DONTWAIT))
        return gpm_real.sendmsg(fd, msg, flags);
    NONBLOCKING(fd, SYS_sendmsg, fd, msg, flags, 0, 0, 0);
    struct wr a = {.op = DATAOP(sendmsg_attempt, GPM_NETIO_WRITE), .msg = msg, .flags = flags};
    long r = GPM_NETIO_FALLBACK;
    if (msg != NULL && msg->msg_iovlen <= IOV_COPY) {
        a.n = iovtotal(msg->msg_iov, msg->msg_iovlen);
        r = gpm_netio(fd, &a.op);
    }
    if (r == GPM_NETIO_FALLBACK && a.done == 0)
        return OLDWAY(gpm_real.sendmsg(fd, msg, flags));
    if (r == GPM_NETIO_FALLBACK)
        r = -EAGAIN; /* a later part: return what was sent */
    return wrresult(&a, r);
}

GPM_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    if (!gpm_active())
        return gpm_real.writev(fd, iov, iovcnt);
    NONBLOCKING(fd, SYS_writev, fd, iov, iovcnt, 0, 0, 0);
    struct wr a = {.op = DATAOP(sendmsg_attempt, GPM_NETIO_WRITE), .iov = iov, .iovcnt = iovcnt};
    a.op.filenowait = true;
    long r = GPM_NETIO_FALLBACK;
    if (iovcnt >= 0 && iovcnt <= IOV_COPY) {
        a.n = iovtotal(iov, (size_t)iovcnt);
        r = gpm_netio(fd, &a.op);
    }
    if (r == GPM_NETIO_FALLBACK && a.done == 0)
        return OLDWAY(gpm_real.writev(fd, iov, iovcnt));
    if (r == GPM_NETIO_FALLBACK)
        r = -EAGAIN;
    return wrresult(&a, r);
}

/* sendmmsg: done counts messages; a blocking one sends them all unless
   stopped, as the kernel's does. */
static long sendmmsg_attempt(struct gpm_netop *op, int fd, int how)
{
    struct wr *a = (struct wr *)op;
    for (;;) {
        int r = gpm_real.sendmmsg(fd, a->vec + a->done, a->vlen - (unsigned)a->done,
                                  a->flags | (how ? MSG_DONTWAIT : 0));
        if (r < 0)
            return -errno;
        a->done += (size_t)r;
        op->moved = a->done > 0;
        if (how == GPM_NETIO_BLOCK || a->done >= a->vlen || r == 0)
            return (long)a->done;
    }
}

GPM_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned vlen, int flags)
{
    if (!gpm_active() || (flags & MSG_DONTWAIT) || vlen == 0)
        return gpm_real.sendmmsg(fd, vec, vlen, flags);
    struct wr a = {.op = DATAOP(sendmmsg_attempt, GPM_NETIO_WRITE), .vec = vec, .vlen = vlen, .flags = flags};
    long r = gpm_netio(fd, &a.op);
    if (r == GPM_NETIO_FALLBACK && a.done == 0)
        return OLDWAY(gpm_real.sendmmsg(fd, vec, vlen, flags));
    if (r == GPM_NETIO_FALLBACK)
        r = -EAGAIN;
    return (int)wrresult(&a, r);
}

/* ---- Accepting ----------------------------------------------------------- */

struct acc {
    struct gpm_netop op;
    struct sockaddr *addr;
    socklen_t *alen;
    int flags;
};

static long accept_attempt(struct gpm_netop *op, int fd, int how)
{
    (void)how; /* accept has no non-blocking form of its own */
    struct acc *a = (struct acc *)op;
    return neg(gpm_real.accept4(fd, a->addr, a->alen, a->flags));
}

GPM_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *alen, int flags)
{
    if (!gpm_active())
        return gpm_real.accept4(fd, addr, alen, flags);
    struct acc a = {.op = DATAOP(accept_attempt, GPM_NETIO_READ), .addr = addr, .alen = alen, .flags = flags};
    a.op.socknowait = false;
    long r = gpm_netio(fd, &a.op);
    if (r == GPM_NETIO_FALLBACK)
        r = OLDWAY(gpm_real.accept4(fd, addr, alen, flags));
    else
        r = result(r);
    if (r >= 0)
        gpm_netfd_newsocket((int)r, flags & SOCK_NONBLOCK, fd);
    return (int)r;
}

GPM_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *alen)
{
    return accept4(fd, addr, alen, 0);
}

/* ---- Connecting ----------------------------------------------------------- */

static long connect_attempt(struct gpm_netop *op, int fd, int how)
{
    (void)op;
    (void)how;
    struct pollfd pf = {.fd = fd, .events = POLLOUT};
    int r = gpm_real.poll(&pf, 1, 0);
    return r == 0 || (r < 0 && errno == EINTR) ? -EAGAIN : 0;
}

/*
 * A blocking connect has no non-blocking form of its own and nothing to
 * be ready for before it starts. On a TCP socket no other process can share
 * (made by this process since its last fork or spawn: gpm_netfd_private),
 * connect runs non-blocking for the moment of the call, and the G parks
 * until the socket is writable, as Go's connect does; the flags are put
 * back before anything returns, and SO_ERROR says the outcome. A handler
 * without SA_RESTART makes it return EINTR while the connection goes on,
 * SO_SNDTIMEO makes it return EINPROGRESS, both as the kernel's. Any other
 * socket connects the old way.
 */
GPM_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t alen)
{
    if (!gpm_active())
        return gpm_real.connect(fd, addr, alen);
    /* TCP's non-blocking connect says EINPROGRESS and the socket becomes
       writable when done; a UNIX socket's says EAGAIN while the
       listener's backlog is full, and nothing on the socket tells when
       it has room: those connect the old way. */
    bool inet = addr != NULL && (addr->sa_family == AF_INET || addr->sa_family == AF_INET6);
    int fl = inet && gpm_netfd_private(fd) ? gpm_real.fcntl(fd, F_GETFL) : -1;
    if (fl < 0 || (fl & O_NONBLOCK) || gpm_real.fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
        return OLDWAY(gpm_real.connect(fd, addr, alen));
    int r = gpm_real.connect(fd, addr, alen);
    int err = errno;
    if (r == 0 || err != EINPROGRESS) {
        gpm_real.fcntl(fd, F_SETFL, fl);
        errno = err;
        return r;
    }
    struct gpm_netop op = {.attempt = connect_attempt, .dir = GPM_NETIO_WRITE, .anynowait = true, .sotimeo = true,
                           .cancelpoint = true, .ontimeout = -EINPROGRESS, .reason = WAIT_IO};
    long w = gpm_netio(fd, &op);
    gpm_real.fcntl(fd, F_SETFL, fl);
    if (w == GPM_NETIO_FALLBACK) {
        struct pollfd pf = {.fd = fd, .events = POLLOUT};
        w = OLDWAY(gpm_real.poll(&pf, 1, -1)) < 0 ? -errno : 0;
    }
    if (w < 0)
        return (int)result(w);
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return (int)result(-errno);
    return (int)result(err != 0 ? -err : 0);
}

/* ---- Waiting for readiness ---------------------------------------------- */

/* A zero timeout: the call cannot block, and goes the old way (wrapped,
   so that sysmon's preemption pokes, which go only to Ms running program
   code, never make it return EINTR). */
static bool zerots(const struct timespec *ts)
{
    return ts != NULL && ts->tv_sec == 0 && ts->tv_nsec == 0;
}

/* A deadline from a timeout in ms (< 0: none). */
static int64_t msdeadline(int ms)
{
    return ms < 0 ? 0 : gpm_nanotime() + (int64_t)ms * 1000000;
}

#define WAITOP(fn)                                                                                 \
    (struct gpm_netop)                                                                             \
    {                                                                                              \
        .attempt = (fn), .dir = GPM_NETIO_READ, .anynowait = true, .norestart = true,              \
        .cancelpoint = true, .reason = WAIT_POLL                                                   \
    }

struct pl {
    struct gpm_netop op;
    struct pollfd *f;
    nfds_t n;
};

static long poll_attempt(struct gpm_netop *op, int fd, int how)
{
    (void)fd;
    (void)how;
    struct pl *a = (struct pl *)op;
    int r = gpm_real.poll(a->f, a->n, 0);
    /* A zero-timeout poll says EINTR when a signal is pending, a poke of
       gpm's too: nothing was ready. The program's own signals end the
       wait that follows. */
    return r < 0 && errno == EINTR ? 0 : neg(r);
}

/* poll with a deadline (0: none) through the poller, or FALLBACK. */
static long pollwait(struct pollfd *f, nfds_t n, int64_t deadline)
{
    if (n > GPM_NETIO_MANY_MAX)
        return GPM_NETIO_FALLBACK;
    int fds[GPM_NETIO_MANY_MAX];
    uint8_t dirs[GPM_NETIO_MANY_MAX];
    for (nfds_t i = 0; i < n; i++) {
        fds[i] = f[i].fd;
        short ev = f[i].events;
        dirs[i] = (uint8_t)(((ev & (POLLIN | POLLPRI | POLLRDNORM | POLLRDBAND | POLLRDHUP)) ? GPM_NETIO_READ : 0) |
                            ((ev & (POLLOUT | POLLWRNORM | POLLWRBAND)) ? GPM_NETIO_WRITE : 0));
        if (dirs[i] == 0)
            dirs[i] = GPM_NETIO_READ; /* POLLHUP and POLLERR are always asked */
    }
    struct pl a = {.op = WAITOP(poll_attempt), .f = f, .n = n};
    a.op.deadline = deadline;
    return gpm_netio_many(fds, dirs, (int)n, &a.op);
}

GPM_EXPORT int poll(struct pollfd *f, nfds_t n, int timeout)
{
    if (!gpm_active())
        return gpm_real.poll(f, n, timeout);
    if (timeout == 0)
        return OLDWAY(gpm_real.poll(f, n, 0));
    long r = pollwait(f, n, msdeadline(timeout));
    if (r == GPM_NETIO_FALLBACK)
        return OLDWAY(gpm_real.poll(f, n, timeout));
    return (int)result(r);
}

GPM_EXPORT int ppoll(struct pollfd *f, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
    if (!gpm_active())
        return gpm_real.ppoll(f, n, ts, mask);
    int64_t deadline = 0;
    long r = GPM_NETIO_FALLBACK;
    if (mask == NULL && !zerots(ts) && (ts == NULL || gpm_deadline_rel(ts, &deadline)))
        r = pollwait(f, n, deadline);
    if (r == GPM_NETIO_FALLBACK)
        return OLDWAY(gpm_real.ppoll(f, n, ts, mask));
    return (int)result(r);
}

/* select and pselect: the sets are read once, each attempt selects on
   copies with a zero timeout, and the program's sets change only when the
   call returns, as the kernel's do. */
struct sel {
    struct gpm_netop op;
    int nfds;
    fd_set *set[3];
    fd_set in[3];
};

static long select_attempt(struct gpm_netop *op, int fd, int how)
{
    (void)fd;
    (void)how;
    struct sel *a = (struct sel *)op;
    fd_set work[3];
    fd_set *w[3];
    for (int k = 0; k < 3; k++) {
        work[k] = a->in[k];
        w[k] = a->set[k] != NULL ? &work[k] : NULL;
    }
    struct timeval zero = {0, 0};
    int r = gpm_real.select(a->nfds, w[0], w[1], w[2], &zero);
    if (r < 0 && errno == EINTR)
        return 0; /* as poll_attempt */
    if (r > 0)
        for (int k = 0; k < 3; k++)
            if (a->set[k] != NULL)
                *a->set[k] = work[k];
    return neg(r);
}

static long selectwait(int nfds, fd_set *r, fd_set *w, fd_set *e, int64_t deadline)
{
    if (nfds < 0 || nfds > FD_SETSIZE)
        return GPM_NETIO_FALLBACK;
    struct sel a = {.op = WAITOP(select_attempt), .nfds = nfds, .set = {r, w, e}};
    a.op.deadline = deadline;
    int fds[GPM_NETIO_MANY_MAX];
    uint8_t dirs[GPM_NETIO_MANY_MAX];
    int m = 0;
    for (int k = 0; k < 3; k++)
        if (a.set[k] != NULL)
            a.in[k] = *a.set[k];
    for (int fd = 0; fd < nfds; fd++) {
        uint8_t d = (uint8_t)(((r != NULL && FD_ISSET(fd, r)) || (e != NULL && FD_ISSET(fd, e)) ? GPM_NETIO_READ : 0) |
                              (w != NULL && FD_ISSET(fd, w) ? GPM_NETIO_WRITE : 0));
        if (d == 0)
            continue;
        if (m == GPM_NETIO_MANY_MAX)
            return GPM_NETIO_FALLBACK;
        fds[m] = fd;
        dirs[m++] = d;
    }
    long res = gpm_netio_many(fds, dirs, m, &a.op);
    if (res == 0)
        for (int k = 0; k < 3; k++)
            if (a.set[k] != NULL)
                FD_ZERO(a.set[k]);
    return res;
}

/* The time left of a deadline, into tv (select on Linux says it). */
static void timeleft(int64_t deadline, struct timeval *tv)
{
    int64_t left = deadline - gpm_nanotime();
    if (left < 0)
        left = 0;
    tv->tv_sec = left / 1000000000;
    tv->tv_usec = (left % 1000000000) / 1000;
}

GPM_EXPORT int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
    if (!gpm_active())
        return gpm_real.select(nfds, r, w, e, tv);
    if (tv != NULL && tv->tv_sec == 0 && tv->tv_usec == 0)
        return OLDWAY(gpm_real.select(nfds, r, w, e, tv));
    int64_t deadline = 0;
    if (tv != NULL) {
        if (tv->tv_sec < 0 || tv->tv_usec < 0 || tv->tv_usec >= 1000000)
            return gpm_real.select(nfds, r, w, e, tv); /* EINVAL */
        deadline = gpm_nanotime() + (int64_t)tv->tv_sec * 1000000000 + (int64_t)tv->tv_usec * 1000;
    }
    long res = selectwait(nfds, r, w, e, deadline);
    if (res == GPM_NETIO_FALLBACK)
        return OLDWAY(gpm_real.select(nfds, r, w, e, tv));
    if (tv != NULL)
        timeleft(deadline, tv);
    return (int)result(res);
}

GPM_EXPORT int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *ts, const sigset_t *mask)
{
    if (!gpm_active())
        return gpm_real.pselect(nfds, r, w, e, ts, mask);
    int64_t deadline = 0;
    long res = GPM_NETIO_FALLBACK;
    if (mask == NULL && !zerots(ts) && (ts == NULL || gpm_deadline_rel(ts, &deadline)))
        res = selectwait(nfds, r, w, e, deadline);
    if (res == GPM_NETIO_FALLBACK)
        return OLDWAY(gpm_real.pselect(nfds, r, w, e, ts, mask));
    return (int)result(res);
}

struct ep {
    struct gpm_netop op;
    struct epoll_event *ev;
    int max;
};

static long epoll_attempt(struct gpm_netop *op, int fd, int how)
{
    (void)how;
    struct ep *a = (struct ep *)op;
    int r = gpm_real.epoll_wait(fd, a->ev, a->max, 0);
    return r == 0 ? -EAGAIN : neg(r);
}

/* epoll_wait on the program's epoll fd: the G parks until that fd is
   readable, which it is when its ready list is not empty. */
static long epollwait(int epfd, struct epoll_event *ev, int max, int64_t deadline)
{
    struct ep a = {.op = WAITOP(epoll_attempt), .ev = ev, .max = max};
    a.op.deadline = deadline;
    return gpm_netio(epfd, &a.op);
}

GPM_EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
    if (!gpm_active())
        return gpm_real.epoll_wait(epfd, ev, max, timeout);
    if (timeout == 0)
        return OLDWAY(gpm_real.epoll_wait(epfd, ev, max, 0));
    long r = epollwait(epfd, ev, max, msdeadline(timeout));
    if (r == GPM_NETIO_FALLBACK)
        return OLDWAY(gpm_real.epoll_wait(epfd, ev, max, timeout));
    return (int)result(r);
}

GPM_EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout, const sigset_t *mask)
{
    if (!gpm_active())
        return gpm_real.epoll_pwait(epfd, ev, max, timeout, mask);
    long r = mask == NULL && timeout != 0 ? epollwait(epfd, ev, max, msdeadline(timeout)) : GPM_NETIO_FALLBACK;
    if (r == GPM_NETIO_FALLBACK)
        return OLDWAY(gpm_real.epoll_pwait(epfd, ev, max, timeout, mask));
    return (int)result(r);
}

GPM_EXPORT int epoll_pwait2(int epfd, struct epoll_event *ev, int max, const struct timespec *ts,
                            const sigset_t *mask)
{
    if (!gpm_active())
        return gpm_real.epoll_pwait2(epfd, ev, max, ts, mask);
    int64_t deadline = 0;
    long r = GPM_NETIO_FALLBACK;
    if (mask == NULL && !zerots(ts) && (ts == NULL || gpm_deadline_rel(ts, &deadline)))
        r = epollwait(epfd, ev, max, deadline);
    if (r == GPM_NETIO_FALLBACK)
        return OLDWAY(gpm_real.epoll_pwait2(epfd, ev, max, ts, mask));
    return (int)result(r);
}

/* ---- Descriptors -------------------------------------------------------- */

/* Calls that make descriptors: what gpm knew of the number is stale
   ("Registration" in src/core/netpoll.c). */
static int fresh(int fd)
{
    if (fd >= 0 && gpm_active())
        gpm_netfd_new(fd);
    return fd;
}


GPM_EXPORT int close(int fd)
{
    if (gpm_active() && !gpm_netfd_closing(fd)) {
        errno = EBADF; /* gpm's own: the program has no such descriptor */
        return -1;
    }
    return gpm_real.close(fd);
}

GPM_EXPORT int dup2(int oldfd, int newfd)
{
    if (gpm_active() && oldfd != newfd) {
        if (gpm_netfd_isown(oldfd)) {
            errno = EBADF;
            return -1;
        }
        if (!gpm_netfd_replacing(newfd)) {
            errno = EBUSY; /* as the kernel says of a descriptor in the making */
            return -1;
        }
    }
    return fresh(gpm_real.dup2(oldfd, newfd));
}

GPM_EXPORT int dup3(int oldfd, int newfd, int flags)
{
    if (gpm_active() && oldfd != newfd) {
        if (gpm_netfd_isown(oldfd)) {
            errno = EBADF;
            return -1;
        }
        if (!gpm_netfd_replacing(newfd)) {
            errno = EBUSY;
            return -1;
        }
    }
    return fresh(gpm_real.dup3(oldfd, newfd, flags));
}

/* close_range over the program's descriptors only: the range is split
   around gpm's own. */
GPM_EXPORT int close_range(unsigned lo, unsigned hi, int flags)
{
    if (!gpm_active() || (flags & CLOSE_RANGE_CLOEXEC) || lo > hi)
        return gpm_real.close_range(lo, hi, flags);
    gpm_netfd_closingrange(lo, hi);
    int own[GPM_NETFD_OWNMAX];
    int n = gpm_netfd_ownin(lo, hi, own, GPM_NETFD_OWNMAX);
    unsigned from = lo;
    for (int i = 0; i < n; i++) {
        unsigned fd = (unsigned)own[i];
        if (fd > from) {
            int r = gpm_real.close_range(from, fd - 1, flags);
            if (r != 0)
                return r;
        }
        if (fd == hi)
            return 0;
        from = fd + 1;
    }
    return gpm_real.close_range(from, hi, flags);
}

GPM_EXPORT void closefrom(int lo)
{
    if (!gpm_active() || lo < 0) {
        gpm_real.closefrom(lo);
        return;
    }
    close_range((unsigned)lo, ~0U, 0);
}

static int freshpair(int r, const int fds[2])
{
    if (r == 0 && gpm_active()) {
        gpm_netfd_new(fds[0]);
        gpm_netfd_new(fds[1]);
    }
    return r;
}

GPM_EXPORT int pipe(int fds[2])
{
    return freshpair(gpm_real.pipe(fds), fds);
}

GPM_EXPORT int pipe2(int fds[2], int flags)
{
    return freshpair(gpm_real.pipe2(fds, flags), fds);
}

GPM_EXPORT int eventfd(unsigned v, int flags)
{
    return fresh(gpm_real.eventfd(v, flags));
}

GPM_EXPORT int timerfd_create(int clock, int flags)
{
    return fresh(gpm_real.timerfd_create(clock, flags));
}

/* signalfd on an existing descriptor changes its mask: not a new one. */
GPM_EXPORT int signalfd(int fd, const sigset_t *mask, int flags)
{
    int r = gpm_real.signalfd(fd, mask, flags);
    return fd == -1 ? fresh(r) : r;
}

GPM_EXPORT int inotify_init(void)
{
    return fresh(gpm_real.inotify_init());
}

GPM_EXPORT int inotify_init1(int flags)
{
    return fresh(gpm_real.inotify_init1(flags));
}

GPM_EXPORT int epoll_create(int size)
{
    return fresh(gpm_real.epoll_create(size));
}

GPM_EXPORT int epoll_create1(int flags)
{
    return fresh(gpm_real.epoll_create1(flags));
}

GPM_EXPORT int dup(int fd)
{
    if (gpm_active() && gpm_netfd_isown(fd)) {
        errno = EBADF;
        return -1;
    }
    return fresh(gpm_real.dup(fd));
}

GPM_EXPORT int socket(int domain, int type, int proto)
{
    int fd = gpm_real.socket(domain, type, proto);
    if (fd >= 0 && gpm_active())
        gpm_netfd_newsocket(fd, type & SOCK_NONBLOCK, -1);
    return fd;
}

GPM_EXPORT int socketpair(int domain, int type, int proto, int sv[2])
{
    int r = gpm_real.socketpair(domain, type, proto, sv);
    if (r == 0 && gpm_active()) {
        gpm_netfd_newsocket(sv[0], type & SOCK_NONBLOCK, -1);
        gpm_netfd_newsocket(sv[1], type & SOCK_NONBLOCK, -1);
    }
    return r;
}

GPM_EXPORT int setsockopt(int fd, int level, int opt, const void *val, socklen_t len)
{
    int r = gpm_real.setsockopt(fd, level, opt, val, len);
    if (r == 0 && level == SOL_SOCKET &&
        (opt == SO_RCVTIMEO_OLD || opt == SO_SNDTIMEO_OLD || opt == SO_RCVTIMEO_NEW || opt == SO_SNDTIMEO_NEW))
        gpm_netfd_timeochanged(fd);
    return r;
}

/* ioctl's third argument is an int or a pointer, passed in the same
   register either way. */
GPM_EXPORT int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    int r = gpm_real.ioctl(fd, req, arg);
    if (r == 0 && req == FIONBIO)
        gpm_netfd_flagschanged();
    return r;
}
