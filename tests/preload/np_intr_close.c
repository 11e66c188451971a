/*
 * Signals and closes that reach a thread blocked on a pollable descriptor
 * (issue 10: a G parked in the netpoller must see them as a thread blocked
 * in the kernel does). One case each; every signal is sent to the blocked
 * thread with pthread_kill:
 *   eintr     with a handler installed without SA_RESTART, read and readv
 *             on an empty pipe, read on a UNIX socket, recv on TCP, accept
 *             on a TCP listener, and a 1-byte write on a full pipe return
 *             -1 with EINTR (the signal is resent every 20 ms until the call
 *             returns);
 *   restart   with SA_RESTART, read on a pipe, recv on a UNIX socket,
 *             accept, and a write on a full pipe go on waiting through
 *             three signals, then return what comes: the data, the
 *             connection, the room;
 *   timeo     with SA_RESTART but a receive timeout set (SO_RCVTIMEO 10 s),
 *             recv on a UNIX socket, read on TCP and accept return EINTR:
 *             Linux restarts socket calls only when they have no timeout
 *             (signal(7));
 *   norestart with SA_RESTART, poll, ppoll, select, pselect and epoll_wait
 *             waiting without a timeout return EINTR: they are never
 *             restarted (signal(7));
 *   close     another thread closes the descriptor a thread is blocked
 *             reading (a UNIX socket, a pipe): on Linux the read goes on
 *             waiting on the file it started with, which stays open until
 *             the read returns. 100 ms later it has not returned; a new
 *             pipe, which gets the closed number, takes a write the
 *             blocked read must not see; the peer's write then succeeds
 *             and the read returns it. Again with the peer's end closed
 *             (pipe) or shut down (socket) instead of a write: the read
 *             returns 0;
 *   dup2      another thread dup2()s a second pipe over the descriptor a
 *             thread is blocked reading: the read stays on the first pipe
 *             (a write to the second does not wake it, one to the first
 *             does), and the descriptor then reads the second;
 *   shutdown  another thread's shutdown(SHUT_RDWR) of the socket (UNIX,
 *             TCP) a thread is blocked reading wakes the read with 0.
 * The watchdog (watchdog.h) names a case that hangs. Argument: one case
 * name, or none for all.
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
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "np.h"
#include "watchdog.h"

/* One blocking call in a thread of its own. */
struct call {
    const char *what;
    ssize_t (*fn)(struct call *);
    int fd;
    char buf[64];
    ssize_t ret;
    int err;
    atomic_int entering, finished;
    pthread_t t;
};

static ssize_t do_read(struct call *c)
{
    return read(c->fd, c->buf, sizeof c->buf);
}

static ssize_t do_readv(struct call *c)
{
    struct iovec iov[2] = {{c->buf, 1}, {c->buf + 1, sizeof c->buf - 1}};
    return readv(c->fd, iov, 2);
}

static ssize_t do_recv(struct call *c)
{
    return recv(c->fd, c->buf, sizeof c->buf, 0);
}

static ssize_t do_accept(struct call *c)
{
    return accept(c->fd, NULL, NULL);
}

static ssize_t do_write1(struct call *c)
{
    return write(c->fd, "w", 1);
}

static ssize_t do_poll(struct call *c)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    return poll(&p, 1, -1);
}

static ssize_t do_ppoll(struct call *c)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    return ppoll(&p, 1, NULL, NULL);
}

static ssize_t do_select(struct call *c)
{
    fd_set r;
    FD_ZERO(&r);
    FD_SET(c->fd, &r);
    return select(c->fd + 1, &r, NULL, NULL, NULL);
}

static ssize_t do_pselect(struct call *c)
{
    fd_set r;
    FD_ZERO(&r);
    FD_SET(c->fd, &r);
    return pselect(c->fd + 1, &r, NULL, NULL, NULL, NULL);
}

static ssize_t do_epoll_wait(struct call *c) /* c->fd: an epoll instance */
{
    struct epoll_event ev;
    return epoll_wait(c->fd, &ev, 1, -1);
}

static void *call_thread(void *arg)
{
    struct call *c = arg;
    atomic_store(&c->entering, 1);
    c->ret = c->fn(c);
    c->err = errno;
    atomic_store(&c->finished, 1);
    return NULL;
}

static pthread_t target;
static atomic_int hits, wrong_thread;

static void on_sig(int sig)
{
    (void)sig;
    if (!pthread_equal(pthread_self(), target))
        atomic_fetch_add(&wrong_thread, 1);
    atomic_fetch_add(&hits, 1);
}

