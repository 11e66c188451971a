/*
 * A program's own event loops and accept/connect (issue 10: the netpoller
 * parks epoll_wait, poll and select on the program's descriptors, and
 * accept and connect on readiness). One case each:
 *   epoll    an epoll instance with three pipes, level-triggered, and two
 *            UNIX stream sockets, edge-triggered:
 *            - epoll_wait(100 ms) with nothing ready returns 0, not early;
 *            - epoll_wait(-1) in a thread returns the one pipe main writes
 *              to 50 ms later;
 *            - level-triggered: data left unread is reported again;
 *            - edge-triggered: data left unread is not reported again
 *              (epoll_wait(100 ms) returns 0) until more arrives, which
 *              wakes an epoll_wait(-1) in a thread;
 *            - an epoll_wait(-1) in a thread wakes when main adds an
 *              already readable pipe with epoll_ctl;
 *            - epoll_pwait and epoll_pwait2 time out (the latter skipped
 *              where the kernel lacks it);
 *            - a loop thread (epoll_wait with 20 ms and with -1 timeouts in
 *              turn; the edge-triggered sockets drained with MSG_DONTWAIT
 *              until EAGAIN) takes 400 records from each of five writer
 *              threads, one per descriptor, all in order;
 *   poll     poll and ppoll over three pipes: a timeout with nothing ready
 *            returns 0 (not early); a poll(-1) in a thread returns the pipe
 *            written 50 ms later, and only it; POLLOUT on an empty pipe and
 *            POLLHUP on a pipe whose writer closed come at once; a
 *            negative fd is ignored, a closed one gets POLLNVAL; poll with
 *            no descriptors sleeps its timeout;
 *   select   the same with select and pselect: the timeout returns 0 with
 *            the sets cleared and (select, on Linux) the timeval at zero;
 *            pselect leaves its timespec as it was;
 *   accept   four threads block in accept and accept4 on one blocking TCP
 *            listener; four client threads make 50 connections each, each
 *            sends its number and gets it back plus one from whichever
 *            thread accepted it; every connection is accepted once;
 *            accept4's SOCK_CLOEXEC and SOCK_NONBLOCK reach the new socket
 *            only, the listener's flags are unchanged;
 *   connect  a blocking connect to a UNIX listener with a full backlog
 *            waits until main accepts the connection ahead of it; connect
 *            to a TCP port nobody listens on fails with ECONNREFUSED, and
 *            to an unbound abstract UNIX name with ECONNREFUSED.
 * Timeouts must not end early (1 ms allowed for clock granularity) and
 * must end within 5 s. The watchdog (watchdog.h) names a case that hangs.
 * Argument: one case name, or none for all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "np.h"
#include "watchdog.h"

#define HIGH_MS 5000

/* A wait of `ms` took `took_ns`: not early, not far too late. */
static void check_timeout(const char *what, long ms, int64_t took_ns)
{
    CHECK(took_ns >= (ms - 1) * MS, "%s: a %ld ms timeout ended after %.3f ms", what, ms, (double)took_ns / MS);
    CHECK(took_ns <= HIGH_MS * MS, "%s: a %ld ms timeout ended after %.3f ms", what, ms, (double)took_ns / MS);
}

/* ---- epoll ---- */

enum { NLT = 3, NET = 2, NFD = NLT + NET, RECS = 400 };
static int ep;
static int lt[NLT][2], et[NET][2];

/* The descriptor epoll event i is about, and the one to write to it. */
static int rfd(int i)
{
    return i < NLT ? lt[i][0] : et[i - NLT][0];
}

static int wfd(int i)
{
    return i < NLT ? lt[i][1] : et[i - NLT][1];
}

/* epoll_wait in a thread of its own. */
struct waiter {
    int timeout;
    int n;
    struct epoll_event ev[8];
    atomic_int entering;
    pthread_t t;
};

static void *wait_thread(void *arg)
{
    struct waiter *w = arg;
    atomic_store(&w->entering, 1);
    w->n = epoll_wait(ep, w->ev, 8, w->timeout);
    CHECK(w->n >= 0, "epoll_wait: %s", strerror(errno));
    return NULL;
}

