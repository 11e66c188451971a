/*
 * The other pollable files, and the program's own non-blocking I/O (issue
 * 10: the netpoller parks blocking calls on them, and leaves a program's
 * own non-blocking calls alone). One case each:
 *   calls     each read-side call blocks in a thread until main sends:
 *             read, readv, recv, recvfrom, recvmsg and preadv2 (offset -1)
 *             on a UNIX stream socket; recvmmsg of two datagrams waits for
 *             the second (blocking recvmmsg fills all it asks for), with
 *             MSG_WAITFORONE it returns the first; each write-side call
 *             blocks on a full UNIX stream socket until main drains it and
 *             then returns its full count: write, writev, send, sendto,
 *             sendmsg, pwritev2, sendmmsg (two messages);
 *   eventfd   read blocks until another thread writes, and gets the sum;
 *             with EFD_SEMAPHORE each read takes 1 and the next blocks; a
 *             write that would overflow the counter blocks until a read;
 *             with EFD_NONBLOCK a read of 0 is EAGAIN at once;
 *   timerfd   read blocks until a one-shot timer (relative, 100 ms;
 *             absolute on CLOCK_REALTIME, 100 ms) expires, not early; a
 *             periodic 20 ms timer read 110 ms after arming counts at
 *             least 5 expirations; a read blocked on a disarmed timer
 *             returns when another thread arms it; TFD_NONBLOCK read of a
 *             disarmed timer is EAGAIN at once;
 *   dontwait  recv with MSG_DONTWAIT on an empty blocking socket returns
 *             EAGAIN at once, also while another thread is blocked in recv
 *             on the same socket (which then gets the data); send with
 *             MSG_DONTWAIT fills the buffer and then returns EAGAIN; the
 *             socket stays blocking (F_GETFL); preadv2 with RWF_NOWAIT on
 *             an empty pipe returns EAGAIN at once (or EOPNOTSUPP where
 *             the kernel does not take it for pipes);
 *   nonblock  descriptors the program made non-blocking (pipe2 O_NONBLOCK,
 *             SOCK_NONBLOCK, fcntl F_SETFL) return EAGAIN at once for
 *             read, recv, accept and a write to a full pipe; a write of
 *             10,000 bytes with one page free returns 4,096; connect gives
 *             EINPROGRESS and poll then POLLOUT with SO_ERROR 0; a pipe
 *             made blocking again with F_SETFL blocks in read until
 *             written, and non-blocking once more returns EAGAIN;
 *   nbcancel  a read on a non-blocking socket that gpm already knows is
 *             non-blocking is a cancellation point: a pending cancellation
 *             is acted on before the call, which leaves the data that
 *             was there to be read;
 *   nbstale   a forked child clears O_NONBLOCK on a socket this process
 *             made non-blocking and read from: a read then blocks until
 *             main, still running, writes;
 *   pty       a raw pseudo-terminal: a thread's read on the slave blocks
 *             until main writes to the master, and a read on the master
 *             until main writes to the slave (skipped where no pty can be
 *             opened).
 * "At once" is within 1 s (natively microseconds; no wait of the test's
 * is that long). The watchdog (watchdog.h) names a case that hangs.
 * Argument: one case name, or none for all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "np.h"
#include "watchdog.h"

#define AT_ONCE_MS 1000

/* One blocking call in a thread of its own. */
struct call {
    const char *what;
    ssize_t (*fn)(struct call *);
    int fd;
    char buf[4096];
    uint64_t u64;
    ssize_t ret;
    int err;
    long ms;
    atomic_int entering, finished;
    pthread_t t;
};

static void *call_thread(void *arg)
{
    struct call *c = arg;
    atomic_store(&c->entering, 1);
    struct timespec t0 = now(CLOCK_MONOTONIC);
    c->ret = c->fn(c);
    c->err = errno;
    c->ms = ms_since(t0);
    atomic_store(&c->finished, 1);
    return NULL;
}

/* Starts the call (u64: the value a write8 call writes) and waits until
   its thread is about to make it. */
static void start(struct call *c, const char *what, ssize_t (*fn)(struct call *), int fd, uint64_t u64)
{
    memset(c, 0, sizeof *c);
    wd_step(10, "%s", what);
    c->what = what;
    c->fn = fn;
    c->fd = fd;
    c->u64 = u64;
    c->t = spawn(call_thread, c);
    await_at_least(&c->entering, 1);
}