/* Starts the call and waits until its thread is about to make it. */
static void start(struct call *c, const char *what, ssize_t (*fn)(struct call *), int fd)
{
    wd_step(10, "%s", what);
    c->what = what;
    c->fn = fn;
    c->fd = fd;
    atomic_store(&hits, 0);
    atomic_store(&wrong_thread, 0);
    c->t = target = spawn(call_thread, c);
    await_at_least(&c->entering, 1);
}

/* The call has not returned `ms` after it started. */
static void still_blocked(struct call *c, long ms, const char *after)
{
    sleep_ms(ms);
    CHECK(!atomic_load(&c->finished), "%s returned %zd (errno %d: %s) %s", c->what, c->ret, c->err, strerror(c->err),
          after);
}

static void join(struct call *c)
{
    CHECK_EQ(pthread_join(c->t, NULL), 0);
    CHECK_EQ(atomic_load(&wrong_thread), 0);
}

/* Sends SIGUSR1 every 20 ms until the call returns; it must return EINTR. */
static void expect_eintr(struct call *c)
{
    sleep_ms(20);
    while (!atomic_load(&c->finished)) {
        CHECK_EQ(pthread_kill(c->t, SIGUSR1), 0);
        sleep_ms(20);
    }
    join(c);
    CHECK(atomic_load(&hits) >= 1, "%s returned %zd, errno %d (%s), and the handler did not run", c->what, c->ret,
          c->err, strerror(c->err));
    CHECK(c->ret == -1 && c->err == EINTR, "%s returned %zd, errno %d (%s): wanted -1, EINTR", c->what, c->ret,
          c->err, strerror(c->err));
}

/* Three signals that must not end the call, each sent once the handler
   ran for the one before (two pending at once would merge into one). */
static void three_signals(struct call *c)
{
    for (int i = 0; i < 3; i++) {
        sleep_ms(20);
        CHECK_EQ(pthread_kill(c->t, SIGUSR1), 0);
        await_at_least(&hits, i + 1);
    }
    still_blocked(c, 20, "with SA_RESTART, after three signals and nothing to return");
}

static int full_pipe(int p[2])
{
    CHECK_EQ(pipe(p), 0);
    int size = fcntl(p[1], F_GETPIPE_SZ);
    CHECK(size > 0, "F_GETPIPE_SZ: %s", strerror(errno));
    char *fill = calloc(1, (size_t)size);
    CHECK(fill != NULL, "memory");
    CHECK_EQ(write(p[1], fill, (size_t)size), size); /* every slot a full page: a 1-byte write waits */
    free(fill);
    return size;
}

static void set_rcvtimeo(int fd, long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
}

/* ---- eintr, timeo, norestart ---- */

/* The calls that must return EINTR under the handler flags given. */
static void eintr_calls(int flags, int timeo, int polls)
{
    set_handler(SIGUSR1, on_sig, flags);
    struct call c;
    int p[2], sv[2], l, port;
    if (!timeo && !polls) {
        CHECK_EQ(pipe(p), 0);
        memset(&c, 0, sizeof c);
        start(&c, "eintr: read (pipe)", do_read, p[0]);
        expect_eintr(&c);
        memset(&c, 0, sizeof c);
        start(&c, "eintr: readv (pipe)", do_readv, p[0]);
        expect_eintr(&c);
        close2(p);
        full_pipe(p);
        memset(&c, 0, sizeof c);
        start(&c, "eintr: write (full pipe)", do_write1, p[1]);
        expect_eintr(&c);
        close2(p);
    }
    if (!polls) {
        CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        if (timeo)
            set_rcvtimeo(sv[0], 10000);
        memset(&c, 0, sizeof c);
        start(&c, timeo ? "timeo: recv (UNIX)" : "eintr: read (UNIX)", timeo ? do_recv : do_read, sv[0]);
        expect_eintr(&c);
        close2(sv);
        tcp_pair(sv);
        if (timeo)
            set_rcvtimeo(sv[0], 10000);
        memset(&c, 0, sizeof c);
        start(&c, timeo ? "timeo: read (TCP)" : "eintr: recv (TCP)", timeo ? do_read : do_recv, sv[0]);
        expect_eintr(&c);
        close2(sv);
        l = tcp_listener(4, &port);
        if (timeo)
            set_rcvtimeo(l, 10000);
        memset(&c, 0, sizeof c);
        start(&c, timeo ? "timeo: accept (TCP)" : "eintr: accept (TCP)", do_accept, l);
        expect_eintr(&c);
        CHECK_EQ(close(l), 0);
    }
    if (polls) {
        static const char *const names[] = {"norestart: poll", "norestart: ppoll", "norestart: select",
                                            "norestart: pselect"};
        ssize_t (*const fns[])(struct call *) = {do_poll, do_ppoll, do_select, do_pselect};
        CHECK_EQ(pipe(p), 0);
        for (int i = 0; i < 4; i++) {
            memset(&c, 0, sizeof c);
            start(&c, names[i], fns[i], p[0]);
            expect_eintr(&c);
        }
        int ep = epoll_create1(EPOLL_CLOEXEC);
        CHECK(ep >= 0, "epoll_create1: %s", strerror(errno));
        struct epoll_event ev = {.events = EPOLLIN};
        CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), 0);
        memset(&c, 0, sizeof c);
        start(&c, "norestart: epoll_wait", do_epoll_wait, ep);
        expect_eintr(&c);
        CHECK_EQ(close(ep), 0);
        close2(p);
    }
}