static void start_waiter(struct waiter *w, int timeout)
{
    memset(w, 0, sizeof *w);
    w->timeout = timeout;
    w->t = spawn(wait_thread, w);
    await_at_least(&w->entering, 1);
    sleep_ms(50); /* let it block (the result is the same if it has not) */
}

/* Joins w, which must have returned exactly one event, for `id`. */
static void expect_one(struct waiter *w, uint32_t id, const char *what)
{
    CHECK_EQ(pthread_join(w->t, NULL), 0);
    CHECK(w->n == 1 && w->ev[0].data.u32 == id && (w->ev[0].events & EPOLLIN),
          "%s: epoll_wait returned %d, first for %u (events %#x), wanted one for %u", what, w->n,
          w->n > 0 ? w->ev[0].data.u32 : 0, w->n > 0 ? w->ev[0].events : 0, id);
}

static int wait_now(int timeout, struct epoll_event *ev, int max)
{
    int n = epoll_wait(ep, ev, max, timeout);
    CHECK(n >= 0, "epoll_wait: %s", strerror(errno));
    return n;
}

/* The loop: every record is 8 bytes, (descriptor, sequence). */
static size_t have[NFD];
static unsigned char partial[NFD][64 + 8];
static int next_seq[NFD];

static void take(int i, const unsigned char *buf, size_t n)
{
    memcpy(partial[i] + have[i], buf, n);
    have[i] += n;
    size_t k = 0;
    for (; k + 8 <= have[i]; k += 8) {
        uint32_t rec[2];
        memcpy(rec, partial[i] + k, 8);
        CHECK(rec[0] == (uint32_t)i && rec[1] == (uint32_t)next_seq[i],
              "epoll loop: descriptor %d: record (%u, %u) where (%d, %d) was due", i, rec[0], rec[1], i, next_seq[i]);
        next_seq[i]++;
    }
    memmove(partial[i], partial[i] + k, have[i] - k);
    have[i] -= k;
}

static void *loop_thread(void *arg)
{
    (void)arg;
    int done = 0;
    for (int iter = 0; done < NFD * RECS; iter++) {
        struct epoll_event ev[NFD];
        int n = wait_now(iter % 2 ? -1 : 20, ev, NFD);
        for (int e = 0; e < n; e++) {
            int i = (int)ev[e].data.u32;
            CHECK(i >= 0 && i < NFD, "epoll loop: event for %d", i);
            unsigned char buf[64];
            if (i < NLT) {
                ssize_t r = read(rfd(i), buf, sizeof buf);
                CHECK(r > 0, "epoll loop: read: %zd (%s)", r, strerror(errno));
                take(i, buf, (size_t)r);
                continue;
            }
            /* Edge-triggered: drain, the program's own MSG_DONTWAIT. */
            for (;;) {
                ssize_t r = recv(rfd(i), buf, sizeof buf, MSG_DONTWAIT);
                if (r < 0) {
                    CHECK(errno == EAGAIN || errno == EWOULDBLOCK, "epoll loop: recv: %s", strerror(errno));
                    break;
                }
                CHECK(r > 0, "epoll loop: recv returned 0");
                take(i, buf, (size_t)r);
            }
        }
        done = 0;
        for (int i = 0; i < NFD; i++)
            done += next_seq[i];
    }
    return NULL;
}

static void *record_writer(void *arg)
{
    int i = (int)(intptr_t)arg;
    for (int seq = 0; seq < RECS; seq++) {
        uint32_t rec[2] = {(uint32_t)i, (uint32_t)seq};
        CHECK_EQ(write(wfd(i), rec, 8), 8);
        if (seq % 16 == 0)
            sched_yield();
    }
    return NULL;
}