static void still_blocked(struct call *c, long ms)
{
    sleep_ms(ms);
    CHECK(!atomic_load(&c->finished), "%s returned %zd (errno %d: %s) with nothing to return yet", c->what, c->ret,
          c->err, strerror(c->err));
}

/* Joins c, which must have returned want. */
static void expect_ret(struct call *c, ssize_t want)
{
    CHECK_EQ(pthread_join(c->t, NULL), 0);
    CHECK(c->ret == want, "%s returned %zd (errno %d: %s), wanted %zd", c->what, c->ret, c->err, strerror(c->err),
          want);
}

/* A call that must fail with EAGAIN at once. */
#define EXPECT_EAGAIN(call, what)                                                                              \
    do {                                                                                                       \
        struct timespec t0_ = now(CLOCK_MONOTONIC);                                                           \
        ssize_t r_ = (call);                                                                                  \
        int e_ = errno;                                                                                       \
        long ms_ = ms_since(t0_);                                                                             \
        CHECK(r_ == -1 && (e_ == EAGAIN || e_ == EWOULDBLOCK), "%s returned %zd, errno %d (%s): wanted EAGAIN", \
              what, r_, e_, strerror(e_));                                                                    \
        CHECK(ms_ < AT_ONCE_MS, "%s took %ld ms to return EAGAIN", what, ms_);                                \
    } while (0)

/* ---- calls ---- */

static ssize_t do_read(struct call *c)
{
    return read(c->fd, c->buf, sizeof c->buf);
}

static ssize_t do_readv(struct call *c)
{
    struct iovec iov[2] = {{c->buf, 2}, {c->buf + 2, sizeof c->buf - 2}};
    return readv(c->fd, iov, 2);
}

static ssize_t do_recv(struct call *c)
{
    return recv(c->fd, c->buf, sizeof c->buf, 0);
}

static ssize_t do_recvfrom(struct call *c)
{
    struct sockaddr_un from;
    socklen_t fl = sizeof from;
    return recvfrom(c->fd, c->buf, sizeof c->buf, 0, (struct sockaddr *)&from, &fl);
}

static ssize_t do_recvmsg(struct call *c)
{
    struct iovec iov = {c->buf, sizeof c->buf};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    return recvmsg(c->fd, &m, 0);
}

static ssize_t do_preadv2(struct call *c)
{
    struct iovec iov = {c->buf, sizeof c->buf};
    return preadv2(c->fd, &iov, 1, -1, 0);
}

static ssize_t do_recvmmsg(struct call *c, int flags)
{
    struct iovec iov[2] = {{c->buf, 100}, {c->buf + 100, 100}};
    struct mmsghdr mm[2] = {{.msg_hdr = {.msg_iov = &iov[0], .msg_iovlen = 1}},
                            {.msg_hdr = {.msg_iov = &iov[1], .msg_iovlen = 1}}};
    int n = recvmmsg(c->fd, mm, 2, flags, NULL);
    c->u64 = n > 0 ? mm[0].msg_len : 0;
    return n;
}

static ssize_t do_recvmmsg_all(struct call *c)
{
    return do_recvmmsg(c, 0);
}

static ssize_t do_recvmmsg_one(struct call *c)
{
    return do_recvmmsg(c, MSG_WAITFORONE);
}

static char junk[4096];

static ssize_t do_write(struct call *c)
{
    return write(c->fd, junk, sizeof junk);
}

static ssize_t do_writev(struct call *c)
{
    struct iovec iov[2] = {{junk, 1000}, {junk + 1000, sizeof junk - 1000}};
    return writev(c->fd, iov, 2);
}

static ssize_t do_send(struct call *c)
{
    return send(c->fd, junk, sizeof junk, 0);
}

static ssize_t do_sendto(struct call *c)
{
    return sendto(c->fd, junk, sizeof junk, 0, NULL, 0);
}

static ssize_t do_sendmsg(struct call *c)
{
    struct iovec iov = {junk, sizeof junk};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    return sendmsg(c->fd, &m, 0);
}

static ssize_t do_pwritev2(struct call *c)
{
    struct iovec iov = {junk, sizeof junk};
    return pwritev2(c->fd, &iov, 1, -1, 0);
}

static ssize_t do_sendmmsg(struct call *c)
{
    struct iovec iov[2] = {{junk, 2048}, {junk + 2048, 2048}};
    struct mmsghdr mm[2] = {{.msg_hdr = {.msg_iov = &iov[0], .msg_iovlen = 1}},
                            {.msg_hdr = {.msg_iov = &iov[1], .msg_iovlen = 1}}};
    return sendmmsg(c->fd, mm, 2, 0);
}

