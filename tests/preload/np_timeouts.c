/*
 * Socket timeouts (issue 10: the netpoller turns SO_RCVTIMEO and
 * SO_SNDTIMEO into timers). One case each:
 *   rcvtimeo   with SO_RCVTIMEO at 200 ms and nothing to receive, each of
 *              these, in a thread of its own and all at once, returns -1
 *              with EAGAIN (EWOULDBLOCK, the same number on Linux): read,
 *              recv, recvmsg and readv on UNIX stream sockets, recv on a
 *              UNIX datagram socket, recvfrom on UDP, recv on TCP, accept
 *              on a TCP and on a UNIX listening socket; and recv with
 *              MSG_WAITALL of 100 bytes when 10 are there, on UNIX stream
 *              and TCP, returns those 10 when the time is up;
 *   rcvdata    with SO_RCVTIMEO at 10 s, recv on UNIX stream and TCP
 *              returns the data another thread sends meanwhile;
 *   sndtimeo   with SO_SNDTIMEO at 200 ms: send and write on a UNIX stream
 *              socket whose buffer is full (filled with MSG_DONTWAIT until
 *              EAGAIN; the peer never reads), send on a UNIX datagram
 *              socket whose peer's queue is full, and connect to a UNIX
 *              listener whose backlog is full, return -1 with EAGAIN; send
 *              of 64 KiB on a full TCP socket returns -1 with EAGAIN, or
 *              the part it could send (TCP frees room as the peer
 *              acknowledges; the test allows both);
 *   inherit    a socket accepted (by a thread waiting in accept) from a
 *              TCP listener with SO_RCVTIMEO at 200 ms has it too: recv
 *              returns EAGAIN; one accepted from a listener without, then
 *              given 200 ms, waits for data first and then times out;
 *   snddrain   with SO_SNDTIMEO at 10 s, a send blocked on a full UNIX
 *              stream socket returns its full count once the peer reads.
 * A timeout must not come early (at least 180 ms for 200: the kernel
 * rounds up to jiffies, and a wait can end on a jiffy boundary) and must
 * come within 5 s. The watchdog (watchdog.h) names a case that hangs.
 * Argument: one case name, or none for all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "np.h"
#include "watchdog.h"

#define TIMEOUT_MS 200
#define LOW_MS 180
#define HIGH_MS 5000

enum op { OP_READ, OP_RECV, OP_RECVMSG, OP_READV, OP_RECVFROM, OP_ACCEPT, OP_WAITALL, OP_SEND, OP_WRITE, OP_CONNECT };

/* One call in a thread of its own: what it returned and how long it took. */
struct timed {
    const char *what;
    int fd;
    enum op op;
    size_t len;                 /* bytes to send or receive */
    const struct sockaddr *to;  /* OP_CONNECT */
    socklen_t tolen;
    ssize_t ret;
    int err;
    long ms;
    atomic_int entering, finished;
    pthread_t t;
};

static void *timed_call(void *arg)
{
    struct timed *c = arg;
    static char junk[1 << 16]; /* sent from, never checked */
    char buf[4096]; /* receives ask for at most this much */
    struct iovec iov = {buf, c->len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    struct sockaddr_storage from;
    socklen_t fromlen = sizeof from;
    atomic_store(&c->entering, 1);
    struct timespec t0 = now(CLOCK_MONOTONIC);
    switch (c->op) {
    case OP_READ:
        c->ret = read(c->fd, buf, c->len);
        break;
    case OP_RECV:
        c->ret = recv(c->fd, buf, c->len, 0);
        break;
    case OP_RECVMSG:
        c->ret = recvmsg(c->fd, &m, 0);
        break;
    case OP_READV:
        c->ret = readv(c->fd, &iov, 1);
        break;
    case OP_RECVFROM:
        c->ret = recvfrom(c->fd, buf, c->len, 0, (struct sockaddr *)&from, &fromlen);
        break;
    case OP_ACCEPT:
        c->ret = accept(c->fd, NULL, NULL);
        break;
    case OP_WAITALL:
        c->ret = recv(c->fd, buf, c->len, MSG_WAITALL);
        break;
    case OP_SEND:
        c->ret = send(c->fd, junk, c->len, 0);
        break;
    case OP_WRITE:
        c->ret = write(c->fd, junk, c->len);
        break;
    case OP_CONNECT:
        c->ret = connect(c->fd, c->to, c->tolen);
        break;
    }
    c->err = errno;
    c->ms = ms_since(t0);
    atomic_store(&c->finished, 1);
    return NULL;
}

static void start(struct timed *c)
{
    c->t = spawn(timed_call, c);
}

static void set_timeo(int fd, int opt, long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    CHECK_EQ(setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv), 0);
}