static void case_epoll(void)
{
    ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(ep >= 0, "epoll_create1: %s", strerror(errno));
    for (int i = 0; i < NFD; i++) {
        if (i < NLT)
            CHECK_EQ(pipe(lt[i]), 0);
        else
            CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, et[i - NLT]), 0);
        struct epoll_event ev = {.events = EPOLLIN | (i < NLT ? 0 : EPOLLET), .data.u32 = (uint32_t)i};
        CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, rfd(i), &ev), 0);
    }
    struct epoll_event ev[8];
    char buf[64];

    wd_step(10, "epoll: timeout");
    struct timespec t0 = now(CLOCK_MONOTONIC);
    CHECK_EQ(wait_now(100, ev, 8), 0);
    check_timeout("epoll_wait", 100, ns(now(CLOCK_MONOTONIC)) - ns(t0));

    wd_step(10, "epoll: wait -1, woken by a write");
    struct waiter w;
    start_waiter(&w, -1);
    CHECK_EQ(write(wfd(1), "b", 1), 1);
    expect_one(&w, 1, "a write to pipe 1");
    CHECK_EQ(read(rfd(1), buf, sizeof buf), 1);

    wd_step(10, "epoll: level-triggered");
    CHECK_EQ(write(wfd(0), "0123456789", 10), 10);
    CHECK(wait_now(0, ev, 8) == 1 && ev[0].data.u32 == 0, "level: no event for pipe 0");
    CHECK_EQ(read(rfd(0), buf, 4), 4);
    CHECK(wait_now(0, ev, 8) == 1 && ev[0].data.u32 == 0, "level: 6 bytes left unread are not reported again");
    CHECK_EQ(read(rfd(0), buf, sizeof buf), 6);
    CHECK_EQ(wait_now(0, ev, 8), 0);

    wd_step(10, "epoll: edge-triggered");
    CHECK_EQ(send(wfd(NLT), "0123456789", 10, 0), 10);
    CHECK(wait_now(0, ev, 8) == 1 && ev[0].data.u32 == NLT, "edge: no event for socket 0");
    CHECK_EQ(recv(rfd(NLT), buf, 4, 0), 4);
    t0 = now(CLOCK_MONOTONIC);
    int n = wait_now(100, ev, 8);
    CHECK(n == 0, "edge: %d event(s) (first for %u) with no new data", n, ev[0].data.u32);
    check_timeout("epoll_wait, edge-triggered, no new data", 100, ns(now(CLOCK_MONOTONIC)) - ns(t0));
    start_waiter(&w, -1);
    CHECK_EQ(send(wfd(NLT), "a", 1, 0), 1);
    expect_one(&w, NLT, "edge: new data");
    CHECK_EQ(recv(rfd(NLT), buf, sizeof buf, 0), 7);
    CHECK_EQ(recv(rfd(NLT), buf, sizeof buf, MSG_DONTWAIT), -1);
    CHECK(errno == EAGAIN || errno == EWOULDBLOCK, "recv MSG_DONTWAIT on an empty socket: %s", strerror(errno));

    wd_step(10, "epoll: epoll_ctl adds a ready descriptor while a thread waits");
    start_waiter(&w, -1);
    int extra[2];
    CHECK_EQ(pipe(extra), 0);
    CHECK_EQ(write(extra[1], "x", 1), 1);
    struct epoll_event add = {.events = EPOLLIN, .data.u32 = 99};
    CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, extra[0], &add), 0);
    expect_one(&w, 99, "epoll_ctl ADD of a ready pipe");
    CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_DEL, extra[0], NULL), 0);
    close2(extra);

    wd_step(10, "epoll: epoll_pwait and epoll_pwait2 time out");
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR2);
    t0 = now(CLOCK_MONOTONIC);
    CHECK_EQ(epoll_pwait(ep, ev, 8, 50, &mask), 0);
    check_timeout("epoll_pwait", 50, ns(now(CLOCK_MONOTONIC)) - ns(t0));
    struct timespec ts = {0, 50 * MS};
    t0 = now(CLOCK_MONOTONIC);
    int r2 = epoll_pwait2(ep, ev, 8, &ts, NULL);
    int pwait2 = !(r2 < 0 && errno == ENOSYS);
    if (pwait2) {
        CHECK(r2 == 0, "epoll_pwait2: %d (%s)", r2, strerror(errno));
        check_timeout("epoll_pwait2", 50, ns(now(CLOCK_MONOTONIC)) - ns(t0));
    }

    wd_step(20, "epoll: a loop thread takes %d records from %d writers", NFD * RECS, NFD);
    pthread_t loop = spawn(loop_thread, NULL), wr[NFD];
    for (int i = 0; i < NFD; i++)
        wr[i] = spawn(record_writer, (void *)(intptr_t)i);
    for (int i = 0; i < NFD; i++)
        CHECK_EQ(pthread_join(wr[i], NULL), 0);
    CHECK_EQ(pthread_join(loop, NULL), 0);
    for (int i = 0; i < NFD; i++) {
        CHECK_EQ(next_seq[i], RECS);
        CHECK_EQ(have[i], 0);
        if (i < NLT)
            close2(lt[i]);
        else
            close2(et[i - NLT]);
    }
    CHECK_EQ(close(ep), 0);
    if (!pwait2)
        printf("epoll: epoll_pwait2 is not in this kernel: not tested\n");
}