/* Sends with MSG_DONTWAIT until the buffer takes nothing more; returns
   how much it took. */
static size_t fill(int fd)
{
    size_t total = 0;
    for (;;) {
        ssize_t r = send(fd, junk, sizeof junk, MSG_DONTWAIT);
        if (r < 0) {
            CHECK(errno == EAGAIN || errno == EWOULDBLOCK, "filling: send: %s", strerror(errno));
            return total;
        }
        total += (size_t)r;
    }
}

static size_t drain(int fd)
{
    char buf[1 << 14];
    size_t total = 0;
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r < 0) {
            CHECK(errno == EAGAIN || errno == EWOULDBLOCK, "draining: recv: %s", strerror(errno));
            return total;
        }
        CHECK(r > 0, "draining: end of stream");
        total += (size_t)r;
    }
}

static void case_calls(void)
{
    static const struct {
        const char *name;
        ssize_t (*fn)(struct call *);
    } readers[] = {{"read", do_read},         {"readv", do_readv},     {"recv", do_recv},
                   {"recvfrom", do_recvfrom}, {"recvmsg", do_recvmsg}, {"preadv2", do_preadv2}},
      writers[] = {{"write", do_write},     {"writev", do_writev},     {"send", do_send},
                   {"sendto", do_sendto},   {"sendmsg", do_sendmsg},   {"pwritev2", do_pwritev2},
                   {"sendmmsg", do_sendmmsg}};
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct call c;
    char what[64];
    for (size_t i = 0; i < sizeof readers / sizeof readers[0]; i++) {
        snprintf(what, sizeof what, "calls: %s (UNIX stream, empty)", readers[i].name);
        start(&c, what, readers[i].fn, sv[0], 0);
        still_blocked(&c, 50);
        CHECK_EQ(send(sv[1], "payload", 7, 0), 7);
        expect_ret(&c, 7);
        CHECK(memcmp(c.buf, "payload", 7) == 0, "%s: wrong bytes", what);
    }
    for (size_t i = 0; i < sizeof writers / sizeof writers[0]; i++) {
        snprintf(what, sizeof what, "calls: %s (UNIX stream, full)", writers[i].name);
        fill(sv[0]);
        start(&c, what, writers[i].fn, sv[0], 0);
        still_blocked(&c, 50);
        while (!atomic_load(&c.finished)) {
            drain(sv[1]);
            sleep_ms(1);
        }
        expect_ret(&c, writers[i].fn == do_sendmmsg ? 2 : (ssize_t)sizeof junk);
        drain(sv[1]);
    }
    close2(sv);

    CHECK_EQ(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
    start(&c, "calls: recvmmsg of 2 (UNIX datagram)", do_recvmmsg_all, sv[0], 0);
    still_blocked(&c, 50);
    CHECK_EQ(send(sv[1], "first", 5, 0), 5);
    still_blocked(&c, 100); /* blocking recvmmsg waits for all it asked for */
    CHECK_EQ(send(sv[1], "second", 6, 0), 6);
    expect_ret(&c, 2);
    CHECK(c.u64 == 5 && memcmp(c.buf, "first", 5) == 0 && memcmp(c.buf + 100, "second", 6) == 0,
          "recvmmsg: wrong datagrams");
    start(&c, "calls: recvmmsg MSG_WAITFORONE (UNIX datagram)", do_recvmmsg_one, sv[0], 0);
    still_blocked(&c, 50);
    CHECK_EQ(send(sv[1], "only", 4, 0), 4);
    expect_ret(&c, 1);
    CHECK(c.u64 == 4 && memcmp(c.buf, "only", 4) == 0, "recvmmsg MSG_WAITFORONE: wrong datagram");
    close2(sv);
}

/* ---- eventfd ---- */

static ssize_t do_read8(struct call *c)
{
    return read(c->fd, &c->u64, 8);
}

static ssize_t do_write8(struct call *c)
{
    return write(c->fd, &c->u64, 8);
}

static void write8(int fd, uint64_t v)
{
    CHECK_EQ(write(fd, &v, 8), 8);
}

static uint64_t read8(int fd)
{
    uint64_t v = 0;
    CHECK_EQ(read(fd, &v, 8), 8);
    return v;
}

static void case_eventfd(void)
{
    int e = eventfd(0, EFD_CLOEXEC);
    CHECK(e >= 0, "eventfd: %s", strerror(errno));
    struct call c;
    start(&c, "eventfd: read blocks until a write", do_read8, e, 0);
    still_blocked(&c, 50);
    write8(e, 2);
    write8(e, 3);
    expect_ret(&c, 8);
    CHECK(c.u64 == 2 || c.u64 == 5, "eventfd read %llu, wanted 2 (woken before the second write) or 5",
          (unsigned long long)c.u64);
    if (c.u64 == 2)
        CHECK_EQ(read8(e), 3);

    /* The counter holds at most 2^64 - 2: adding 1 to that waits. */
    write8(e, UINT64_MAX - 1);
    start(&c, "eventfd: a write that would overflow blocks until a read", do_write8, e, 1);
    still_blocked(&c, 100);
    CHECK(read8(e) == UINT64_MAX - 1, "eventfd: the full counter read back wrong");
    expect_ret(&c, 8);
    CHECK_EQ(read8(e), 1);
    CHECK_EQ(close(e), 0);

    e = eventfd(0, EFD_CLOEXEC | EFD_SEMAPHORE);
    CHECK(e >= 0, "eventfd: %s", strerror(errno));
    write8(e, 3);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(read8(e), 1);
    start(&c, "eventfd: EFD_SEMAPHORE read blocks at 0", do_read8, e, 0);
    still_blocked(&c, 50);
    write8(e, 4);
    expect_ret(&c, 8);
    CHECK_EQ(c.u64, 1);
    CHECK_EQ(close(e), 0);

    e = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    CHECK(e >= 0, "eventfd: %s", strerror(errno));
    uint64_t v;
    EXPECT_EAGAIN(read(e, &v, 8), "eventfd EFD_NONBLOCK: read at 0");
    CHECK_EQ(close(e), 0);
}

/* ---- timerfd ---- */

static void arm(int t, long first_ms, long interval_ms, int flags, clockid_t clock)
{
    struct itimerspec its = {.it_interval = {interval_ms / 1000, (interval_ms % 1000) * MS}};
    struct timespec first = {first_ms / 1000, (first_ms % 1000) * MS};
    if (flags & TFD_TIMER_ABSTIME)
        first = add_ms(now(clock), first_ms);
    its.it_value = first;
    CHECK(timerfd_settime(t, flags, &its, NULL) == 0, "timerfd_settime: %s", strerror(errno));
}

static void case_timerfd(void)
{
    static const struct {
        const char *what;
        clockid_t clock;
        int flags;
    } oneshots[] = {
        {"timerfd: one-shot, relative, CLOCK_MONOTONIC", CLOCK_MONOTONIC, 0},
        {"timerfd: one-shot, absolute, CLOCK_REALTIME", CLOCK_REALTIME, TFD_TIMER_ABSTIME},
    };
    struct call c;
    for (int i = 0; i < 2; i++) {
        int t = timerfd_create(oneshots[i].clock, TFD_CLOEXEC);
        CHECK(t >= 0, "timerfd_create: %s", strerror(errno));
        struct timespec t0 = now(oneshots[i].clock);
        arm(t, 100, 0, oneshots[i].flags, oneshots[i].clock);
        start(&c, oneshots[i].what, do_read8, t, 0);
        expect_ret(&c, 8);
        int64_t took = ns(now(oneshots[i].clock)) - ns(t0);
        CHECK_EQ(c.u64, 1);
        CHECK(took >= 100 * MS, "%s: expired after %.3f ms of 100", oneshots[i].what, (double)took / MS);
        CHECK(took < 5000 * MS, "%s: expired after %.3f ms of 100", oneshots[i].what, (double)took / MS);
        CHECK_EQ(close(t), 0);
    }

    int t = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    CHECK(t >= 0, "timerfd_create: %s", strerror(errno));
    wd_step(10, "timerfd: periodic");
    arm(t, 20, 20, 0, CLOCK_MONOTONIC);
    sleep_ms(110);
    uint64_t n = read8(t);
    CHECK(n >= 5, "a 20 ms periodic timer read 110 ms after arming counted %llu expirations",
          (unsigned long long)n);
    struct itimerspec off = {{0, 0}, {0, 0}};
    CHECK_EQ(timerfd_settime(t, 0, &off, NULL), 0);

    start(&c, "timerfd: read of a disarmed timer, armed by another thread", do_read8, t, 0);
    still_blocked(&c, 100);
    arm(t, 20, 0, 0, CLOCK_MONOTONIC);
    expect_ret(&c, 8);
    CHECK_EQ(c.u64, 1);
    CHECK_EQ(close(t), 0);

    t = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    CHECK(t >= 0, "timerfd_create: %s", strerror(errno));
    uint64_t v;
    EXPECT_EAGAIN(read(t, &v, 8), "timerfd TFD_NONBLOCK: read of a disarmed timer");
    CHECK_EQ(close(t), 0);
}

/* ---- dontwait ---- */

static void case_dontwait(void)
{
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    int fl = fl_of(sv[0]);
    CHECK(!(fl & O_NONBLOCK), "a new socketpair is non-blocking");
    char buf[64];
    EXPECT_EAGAIN(recv(sv[0], buf, sizeof buf, MSG_DONTWAIT), "recv MSG_DONTWAIT on an empty socket");

    struct call c;
    start(&c, "dontwait: a blocked recv beside MSG_DONTWAIT ones", do_recv, sv[0], 0);
    still_blocked(&c, 50);
    for (int i = 0; i < 3; i++)
        EXPECT_EAGAIN(recv(sv[0], buf, sizeof buf, MSG_DONTWAIT),
                      "recv MSG_DONTWAIT while another thread is blocked in recv");
    CHECK_EQ(send(sv[1], "mine", 4, 0), 4);
    expect_ret(&c, 4);
    CHECK(memcmp(c.buf, "mine", 4) == 0, "the blocked recv got the wrong bytes");

    size_t took = fill(sv[0]);
    CHECK(took > 0, "send MSG_DONTWAIT took nothing on an empty socket");
    EXPECT_EAGAIN(send(sv[0], junk, sizeof junk, MSG_DONTWAIT), "send MSG_DONTWAIT on a full socket");
    CHECK_EQ(drain(sv[1]), took);
    CHECK(fl_of(sv[0]) == fl && fl_of(sv[1]) == fl, "MSG_DONTWAIT calls changed the flags");
    close2(sv);

    int p[2];
    CHECK_EQ(pipe(p), 0);
    struct iovec iov = {buf, sizeof buf};
    struct timespec t0 = now(CLOCK_MONOTONIC);
    ssize_t r = preadv2(p[0], &iov, 1, -1, RWF_NOWAIT);
    int e = errno;
    CHECK(r == -1 && (e == EAGAIN || e == EOPNOTSUPP), "preadv2 RWF_NOWAIT on an empty pipe: %zd, errno %d (%s)", r,
          e, strerror(e));
    CHECK(ms_since(t0) < AT_ONCE_MS, "preadv2 RWF_NOWAIT took %ld ms", ms_since(t0));
    if (e == EOPNOTSUPP)
        printf("dontwait: this kernel does not take RWF_NOWAIT for pipes\n");
    close2(p);
}

/* ---- nonblock ---- */

/* nbcancel: a read on a non-blocking descriptor is a cancellation point,
   as libc's is, even once gpm knows the descriptor cannot block. */
static atomic_int nb_ready, nb_cancelled;

static void *nbcancel_thread(void *arg)
{
    int fd = *(int *)arg;
    char b[8];
    CHECK_EQ(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL), 0);
    for (int i = 0; i < 3; i++)
        EXPECT_EAGAIN(read(fd, b, sizeof b), "nbcancel: read on an empty SOCK_NONBLOCK socket");
    atomic_store(&nb_ready, 1);
    while (!atomic_load(&nb_cancelled))
        sleep_ms(1);
    CHECK_EQ(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL), 0); /* not a cancellation point */
    read(fd, b, sizeof b);
    return (void *)1;
}