/* Joins c; it must have timed out: -1 with EAGAIN, or (want_partial > 0)
   exactly want_partial bytes, or (want_partial < 0) any count short of
   c->len; not early, not too late. */
static void expect_timeout(struct timed *c, ssize_t want_partial)
{
    CHECK_EQ(pthread_join(c->t, NULL), 0);
    if (want_partial > 0)
        CHECK(c->ret == want_partial, "%s returned %zd (errno %d) after %ld ms, wanted %zd", c->what, c->ret, c->err,
              c->ms, want_partial);
    else if (want_partial < 0 && c->ret >= 0)
        CHECK(c->ret > 0 && (size_t)c->ret < c->len, "%s of %zu bytes returned %zd after %ld ms", c->what, c->len,
              c->ret, c->ms);
    else
        CHECK(c->ret == -1 && (c->err == EAGAIN || c->err == EWOULDBLOCK),
              "%s returned %zd, errno %d (%s), after %ld ms: wanted -1, EAGAIN", c->what, c->ret, c->err,
              strerror(c->err), c->ms);
    CHECK(c->ms >= LOW_MS, "%s: a %d ms timeout expired after %ld ms", c->what, TIMEOUT_MS, c->ms);
    CHECK(c->ms <= HIGH_MS, "%s: a %d ms timeout expired after %ld ms", c->what, TIMEOUT_MS, c->ms);
}

/* ---- rcvtimeo ---- */

enum { NRCV = 11 };

static void case_rcvtimeo(void)
{
    static const char *const names[NRCV] = {
        "read (UNIX stream)",      "recv (UNIX stream)", "recvmsg (UNIX stream)",     "readv (UNIX stream)",
        "recv (UNIX datagram)",    "recvfrom (UDP)",     "recv (TCP)",                "accept (TCP)",
        "accept (UNIX)",           "recv MSG_WAITALL (UNIX stream)", "recv MSG_WAITALL (TCP)",
    };
    static const enum op ops[NRCV] = {OP_READ, OP_RECV,   OP_RECVMSG, OP_READV,   OP_RECV,   OP_RECVFROM,
                                      OP_RECV, OP_ACCEPT, OP_ACCEPT,  OP_WAITALL, OP_WAITALL};
    int pairs[NRCV][2];
    struct timed c[NRCV];
    memset(c, 0, sizeof c);
    for (int i = 0; i < NRCV; i++) {
        pairs[i][1] = -1;
        switch (i) {
        case 4:
            CHECK_EQ(socketpair(AF_UNIX, SOCK_DGRAM, 0, pairs[i]), 0);
            break;
        case 5: {
            int u = socket(AF_INET, SOCK_DGRAM, 0);
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            CHECK_EQ(bind(u, (struct sockaddr *)&a, sizeof a), 0);
            pairs[i][0] = u;
            break;
        }
        case 6:
        case 10:
            tcp_pair(pairs[i]);
            break;
        case 7: {
            int port;
            pairs[i][0] = tcp_listener(4, &port);
            break;
        }
        case 8:
            pairs[i][0] = unix_listener(SOCK_STREAM, "rcvtimeo", 4);
            break;
        default:
            CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pairs[i]), 0);
        }
        set_timeo(pairs[i][0], SO_RCVTIMEO, TIMEOUT_MS);
        c[i].what = names[i];
        c[i].fd = pairs[i][0];
        c[i].op = ops[i];
        c[i].len = ops[i] == OP_WAITALL ? 100 : 4096;
        if (ops[i] == OP_WAITALL)
            CHECK_EQ(write(pairs[i][1], "0123456789", 10), 10);
    }
    for (int i = 0; i < NRCV; i++)
        start(&c[i]);
    for (int i = 0; i < NRCV; i++) {
        expect_timeout(&c[i], ops[i] == OP_WAITALL ? 10 : 0);
        CHECK_EQ(close(pairs[i][0]), 0);
        if (pairs[i][1] >= 0)
            CHECK_EQ(close(pairs[i][1]), 0);
    }
}

/* ---- rcvdata ---- */