/* ---- poll ---- */

struct poller {
    int use_select; /* 0: poll, 1: ppoll, 2: select, 3: pselect */
    int p[3][2];
    int ret;
    struct pollfd pf[3];
    fd_set set;
    atomic_int entering;
    pthread_t t;
};

static void *poll_thread(void *arg)
{
    struct poller *q = arg;
    atomic_store(&q->entering, 1);
    switch (q->use_select) {
    case 0:
        q->ret = poll(q->pf, 3, -1);
        break;
    case 1:
        q->ret = ppoll(q->pf, 3, NULL, NULL);
        break;
    case 2:
    case 3: {
        int max = 0;
        FD_ZERO(&q->set);
        for (int i = 0; i < 3; i++) {
            FD_SET(q->p[i][0], &q->set);
            max = q->p[i][0] > max ? q->p[i][0] : max;
        }
        q->ret = q->use_select == 2 ? select(max + 1, &q->set, NULL, NULL, NULL)
                                    : pselect(max + 1, &q->set, NULL, NULL, NULL, NULL);
        break;
    }
    }
    CHECK(q->ret >= 0, "poll/select: %s", strerror(errno));
    return NULL;
}

static void set_pollfds(struct poller *q)
{
    for (int i = 0; i < 3; i++)
        q->pf[i] = (struct pollfd){.fd = q->p[i][0], .events = POLLIN};
}

/* A thread waits without a timeout on three pipes; main writes pipe 2. */
static void wakes_on_pipe2(struct poller *q, const char *what)
{
    wd_step(10, "%s: waits without a timeout, woken by a write", what);
    set_pollfds(q);
    atomic_store(&q->entering, 0);
    q->t = spawn(poll_thread, q);
    await_at_least(&q->entering, 1);
    sleep_ms(50);
    CHECK_EQ(write(q->p[2][1], "z", 1), 1);
    CHECK_EQ(pthread_join(q->t, NULL), 0);
    CHECK(q->ret == 1, "%s returned %d, wanted 1", what, q->ret);
    if (q->use_select < 2) {
        CHECK(q->pf[0].revents == 0 && q->pf[1].revents == 0 && q->pf[2].revents == POLLIN,
              "%s: revents %#x %#x %#x", what, q->pf[0].revents, q->pf[1].revents, q->pf[2].revents);
    } else {
        CHECK(!FD_ISSET(q->p[0][0], &q->set) && !FD_ISSET(q->p[1][0], &q->set) && FD_ISSET(q->p[2][0], &q->set),
              "%s: the set names other pipes than the one written", what);
    }
    char c;
    CHECK_EQ(read(q->p[2][0], &c, 1), 1);
}