static void case_eintr(void)
{
    eintr_calls(0, 0, 0);
}

static void case_timeo(void)
{
    eintr_calls(SA_RESTART, 1, 0);
}

static void case_norestart(void)
{
    eintr_calls(SA_RESTART, 0, 1);
}

/* ---- restart ---- */

static void case_restart(void)
{
    set_handler(SIGUSR1, on_sig, SA_RESTART);
    struct call c;
    int p[2], sv[2];

    CHECK_EQ(pipe(p), 0);
    memset(&c, 0, sizeof c);
    start(&c, "restart: read (pipe)", do_read, p[0]);
    three_signals(&c);
    CHECK_EQ(write(p[1], "data", 4), 4);
    join(&c);
    CHECK(c.ret == 4 && memcmp(c.buf, "data", 4) == 0, "%s returned %zd (errno %d)", c.what, c.ret, c.err);
    close2(p);

    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    memset(&c, 0, sizeof c);
    start(&c, "restart: recv (UNIX)", do_recv, sv[0]);
    three_signals(&c);
    CHECK_EQ(send(sv[1], "sock", 4, 0), 4);
    join(&c);
    CHECK(c.ret == 4 && memcmp(c.buf, "sock", 4) == 0, "%s returned %zd (errno %d)", c.what, c.ret, c.err);
    close2(sv);

    int port, l = tcp_listener(4, &port);
    memset(&c, 0, sizeof c);
    start(&c, "restart: accept (TCP)", do_accept, l);
    three_signals(&c);
    int s = tcp_connect(port);
    join(&c);
    CHECK(c.ret >= 0, "%s returned %zd (errno %d)", c.what, c.ret, c.err);
    CHECK_EQ(close((int)c.ret), 0);
    CHECK_EQ(close(s), 0);
    CHECK_EQ(close(l), 0);

    int size = full_pipe(p);
    memset(&c, 0, sizeof c);
    start(&c, "restart: write (full pipe)", do_write1, p[1]);
    three_signals(&c);
    char *buf = malloc((size_t)size);
    CHECK(buf != NULL, "memory");
    CHECK_EQ(read(p[0], buf, 4096), 4096); /* one page free: room for the byte */
    join(&c);
    CHECK(c.ret == 1, "%s returned %zd (errno %d)", c.what, c.ret, c.err);
    CHECK_EQ(read_full(p[0], buf, (size_t)size - 4096 + 1), (size_t)size - 4096 + 1);
    CHECK_EQ(buf[size - 4096], 'w');
    free(buf);
    close2(p);
}

/* ---- close ---- */

/* A thread blocked reading rfd (a pipe's read end or a socket); another
   closes rfd. With `eof`, the peer then ends the stream (pipe: closes its
   end; socket: shuts down its writing side), else it writes. */