static void case_rcvdata(void)
{
    for (int tcp = 0; tcp < 2; tcp++) {
        int sv[2];
        if (tcp)
            tcp_pair(sv);
        else
            CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        set_timeo(sv[0], SO_RCVTIMEO, 10000);
        struct timed c = {.what = tcp ? "recv (TCP)" : "recv (UNIX stream)", .fd = sv[0], .op = OP_RECV, .len = 4096};
        start(&c);
        await_at_least(&c.entering, 1);
        sleep_ms(50);
        CHECK_EQ(send(sv[1], "hello", 5, 0), 5);
        CHECK_EQ(pthread_join(c.t, NULL), 0);
        CHECK(c.ret == 5, "%s with a 10 s timeout returned %zd (errno %d) after %ld ms, wanted the 5 bytes sent",
              c.what, c.ret, c.err, c.ms);
        close2(sv);
    }
}

/* ---- sndtimeo ---- */

/* Sends with MSG_DONTWAIT until the buffer takes nothing more. */
static void fill(int fd, size_t chunk)
{
    static char junk[1 << 16];
    for (;;) {
        ssize_t r = send(fd, junk, chunk, MSG_DONTWAIT);
        if (r < 0) {
            CHECK(errno == EAGAIN || errno == EWOULDBLOCK, "filling: send: %s", strerror(errno));
            return;
        }
    }
}

/* TCP frees room as the peer acknowledges: fill until a send right after
   a 20 ms pause still takes nothing. */
static void fill_tcp(int fd)
{
    static char junk[1 << 16];
    for (;;) {
        fill(fd, sizeof junk);
        sleep_ms(20);
        ssize_t r = send(fd, junk, sizeof junk, MSG_DONTWAIT);
        if (r < 0) {
            CHECK(errno == EAGAIN || errno == EWOULDBLOCK, "filling: send: %s", strerror(errno));
            return;
        }
    }
}

enum { NSND = 5 };

static void case_sndtimeo(void)
{
    int pairs[NSND][2];
    struct timed c[NSND];
    memset(c, 0, sizeof c);
    /* 0, 1: a full UNIX stream socket, send and write. */
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pairs[i]), 0);
        fill(pairs[i][0], 4096);
        c[i] = (struct timed){.what = i ? "write (full UNIX stream)" : "send (full UNIX stream)", .fd = pairs[i][0],
                              .op = i ? OP_WRITE : OP_SEND, .len = 4096};
    }
    /* 2: a UNIX datagram socket whose peer's queue is full. */
    CHECK_EQ(socketpair(AF_UNIX, SOCK_DGRAM, 0, pairs[2]), 0);
    fill(pairs[2][0], 100);
    c[2] = (struct timed){.what = "send (UNIX datagram, full queue)", .fd = pairs[2][0], .op = OP_SEND, .len = 100};
    /* 3: connect to a UNIX listener with backlog 0 and one connection
       already waiting to be accepted. */
    pairs[3][1] = unix_listener(SOCK_STREAM, "sndtimeo", 0);
    int queued = unix_connect(SOCK_STREAM, "sndtimeo");
    static struct sockaddr_un ua;
    socklen_t ual = unix_addr(&ua, "sndtimeo");
    pairs[3][0] = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(pairs[3][0] >= 0, "socket");
    c[3] = (struct timed){.what = "connect (UNIX, backlog full)", .fd = pairs[3][0], .op = OP_CONNECT,
                          .to = (struct sockaddr *)&ua, .tolen = ual};
    /* 4: a full TCP socket. */
    tcp_pair(pairs[4]);
    fill_tcp(pairs[4][0]);
    c[4] = (struct timed){.what = "send (full TCP)", .fd = pairs[4][0], .op = OP_SEND, .len = 1 << 16};
    for (int i = 0; i < NSND; i++) {
        set_timeo(pairs[i][0], SO_SNDTIMEO, TIMEOUT_MS);
        start(&c[i]);
    }
    for (int i = 0; i < NSND; i++) {
        expect_timeout(&c[i], i == 4 ? -1 : 0);
        close2(pairs[i]);
    }
    CHECK_EQ(close(queued), 0);
}

/* ---- snddrain ---- */