static void case_poll(void)
{
    struct poller q;
    memset(&q, 0, sizeof q);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(pipe(q.p[i]), 0);

    wd_step(10, "poll: timeout");
    set_pollfds(&q);
    struct timespec t0 = now(CLOCK_MONOTONIC);
    CHECK_EQ(poll(q.pf, 3, 100), 0);
    check_timeout("poll", 100, ns(now(CLOCK_MONOTONIC)) - ns(t0));
    CHECK(q.pf[0].revents == 0 && q.pf[1].revents == 0 && q.pf[2].revents == 0, "poll timed out with revents set");
    struct timespec ts = {0, 100 * MS};
    sigset_t mask;
    sigemptyset(&mask);
    t0 = now(CLOCK_MONOTONIC);
    CHECK_EQ(ppoll(q.pf, 3, &ts, &mask), 0);
    check_timeout("ppoll", 100, ns(now(CLOCK_MONOTONIC)) - ns(t0));
    t0 = now(CLOCK_MONOTONIC);
    CHECK_EQ(poll(NULL, 0, 50), 0);
    check_timeout("poll with no descriptors", 50, ns(now(CLOCK_MONOTONIC)) - ns(t0));

    q.use_select = 0;
    wakes_on_pipe2(&q, "poll");
    q.use_select = 1;
    wakes_on_pipe2(&q, "ppoll");

    wd_step(10, "poll: POLLOUT, POLLHUP, POLLNVAL, negative fd");
    int closed = dup(0);
    CHECK(closed >= 0, "dup");
    CHECK_EQ(close(closed), 0);
    CHECK_EQ(close(q.p[1][1]), 0);
    struct pollfd pf[4] = {
        {.fd = q.p[0][1], .events = POLLOUT},
        {.fd = q.p[1][0], .events = POLLIN},
        {.fd = -1, .events = POLLIN},
        {.fd = closed, .events = POLLIN},
    };
    t0 = now(CLOCK_MONOTONIC);
    int n = poll(pf, 4, 10000);
    CHECK(n == 3, "poll over a writable pipe, a hung-up pipe, -1 and a closed fd returned %d", n);
    CHECK(ms_since(t0) < 5000, "poll took %ld ms with descriptors ready", ms_since(t0));
    CHECK(pf[0].revents == POLLOUT, "POLLOUT on an empty pipe: revents %#x", pf[0].revents);
    CHECK(pf[1].revents == POLLHUP, "a pipe whose writer closed: revents %#x", pf[1].revents);
    CHECK(pf[2].revents == 0, "fd -1: revents %#x", pf[2].revents);
    CHECK(pf[3].revents == POLLNVAL, "a closed fd: revents %#x", pf[3].revents);
    CHECK_EQ(close(q.p[1][0]), 0);
    close2(q.p[0]);
    close2(q.p[2]);
}

/* ---- select ---- */

static void case_select(void)
{
    struct poller q;
    memset(&q, 0, sizeof q);
    int max = 0;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(pipe(q.p[i]), 0);
        max = q.p[i][0] > max ? q.p[i][0] : max;
    }

    wd_step(10, "select: timeout");
    fd_set r;
    FD_ZERO(&r);
    for (int i = 0; i < 3; i++)
        FD_SET(q.p[i][0], &r);
    struct timeval tv = {0, 100000};
    struct timespec t0 = now(CLOCK_MONOTONIC);
    CHECK_EQ(select(max + 1, &r, NULL, NULL, &tv), 0);
    check_timeout("select", 100, ns(now(CLOCK_MONOTONIC)) - ns(t0));
    for (int i = 0; i < 3; i++)
        CHECK(!FD_ISSET(q.p[i][0], &r), "select timed out with pipe %d in the set", i);
    CHECK(tv.tv_sec == 0 && tv.tv_usec == 0, "select timed out and left the timeval at %ld.%06ld (Linux: zero)",
          (long)tv.tv_sec, (long)tv.tv_usec);
    FD_ZERO(&r);
    for (int i = 0; i < 3; i++)
        FD_SET(q.p[i][0], &r);
    struct timespec ts = {0, 100 * MS};
    t0 = now(CLOCK_MONOTONIC);
    CHECK_EQ(pselect(max + 1, &r, NULL, NULL, &ts, NULL), 0);
    check_timeout("pselect", 100, ns(now(CLOCK_MONOTONIC)) - ns(t0));
    CHECK(ts.tv_sec == 0 && ts.tv_nsec == 100 * MS, "pselect changed its timespec to %ld.%09ld", (long)ts.tv_sec,
          ts.tv_nsec);
    tv = (struct timeval){0, 50000};
    t0 = now(CLOCK_MONOTONIC);
    CHECK_EQ(select(0, NULL, NULL, NULL, &tv), 0);
    check_timeout("select with no descriptors", 50, ns(now(CLOCK_MONOTONIC)) - ns(t0));

    q.use_select = 2;
    wakes_on_pipe2(&q, "select");
    q.use_select = 3;
    wakes_on_pipe2(&q, "pselect");

    wd_step(10, "select: a writable pipe");
    fd_set w;
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_SET(q.p[0][0], &r);
    FD_SET(q.p[0][1], &w);
    int wmax = q.p[0][1] > q.p[0][0] ? q.p[0][1] : q.p[0][0];
    CHECK_EQ(select(wmax + 1, &r, &w, NULL, NULL), 1);
    CHECK(FD_ISSET(q.p[0][1], &w) && !FD_ISSET(q.p[0][0], &r), "select: the wrong descriptor is ready");
    for (int i = 0; i < 3; i++)
        close2(q.p[i]);
}