static void case_nbcancel(void)
{
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    atomic_store(&nb_ready, 0);
    atomic_store(&nb_cancelled, 0);
    pthread_t t = spawn(nbcancel_thread, &sv[0]);
    await_at_least(&nb_ready, 1);
    CHECK_EQ(pthread_cancel(t), 0);
    CHECK_EQ(write(sv[1], "kept", 4), 4);
    atomic_store(&nb_cancelled, 1);
    void *r;
    CHECK_EQ(pthread_join(t, &r), 0);
    CHECK(r == PTHREAD_CANCELED, "a read on a non-blocking socket with a cancellation pending returned (%p)", r);
    /* Acted on before the read, as glibc does: the data is still there. */
    char b[8];
    CHECK_EQ(read(sv[0], b, sizeof b), 4);
    close2(sv);
}

/*
 * nbstale: another process makes a shared socket blocking again after this
 * one made it non-blocking and read from it (gpm then takes it for a
 * non-blocking one): a read blocks, as it does natively, and the rest of
 * the program runs meanwhile (on one P, gpm's sysmon takes the P from the
 * M asleep in the read), until data comes.
 */
static void case_nbstale(void)
{
    int sv[2], ctl[2];
    char buf[64];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    CHECK_EQ(pipe(ctl), 0);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        char go;
        if (read(ctl[0], &go, 1) != 1)
            _exit(1);
        int fl = fcntl(sv[0], F_GETFL);
        _exit(fl >= 0 && fcntl(sv[0], F_SETFL, fl & ~O_NONBLOCK) == 0 ? 0 : 2);
    }
    CHECK_EQ(fcntl(sv[0], F_SETFL, fl_of(sv[0]) | O_NONBLOCK), 0);
    for (int i = 0; i < 3; i++)
        EXPECT_EAGAIN(read(sv[0], buf, sizeof buf), "nbstale: read on an empty O_NONBLOCK socket");
    CHECK_EQ(write(ctl[1], "g", 1), 1);
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child could not clear O_NONBLOCK (status %#x)", st);
    CHECK(!(fl_of(sv[0]) & O_NONBLOCK), "O_NONBLOCK still set after the child cleared it");
    struct call c;
    start(&c, "nbstale: read on a socket another process made blocking", do_read, sv[0], 0);
    still_blocked(&c, 100);
    CHECK_EQ(write(sv[1], "stale", 5), 5);
    expect_ret(&c, 5);
    close2(sv);
    close2(ctl);
}