static void case_snddrain(void)
{
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fill(sv[0], 4096);
    set_timeo(sv[0], SO_SNDTIMEO, 10000);
    struct timed c = {.what = "send (full UNIX stream, 10 s timeout)", .fd = sv[0], .op = OP_SEND, .len = 4096};
    start(&c);
    await_at_least(&c.entering, 1);
    sleep_ms(50);
    /* Drain until the sender is done and everything it sent is read. */
    char buf[1 << 16];
    for (;;) {
        ssize_t r = recv(sv[1], buf, sizeof buf, MSG_DONTWAIT);
        if (r > 0)
            continue;
        CHECK(r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK), "drain: recv returned %zd (%s)", r,
              strerror(errno));
        if (atomic_load(&c.finished))
            break;
        sleep_ms(1);
    }
    CHECK_EQ(pthread_join(c.t, NULL), 0);
    CHECK(c.ret == 4096, "%s returned %zd (errno %d) after %ld ms, wanted 4096", c.what, c.ret, c.err, c.ms);
    close2(sv);
}

/* ---- inherit ---- */

struct inheritor {
    int l;
    atomic_int s;
    ssize_t ret;
    int err;
    long ms;
};

/* Accepts (waiting: nobody has connected yet) and reads from the new
   socket, where nothing comes. */
static void *accept_then_read(void *arg)
{
    struct inheritor *in = arg;
    int s = accept(in->l, NULL, NULL);
    if (s < 0) {
        in->ret = -2;
        in->err = errno;
        return NULL;
    }
    atomic_store(&in->s, s);
    char b[16];
    struct timespec t0 = now(CLOCK_MONOTONIC);
    in->ret = recv(s, b, sizeof b, 0);
    in->err = errno;
    in->ms = ms_since(t0);
    return NULL;
}

static void case_inherit(void)
{
    /* The listener's SO_RCVTIMEO goes to the sockets accept makes. */
    int port, l = tcp_listener(4, &port);
    set_timeo(l, SO_RCVTIMEO, TIMEOUT_MS);
    struct inheritor in = {.l = l, .s = -1};
    pthread_t t = spawn(accept_then_read, &in);
    sleep_ms(20); /* let it wait in accept (well within its timeout) */
    int c = tcp_connect(port);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK(in.ret == -1 && (in.err == EAGAIN || in.err == EWOULDBLOCK),
          "recv on a socket accepted from a listener with SO_RCVTIMEO returned %zd (errno %d: %s)", in.ret, in.err,
          strerror(in.err));
    CHECK(in.ms >= LOW_MS && in.ms <= HIGH_MS, "the inherited %d ms timeout expired after %ld ms", TIMEOUT_MS, in.ms);
    CHECK_EQ(close(in.s), 0);
    CHECK_EQ(close(c), 0);
    CHECK_EQ(close(l), 0);

    /* None inherited, then one set on the accepted socket. */
    l = tcp_listener(4, &port);
    struct inheritor in2 = {.l = l, .s = -1};
    t = spawn(accept_then_read, &in2);
    sleep_ms(20);
    c = tcp_connect(port);
    while (atomic_load(&in2.s) < 0)
        sleep_ms(1);
    sleep_ms(50); /* the reader is blocked in recv without a timeout */
    CHECK_EQ(write(c, "x", 1), 1);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK(in2.ret == 1, "recv on an accepted socket without a timeout returned %zd (errno %d)", in2.ret, in2.err);
    set_timeo(in2.s, SO_RCVTIMEO, TIMEOUT_MS);
    char b[4];
    struct timespec t0 = now(CLOCK_MONOTONIC);
    ssize_t r = recv(in2.s, b, sizeof b, 0);
    int e = errno;
    long ms = ms_since(t0);
    CHECK(r == -1 && (e == EAGAIN || e == EWOULDBLOCK), "recv after setting SO_RCVTIMEO returned %zd (errno %d)", r,
          e);
    CHECK(ms >= LOW_MS && ms <= HIGH_MS, "a %d ms timeout set after accept expired after %ld ms", TIMEOUT_MS, ms);
    CHECK_EQ(close(in2.s), 0);
    CHECK_EQ(close(c), 0);
    CHECK_EQ(close(l), 0);
}

static const struct wd_case cases[] = {
    {"rcvtimeo", case_rcvtimeo},
    {"inherit", case_inherit},
    {"rcvdata", case_rcvdata},
    {"sndtimeo", case_sndtimeo},
    {"snddrain", case_snddrain},
};

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    wd_start();
    struct timespec t0 = now(CLOCK_MONOTONIC);
    int ran = wd_run_cases(cases, sizeof cases / sizeof cases[0], argc, argv, 20, "socket timeouts");
    CHECK(ran > 0, "no case named %s", argv[1]);
    printf("socket timeouts: %d case(s) in %ld ms (%s)\n", ran, ms_since(t0), test_mode());
    return 0;
}