/* ---- accept ---- */

enum { ACCEPTORS = 4, CONNECTORS = 4, PER_CONNECTOR = 50 };
static int lsock, lport;
static atomic_int accepted_by[ACCEPTORS], seen[CONNECTORS * PER_CONNECTOR];

static void *acceptor(void *arg)
{
    int a = (int)(intptr_t)arg;
    for (;;) {
        int fd;
        if (a % 2 == 0) {
            fd = accept(lsock, NULL, NULL);
        } else {
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            fd = accept4(lsock, (struct sockaddr *)&from, &fl, a == 1 ? SOCK_CLOEXEC : 0);
            CHECK(fd < 0 || (fl == sizeof from && from.sin_family == AF_INET), "accept4: peer address");
        }
        CHECK(fd >= 0, "acceptor %d: accept: %s", a, strerror(errno));
        int fdfl = fcntl(fd, F_GETFD);
        CHECK(!!(fdfl & FD_CLOEXEC) == (a == 1), "acceptor %d: FD_CLOEXEC is %d", a, !!(fdfl & FD_CLOEXEC));
        CHECK(!(fl_of(fd) & O_NONBLOCK), "acceptor %d: the accepted socket is non-blocking", a);
        int32_t id;
        CHECK(read_full(fd, &id, 4) == 4, "acceptor %d: short read", a);
        if (id < 0) {
            CHECK_EQ(close(fd), 0);
            return NULL;
        }
        CHECK(id < CONNECTORS * PER_CONNECTOR, "acceptor %d: connection number %d", a, id);
        atomic_fetch_add(&seen[id], 1);
        atomic_fetch_add(&accepted_by[a], 1);
        id++;
        write_full(fd, &id, 4);
        CHECK_EQ(close(fd), 0);
    }
}

static void *connector(void *arg)
{
    int c = (int)(intptr_t)arg;
    for (int k = 0; k < PER_CONNECTOR; k++) {
        int32_t id = c * PER_CONNECTOR + k, back = -1;
        int s = tcp_connect(lport);
        write_full(s, &id, 4);
        CHECK(read_full(s, &back, 4) == 4 && back == id + 1, "connection %d: got %d back", id, back);
        CHECK_EQ(close(s), 0);
    }
    return NULL;
}

static void case_accept(void)
{
    lsock = tcp_listener(64, &lport);
    int lfl = fl_of(lsock);
    pthread_t acc[ACCEPTORS], con[CONNECTORS];
    for (int a = 0; a < ACCEPTORS; a++)
        acc[a] = spawn(acceptor, (void *)(intptr_t)a);
    sleep_ms(50); /* the acceptors block on the empty listener */
    CHECK(fl_of(lsock) == lfl, "the listener's flags changed to %#x from %#x while threads wait in accept",
          fl_of(lsock), lfl);
    for (int c = 0; c < CONNECTORS; c++)
        con[c] = spawn(connector, (void *)(intptr_t)c);
    for (int c = 0; c < CONNECTORS; c++)
        CHECK_EQ(pthread_join(con[c], NULL), 0);
    for (int a = 0; a < ACCEPTORS; a++) {
        int s = tcp_connect(lport);
        int32_t stop = -1;
        write_full(s, &stop, 4);
        char c;
        CHECK_EQ(read(s, &c, 1), 0); /* the acceptor closed it */
        CHECK_EQ(close(s), 0);
    }
    for (int a = 0; a < ACCEPTORS; a++)
        CHECK_EQ(pthread_join(acc[a], NULL), 0);
    for (int i = 0; i < CONNECTORS * PER_CONNECTOR; i++)
        CHECK(atomic_load(&seen[i]) == 1, "connection %d accepted %d times", i, atomic_load(&seen[i]));
    CHECK(fl_of(lsock) == lfl, "the listener's flags changed to %#x from %#x", fl_of(lsock), lfl);

    /* accept4's flags are the new socket's only. */
    int s = tcp_connect(lport);
    int fd = accept4(lsock, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    CHECK(fd >= 0, "accept4: %s", strerror(errno));
    CHECK(fl_of(fd) & O_NONBLOCK, "accept4(SOCK_NONBLOCK) gave a blocking socket");
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC, "accept4(SOCK_CLOEXEC) gave no FD_CLOEXEC");
    CHECK(fl_of(lsock) == lfl, "accept4(SOCK_NONBLOCK) changed the listener's flags");
    char c;
    CHECK_EQ(read(fd, &c, 1), -1);
    CHECK(errno == EAGAIN, "read on the non-blocking accepted socket: %s", strerror(errno));
    CHECK_EQ(close(fd), 0);
    CHECK_EQ(close(s), 0);
    CHECK_EQ(close(lsock), 0);
    printf("accept: %d connections taken by acceptors as %d, %d, %d, %d\n", CONNECTORS * PER_CONNECTOR,
           atomic_load(&accepted_by[0]), atomic_load(&accepted_by[1]), atomic_load(&accepted_by[2]),
           atomic_load(&accepted_by[3]));
}