static void case_nonblock(void)
{
    char buf[16384];
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    EXPECT_EAGAIN(read(p[0], buf, sizeof buf), "read on an empty O_NONBLOCK pipe");
    int size = fcntl(p[1], F_GETPIPE_SZ);
    CHECK(size > 0, "F_GETPIPE_SZ");
    size_t put = 0;
    for (;;) {
        ssize_t r = write(p[1], buf, sizeof buf);
        if (r < 0)
            break;
        put += (size_t)r;
    }
    CHECK(errno == EAGAIN, "filling an O_NONBLOCK pipe: %s", strerror(errno));
    CHECK_EQ(put, (size_t)size);
    EXPECT_EAGAIN(write(p[1], "x", 1), "write to a full O_NONBLOCK pipe");
    CHECK_EQ(read(p[0], buf, 4096), 4096);
    ssize_t w = write(p[1], buf, 10000);
    CHECK(w == 4096, "write of 10,000 bytes to an O_NONBLOCK pipe with one page free returned %zd", w);
    close2(p);

    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    EXPECT_EAGAIN(recv(sv[0], buf, sizeof buf, 0), "recv on an empty SOCK_NONBLOCK socket");
    EXPECT_EAGAIN(read(sv[0], buf, sizeof buf), "read on an empty SOCK_NONBLOCK socket");
    close2(sv);

    int port, l = tcp_listener(4, &port);
    CHECK_EQ(fcntl(l, F_SETFL, fl_of(l) | O_NONBLOCK), 0);
    EXPECT_EAGAIN(accept(l, NULL, NULL), "accept on an O_NONBLOCK listener");
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    CHECK(s >= 0, "socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timespec t0 = now(CLOCK_MONOTONIC);
    int r = connect(s, (struct sockaddr *)&a, sizeof a);
    int e = errno;
    CHECK(r == 0 || (r == -1 && e == EINPROGRESS), "non-blocking connect: %d, errno %d (%s)", r, e, strerror(e));
    CHECK(ms_since(t0) < AT_ONCE_MS, "non-blocking connect took %ld ms", ms_since(t0));
    struct pollfd pf = {.fd = s, .events = POLLOUT};
    CHECK_EQ(poll(&pf, 1, 10000), 1);
    CHECK(pf.revents & POLLOUT, "poll after a non-blocking connect: revents %#x", pf.revents);
    int soerr = -1;
    socklen_t sl = sizeof soerr;
    CHECK_EQ(getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &sl), 0);
    CHECK_EQ(soerr, 0);
    CHECK(fl_of(s) & O_NONBLOCK, "the connected socket lost O_NONBLOCK");
    int acc = -1;
    while (acc < 0) { /* the connection is there: accept returns it, at most after a retry or two */
        acc = accept(l, NULL, NULL);
        if (acc < 0) {
            CHECK(errno == EAGAIN, "accept: %s", strerror(errno));
            sleep_ms(1);
        }
    }
    CHECK_EQ(close(acc), 0);
    CHECK_EQ(close(s), 0);
    CHECK_EQ(close(l), 0);

    /* The flag as the program sets it at each moment. */
    CHECK_EQ(pipe(p), 0);
    int fl = fl_of(p[0]);
    CHECK_EQ(fcntl(p[0], F_SETFL, fl | O_NONBLOCK), 0);
    EXPECT_EAGAIN(read(p[0], buf, sizeof buf), "read on a pipe made O_NONBLOCK with F_SETFL");
    CHECK_EQ(fcntl(p[0], F_SETFL, fl), 0);
    struct call c;
    start(&c, "nonblock: read on a pipe made blocking again", do_read, p[0], 0);
    still_blocked(&c, 100);
    CHECK_EQ(write(p[1], "back", 4), 4);
    expect_ret(&c, 4);
    CHECK_EQ(fcntl(p[0], F_SETFL, fl | O_NONBLOCK), 0);
    EXPECT_EAGAIN(read(p[0], buf, sizeof buf), "read on a pipe made O_NONBLOCK once more");
    close2(p);
}