static void close_while_reading(const char *what, int rfd, int wfd, int sock, int eof)
{
    struct call c;
    memset(&c, 0, sizeof c);
    char step[96];
    snprintf(step, sizeof step, "close: %s, then %s", what, eof ? "the end of the stream" : "data");
    start(&c, step, do_read, rfd);
    still_blocked(&c, 50, "before anything happened");
    CHECK_EQ(close(rfd), 0);
    still_blocked(&c, 100, "after another thread closed its descriptor (Linux goes on waiting)");
    /* The closed number is free: a new pipe likely takes it. */
    int decoy[2];
    CHECK_EQ(pipe(decoy), 0);
    CHECK_EQ(write(decoy[1], "decoy", 5), 5);
    still_blocked(&c, 50, "when a new file got its descriptor number and data");
    if (eof) {
        if (sock)
            CHECK_EQ(shutdown(wfd, SHUT_WR), 0);
        else
            CHECK_EQ(close(wfd), 0);
    } else {
        ssize_t w = write(wfd, "after close", 11);
        CHECK(w == 11, "%s: the peer's write after the reader's close returned %zd (%s): the file must stay open "
              "while a read is in it", what, w, w < 0 ? strerror(errno) : "short");
    }
    join(&c);
    if (eof)
        CHECK(c.ret == 0, "%s returned %zd (errno %d), wanted 0 at the end of the stream", c.what, c.ret, c.err);
    else
        CHECK(c.ret == 11 && memcmp(c.buf, "after close", 11) == 0, "%s returned %zd (%.*s), errno %d", c.what, c.ret,
              c.ret > 0 ? (int)c.ret : 0, c.buf, c.err);
    close2(decoy);
    if (!eof || sock)
        CHECK_EQ(close(wfd), 0);
}

static void case_close(void)
{
    int p[2];
    for (int eof = 0; eof < 2; eof++) {
        CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0);
        close_while_reading("read (UNIX socket)", p[0], p[1], 1, eof);
        CHECK_EQ(pipe(p), 0);
        close_while_reading("read (pipe)", p[0], p[1], 0, eof);
    }
}

/* ---- dup2 ---- */

static void case_dup2(void)
{
    int a[2], b[2];
    CHECK_EQ(pipe(a), 0);
    CHECK_EQ(pipe(b), 0);
    struct call c;
    memset(&c, 0, sizeof c);
    start(&c, "dup2: read (pipe)", do_read, a[0]);
    still_blocked(&c, 50, "before anything happened");
    CHECK_EQ(dup2(b[0], a[0]), a[0]);
    CHECK_EQ(write(b[1], "second", 6), 6);
    still_blocked(&c, 100, "with data in the pipe dup2'd over its descriptor (Linux reads the first)");
    ssize_t w = write(a[1], "first", 5);
    CHECK(w == 5, "write to the first pipe, whose only descriptor for reading was replaced while a read is in it: %zd "
          "(%s)", w, w < 0 ? strerror(errno) : "short");
    join(&c);
    CHECK(c.ret == 5 && memcmp(c.buf, "first", 5) == 0, "%s returned %zd (%.*s), errno %d", c.what, c.ret,
          c.ret > 0 ? (int)c.ret : 0, c.buf, c.err);
    char buf[16];
    CHECK_EQ(read(a[0], buf, sizeof buf), 6);
    CHECK(memcmp(buf, "second", 6) == 0, "the descriptor does not read the second pipe");
    CHECK_EQ(close(a[0]), 0);
    CHECK_EQ(close(a[1]), 0);
    close2(b);
}

/* ---- shutdown ---- */

static void case_shutdown(void)
{
    for (int tcp = 0; tcp < 2; tcp++) {
        int sv[2];
        if (tcp)
            tcp_pair(sv);
        else
            CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        struct call c;
        memset(&c, 0, sizeof c);
        start(&c, tcp ? "shutdown: recv (TCP)" : "shutdown: recv (UNIX)", do_recv, sv[0]);
        still_blocked(&c, 50, "before anything happened");
        CHECK_EQ(shutdown(sv[0], SHUT_RDWR), 0);
        join(&c);
        CHECK(c.ret == 0, "%s returned %zd (errno %d), wanted 0 after shutdown(SHUT_RDWR)", c.what, c.ret, c.err);
        close2(sv);
    }
}

static const struct wd_case cases[] = {
    {"eintr", case_eintr}, {"restart", case_restart}, {"timeo", case_timeo},       {"norestart", case_norestart},
    {"close", case_close}, {"dup2", case_dup2},       {"shutdown", case_shutdown},
};

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    wd_start();
    struct timespec t0 = now(CLOCK_MONOTONIC);
    int ran = wd_run_cases(cases, sizeof cases / sizeof cases[0], argc, argv, 20, "signals and closes");
    CHECK(ran > 0, "no case named %s", argv[1]);
    printf("signals and closes reaching blocked I/O: %d case(s) in %ld ms (%s)\n", ran, ms_since(t0), test_mode());
    return 0;
}