/* ---- connect ---- */

struct connecting {
    int fd, ret, err;
    atomic_int entering, finished;
};

static void *connect_thread(void *arg)
{
    struct connecting *c = arg;
    struct sockaddr_un a;
    socklen_t al = unix_addr(&a, "connect");
    atomic_store(&c->entering, 1);
    c->ret = connect(c->fd, (struct sockaddr *)&a, al);
    c->err = errno;
    atomic_store(&c->finished, 1);
    return NULL;
}

static void case_connect(void)
{
    /* Backlog 0: one connection waits to be accepted, the next connect
       blocks until it is. */
    int l = unix_listener(SOCK_STREAM, "connect", 0);
    int first = unix_connect(SOCK_STREAM, "connect");
    struct connecting c = {.fd = socket(AF_UNIX, SOCK_STREAM, 0)};
    CHECK(c.fd >= 0, "socket");
    pthread_t t = spawn(connect_thread, &c);
    await_at_least(&c.entering, 1);
    sleep_ms(100);
    CHECK(!atomic_load(&c.finished), "connect to a full backlog returned %d (%s) before any accept", c.ret,
          strerror(c.err));
    int a1 = accept(l, NULL, NULL);
    CHECK(a1 >= 0, "accept: %s", strerror(errno));
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK(c.ret == 0, "the blocked connect returned %d (%s)", c.ret, strerror(c.err));
    int a2 = accept(l, NULL, NULL);
    CHECK(a2 >= 0, "accept: %s", strerror(errno));
    CHECK_EQ(write(c.fd, "hi", 2), 2);
    char buf[2];
    CHECK_EQ(read_full(a2, buf, 2), 2);
    CHECK(memcmp(buf, "hi", 2) == 0, "wrong bytes on the blocked-then-connected socket");
    int fds[] = {a1, a2, first, c.fd, l};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        CHECK_EQ(close(fds[i]), 0);

    /* Refused. */
    int port, tl = tcp_listener(1, &port);
    CHECK_EQ(close(tl), 0); /* nobody listens there now */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in ta = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK_EQ(connect(s, (struct sockaddr *)&ta, sizeof ta), -1);
    CHECK(errno == ECONNREFUSED, "connect to a closed TCP port: %s", strerror(errno));
    CHECK_EQ(close(s), 0);
    struct sockaddr_un ua;
    socklen_t ual = unix_addr(&ua, "nobody");
    s = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_EQ(connect(s, (struct sockaddr *)&ua, ual), -1);
    CHECK(errno == ECONNREFUSED, "connect to an unbound abstract UNIX name: %s", strerror(errno));
    CHECK_EQ(close(s), 0);
}

static const struct wd_case cases[] = {
    {"epoll", case_epoll},   {"poll", case_poll},       {"select", case_select},
    {"accept", case_accept}, {"connect", case_connect},
};

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    wd_start();
    struct timespec t0 = now(CLOCK_MONOTONIC);
    int ran = wd_run_cases(cases, sizeof cases / sizeof cases[0], argc, argv, 30, "event loops");
    CHECK(ran > 0, "no case named %s", argv[1]);
    printf("event loops, accept and connect: %d case(s) in %ld ms (%s)\n", ran, ms_since(t0), test_mode());
    return 0;
}