/* ---- pty ---- */

static void case_pty(void)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0) {
        printf("pty: no pseudo-terminal here (%s): not tested\n", strerror(errno));
        if (m >= 0)
            close(m);
        return;
    }
    char *name = ptsname(m);
    CHECK(name != NULL, "ptsname: %s", strerror(errno));
    int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    CHECK(s >= 0, "open %s: %s", name, strerror(errno));
    struct termios tio;
    CHECK_EQ(tcgetattr(s, &tio), 0);
    cfmakeraw(&tio);
    CHECK_EQ(tcsetattr(s, TCSANOW, &tio), 0);
    int sfl = fl_of(s), mfl = fl_of(m);

    struct call c;
    start(&c, "pty: read on the slave until the master writes", do_read, s, 0);
    still_blocked(&c, 50);
    CHECK_EQ(write(m, "hello", 5), 5);
    CHECK_EQ(pthread_join(c.t, NULL), 0);
    CHECK(c.ret > 0 && c.ret <= 5 && memcmp(c.buf, "hello", (size_t)c.ret) == 0, "%s returned %zd", c.what, c.ret);
    if (c.ret < 5) /* a tty read may return what is there so far */
        CHECK_EQ(read_full(s, c.buf + c.ret, (size_t)(5 - c.ret)), (size_t)(5 - c.ret));

    start(&c, "pty: read on the master until the slave writes", do_read, m, 0);
    still_blocked(&c, 50);
    CHECK_EQ(write(s, "world", 5), 5);
    CHECK_EQ(pthread_join(c.t, NULL), 0);
    CHECK(c.ret > 0 && c.ret <= 5 && memcmp(c.buf, "world", (size_t)c.ret) == 0, "%s returned %zd", c.what, c.ret);
    if (c.ret < 5)
        CHECK_EQ(read_full(m, c.buf + c.ret, (size_t)(5 - c.ret)), (size_t)(5 - c.ret));
    CHECK(fl_of(s) == sfl && fl_of(m) == mfl, "the pty's flags changed");
    CHECK_EQ(close(s), 0);
    CHECK_EQ(close(m), 0);
}

static const struct wd_case cases[] = {
    {"calls", case_calls},       {"eventfd", case_eventfd},   {"timerfd", case_timerfd},
    {"dontwait", case_dontwait}, {"nonblock", case_nonblock}, {"nbcancel", case_nbcancel},
    {"nbstale", case_nbstale},   {"pty", case_pty},
};

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    memset(junk, 'j', sizeof junk);
    wd_start();
    struct timespec t0 = now(CLOCK_MONOTONIC);
    int ran = wd_run_cases(cases, sizeof cases / sizeof cases[0], argc, argv, 30, "other pollable files");
    CHECK(ran > 0, "no case named %s", argv[1]);
    printf("other pollable files and the program's own non-blocking I/O: %d case(s) in %ld ms (%s)\n", ran,
           ms_since(t0), test_mode());
    return 0;
}
