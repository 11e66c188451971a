/*
 * Partial reads and writes on full buffers (issue 10: the netpoller must
 * give blocking descriptors exactly the kernel's counts). One case each:
 *   pipe      a thread writes 4 MiB to a blocking pipe in one write (then
 *             in one writev of three pieces); the reader waits 100 ms
 *             first, when the writer must still be inside its call (the
 *             pipe holds 64 KiB), then reads in small pieces (1 to 4,096
 *             bytes, pausing 2 ms every 256 KiB). Every byte arrives in
 *             order, and the write returns the full count: Linux's blocking
 *             pipe write returns only when all is written (or a signal
 *             interrupts it, and none is sent here);
 *   unix      the same over a UNIX stream socketpair, with send and
 *             sendmsg (unix_stream_sendmsg also loops until all is sent);
 *   tcp       the same over TCP loopback with 16 KiB socket buffers, with
 *             write and sendmsg (tcp_sendmsg waits for room until all is
 *             copied when no timeout is set);
 *   short     a read asks for more than is there and gets what is there:
 *             100 bytes written, read(4,096) returns 100, on a pipe, a
 *             UNIX stream socket and TCP; and a thread blocked in a
 *             4,096-byte read (recv, readv) wakes on a 10-byte write with 10;
 *   shorteof  a thread blocked in a 4,096-byte read on a UNIX stream socket
 *             and on TCP; main writes 10 bytes and closes its end at once:
 *             the reader's reads return 10 and then 0; on TCP, 3 bytes,
 *             an urgent byte and 3 more: the reader has the 6 ordinary
 *             bytes 50 ms later (a read stops at the urgent mark);
 *   waitall   recv(100, MSG_WAITALL) on a UNIX stream socket and on TCP
 *             waits through ten 10-byte sends, 5 ms apart, and returns all
 *             100 bytes;
 *   atomic    four threads write records of 16 to PIPE_BUF bytes to one
 *             pipe, each in a single write; writes of at most PIPE_BUF
 *             bytes are atomic (POSIX), so the reader, reading 1,000 bytes
 *             at a time, finds whole records, each writer's in order;
 *   messages  a writer sends 400 datagrams of 1 to 2,000 bytes over a UNIX
 *             SOCK_DGRAM and then a SOCK_SEQPACKET socketpair, blocking
 *             when the queue is full; the reader, pausing now and then,
 *             gets each whole, in order, with its own length.
 * The watchdog (watchdog.h) names a case that hangs. Argument: one case
 * name, or none for all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "np.h"
#include "watchdog.h"

#define BIG (4 << 20)

static unsigned char pattern(size_t k)
{
    return (unsigned char)((k ^ (k >> 8) ^ (k >> 16)) * 7 + 3);
}

static unsigned char *big;

enum how { VIA_WRITE, VIA_WRITEV, VIA_SEND, VIA_SENDMSG };
static const char *const how_names[] = {"write", "writev", "send", "sendmsg"};

struct bigwrite {
    int fd;
    enum how how;
    ssize_t ret;
    int err;
    atomic_int done;
};

static void *big_writer(void *arg)
{
    struct bigwrite *w = arg;
    struct iovec iov[3] = {{big, 1000}, {big + 1000, BIG / 2}, {big + 1000 + BIG / 2, BIG / 2 - 1000}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = 3};
    switch (w->how) {
    case VIA_WRITE:
        w->ret = write(w->fd, big, BIG);
        break;
    case VIA_WRITEV:
        w->ret = writev(w->fd, iov, 3);
        break;
    case VIA_SEND:
        w->ret = send(w->fd, big, BIG, 0);
        break;
    case VIA_SENDMSG:
        w->ret = sendmsg(w->fd, &m, 0);
        break;
    }
    w->err = errno;
    atomic_store(&w->done, 1);
    CHECK_EQ(close(w->fd), 0);
    return NULL;
}

/* One big write from a thread to wfd, read slowly in small pieces from
   rfd. */
static void big_transfer(const char *what, int wfd, int rfd, enum how how)
{
    wd_step(30, "partial %s: %s of 4 MiB", what, how_names[how]);
    struct bigwrite w = {.fd = wfd, .how = how};
    pthread_t t = spawn(big_writer, &w);
    sleep_ms(100);
    CHECK(!atomic_load(&w.done), "%s: %s of 4 MiB returned %zd before anything was read", what, how_names[how], w.ret);
    static const size_t pieces[] = {1, 7, 100, 1000, 4096, 333, 2, 3000};
    unsigned char buf[4096];
    size_t got = 0;
    for (int i = 0;; i++) {
        size_t want = pieces[i % 8];
        ssize_t r = read(rfd, buf, want);
        CHECK(r >= 0, "%s: read after %zu bytes: %s", what, got, strerror(errno));
        CHECK((size_t)r <= want, "%s: read(%zu) returned %zd", what, want, r);
        if (r == 0)
            break;
        for (ssize_t k = 0; k < r; k++)
            CHECK(buf[k] == pattern(got + (size_t)k), "%s: byte %zu is %d, not %d", what, got + (size_t)k, buf[k],
                  pattern(got + (size_t)k));
        size_t before = got;
        got += (size_t)r;
        if (got / (256 << 10) != before / (256 << 10))
            sleep_ms(2);
    }
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK(w.ret == BIG, "%s: blocking %s of %d bytes returned %zd (errno %d)", what, how_names[how], BIG, w.ret, w.err);
    CHECK(got == BIG, "%s: the reader got %zu of %d bytes", what, got, BIG);
    CHECK_EQ(close(rfd), 0);
}

static void case_pipe(void)
{
    for (enum how how = VIA_WRITE; how <= VIA_WRITEV; how++) {
        int p[2];
        CHECK_EQ(pipe(p), 0);
        big_transfer("pipe", p[1], p[0], how);
    }
}

static void case_unix(void)
{
    for (enum how how = VIA_SEND; how <= VIA_SENDMSG; how++) {
        int sv[2];
        CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        big_transfer("unix", sv[0], sv[1], how);
    }
}

static void small_buffers(int fd)
{
    int sz = 16 << 10;
    CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz), 0);
    CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz), 0);
}

/* A connected TCP pair over loopback with 16 KiB socket buffers, set
   before the connection exists (the listener's pass to the accepted
   socket). */
static void tcp_pair_small(int sv[2])
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(l >= 0, "socket");
    small_buffers(l);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    CHECK_EQ(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    CHECK_EQ(listen(l, 4), 0);
    CHECK_EQ(getsockname(l, (struct sockaddr *)&a, &al), 0);
    sv[0] = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(sv[0] >= 0, "socket");
    small_buffers(sv[0]);
    CHECK(connect(sv[0], (struct sockaddr *)&a, sizeof a) == 0, "connect: %s", strerror(errno));
    sv[1] = accept(l, NULL, NULL);
    CHECK(sv[1] >= 0, "accept: %s", strerror(errno));
    CHECK_EQ(close(l), 0);
}

static void case_tcp(void)
{
    enum how hows[] = {VIA_WRITE, VIA_SENDMSG};
    for (int i = 0; i < 2; i++) {
        int sv[2];
        tcp_pair_small(sv);
        big_transfer("tcp", sv[0], sv[1], hows[i]);
    }
}

/* ---- short ---- */

struct shortread {
    int fd, via; /* 0: read, 1: recv, 2: readv */
    ssize_t ret;
    char buf[4096];
    atomic_int entering;
};

static void *short_reader(void *arg)
{
    struct shortread *s = arg;
    struct iovec iov[2] = {{s->buf, 3}, {s->buf + 3, sizeof s->buf - 3}};
    atomic_store(&s->entering, 1);
    s->ret = s->via == 0 ? read(s->fd, s->buf, sizeof s->buf)
             : s->via == 1 ? recv(s->fd, s->buf, sizeof s->buf, 0)
                           : readv(s->fd, iov, 2);
    return NULL;
}

static void short_pair(const char *what, int wfd, int rfd, int sock)
{
    wd_step(10, "partial short: %s", what);
    char msg[100], buf[4096];
    for (int i = 0; i < 100; i++)
        msg[i] = (char)(i * 3);
    CHECK_EQ(write(wfd, msg, 100), 100);
    ssize_t r = read(rfd, buf, sizeof buf);
    CHECK(r == 100, "%s: read(4096) with 100 bytes there returned %zd", what, r);
    CHECK(memcmp(buf, msg, 100) == 0, "%s: wrong bytes", what);
    for (int via = 0; via < 3; via++) {
        if (via == 1 && !sock)
            continue;
        struct shortread s = {.fd = rfd, .via = via};
        pthread_t t = spawn(short_reader, &s);
        await_at_least(&s.entering, 1);
        sleep_ms(20); /* let it block (it returns the same either way) */
        CHECK_EQ(write(wfd, "0123456789", 10), 10);
        CHECK_EQ(pthread_join(t, NULL), 0);
        CHECK(s.ret == 10, "%s: a blocked 4,096-byte read (via %d) woken by 10 bytes returned %zd", what, via, s.ret);
        CHECK(memcmp(s.buf, "0123456789", 10) == 0, "%s: wrong bytes", what);
    }
    CHECK_EQ(close(wfd), 0);
    CHECK_EQ(close(rfd), 0);
}

static void case_short(void)
{
    int p[2];
    CHECK_EQ(pipe(p), 0);
    short_pair("pipe", p[1], p[0], 0);
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0);
    short_pair("unix", p[0], p[1], 1);
    tcp_pair(p);
    short_pair("tcp", p[0], p[1], 1);
}

/* ---- shorteof ---- */

/* A thread that reads a stream until its end, 4,096 bytes a call: keeps
   the bytes (the first 64) and what the first four calls returned. */
struct streamreader {
    int fd;
    char got[64];
    _Atomic size_t n;
    ssize_t rets[4];
    int nrets;
    atomic_int entering;
};

static void *stream_reader(void *arg)
{
    struct streamreader *s = arg;
    char buf[4096];
    atomic_store(&s->entering, 1);
    for (;;) {
        ssize_t r = read(s->fd, buf, sizeof buf);
        if (s->nrets < 4)
            s->rets[s->nrets++] = r;
        if (r <= 0)
            return NULL;
        size_t n = atomic_load(&s->n);
        if (n + (size_t)r <= sizeof s->got) {
            memcpy(s->got + n, buf, (size_t)r);
            atomic_store(&s->n, n + (size_t)r);
        }
    }
}

/* Starts a stream_reader on fd and lets it block in its first read. */
static pthread_t start_reader(struct streamreader *s, int fd)
{
    memset(s, 0, sizeof *s);
    s->fd = fd;
    pthread_t t = spawn(stream_reader, s);
    await_at_least(&s->entering, 1);
    sleep_ms(20); /* let it block */
    return t;
}

/* A reader blocked in a large read; then 10 bytes and the end of the
   stream come together: a short read of 10, then 0 at once. */
static void shorteof_pair(const char *what, int wfd, int rfd)
{
    wd_step(10, "partial shorteof: %s", what);
    struct streamreader e;
    pthread_t t = start_reader(&e, rfd);
    CHECK_EQ(write(wfd, "0123456789", 10), 10);
    CHECK_EQ(close(wfd), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK(e.nrets == 2 && e.rets[0] == 10 && e.rets[1] == 0, "%s: reads returned %zd, %zd (%d of them)", what,
          e.rets[0], e.rets[1], e.nrets);
    CHECK_EQ(close(rfd), 0);
}

/* TCP urgent data: a read stops short at the urgent mark with data after
   it; the next read gets that data. */
static void urgent_tcp(void)
{
    wd_step(10, "partial shorteof: tcp urgent data");
    int p[2];
    tcp_pair(p);
    struct streamreader u;
    pthread_t t = start_reader(&u, p[1]);
    CHECK_EQ(send(p[0], "abc", 3, 0), 3);
    CHECK_EQ(send(p[0], "U", 1, MSG_OOB), 1);
    CHECK_EQ(send(p[0], "def", 3, 0), 3);
    sleep_ms(50);
    CHECK(atomic_load(&u.n) == 6, "tcp: the reader has %zu bytes 50 ms after urgent data with 3 bytes after it",
          atomic_load(&u.n));
    CHECK_EQ(close(p[0]), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK(u.n == 6 && memcmp(u.got, "abcdef", 6) == 0, "tcp: read %.*s around urgent data", (int)u.n, u.got);
    CHECK_EQ(close(p[1]), 0);
}

static void case_shorteof(void)
{
    int p[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0);
    shorteof_pair("unix", p[0], p[1]);
    tcp_pair(p);
    shorteof_pair("tcp", p[0], p[1]);
    urgent_tcp();
}

/* ---- waitall ---- */

struct waitall {
    int fd;
    ssize_t ret;
    unsigned char buf[100];
    atomic_int entering, finished;
};

static void *waitall_reader(void *arg)
{
    struct waitall *w = arg;
    atomic_store(&w->entering, 1);
    w->ret = recv(w->fd, w->buf, sizeof w->buf, MSG_WAITALL);
    atomic_store(&w->finished, 1);
    return NULL;
}

static void case_waitall(void)
{
    for (int tcp = 0; tcp < 2; tcp++) {
        const char *what = tcp ? "tcp" : "unix";
        wd_step(10, "partial waitall: %s", what);
        int sv[2];
        if (tcp)
            tcp_pair(sv);
        else
            CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        struct waitall w = {.fd = sv[1]};
        pthread_t t = spawn(waitall_reader, &w);
        await_at_least(&w.entering, 1);
        unsigned char piece[10];
        for (int i = 0; i < 10; i++) {
            sleep_ms(5);
            CHECK(!atomic_load(&w.finished), "%s: recv(100, MSG_WAITALL) returned %zd after %d bytes", what, w.ret,
                  i * 10);
            for (int k = 0; k < 10; k++)
                piece[k] = (unsigned char)(i * 10 + k);
            CHECK_EQ(send(sv[0], piece, 10, 0), 10);
        }
        CHECK_EQ(pthread_join(t, NULL), 0);
        CHECK(w.ret == 100, "%s: recv(100, MSG_WAITALL) returned %zd", what, w.ret);
        for (int k = 0; k < 100; k++)
            CHECK(w.buf[k] == k, "%s: MSG_WAITALL byte %d is %d", what, k, w.buf[k]);
        CHECK_EQ(close(sv[0]), 0);
        CHECK_EQ(close(sv[1]), 0);
    }
}

/* ---- atomic ---- */

enum { WRITERS = 4, RECORDS = 1500, HDR = 12 };
static int apipe[2];

static size_t record_len(int w, int seq)
{
    return HDR + (size_t)(seq * 397 + w * 101) % (PIPE_BUF - HDR + 1);
}

static void *record_writer(void *arg)
{
    int w = (int)(intptr_t)arg;
    unsigned char rec[PIPE_BUF];
    for (int seq = 0; seq < RECORDS; seq++) {
        size_t n = record_len(w, seq);
        uint32_t hdr[3] = {(uint32_t)w, (uint32_t)seq, (uint32_t)n};
        memcpy(rec, hdr, HDR);
        for (size_t k = HDR; k < n; k++)
            rec[k] = (unsigned char)(w * 50 + seq + k);
        ssize_t r = write(apipe[1], rec, n);
        CHECK(r == (ssize_t)n, "writer %d: write of %zu bytes returned %zd", w, n, r);
    }
    return NULL;
}

static void case_atomic(void)
{
    CHECK_EQ(pipe(apipe), 0);
    pthread_t t[WRITERS];
    for (int w = 0; w < WRITERS; w++)
        t[w] = spawn(record_writer, (void *)(intptr_t)w);
    /* The stream is whole records back to back: parse it from reads of
       1,000 bytes that cut them anywhere. */
    static unsigned char stream[2 * PIPE_BUF];
    size_t have = 0;
    int next[WRITERS] = {0}, total = 0;
    while (total < WRITERS * RECORDS) {
        ssize_t r = read(apipe[0], stream + have, 1000);
        CHECK(r > 0, "read: %zd (%s)", r, strerror(errno));
        have += (size_t)r;
        for (;;) {
            if (have < HDR)
                break;
            uint32_t hdr[3];
            memcpy(hdr, stream, HDR);
            CHECK(hdr[0] < WRITERS, "record %d starts with writer %u: records interleaved", total, hdr[0]);
            int w = (int)hdr[0];
            CHECK((int)hdr[1] == next[w], "writer %d's record %u came where %d was due", w, hdr[1], next[w]);
            CHECK(hdr[2] == record_len(w, next[w]), "writer %d record %d: length %u", w, next[w], hdr[2]);
            if (have < hdr[2])
                break;
            for (size_t k = HDR; k < hdr[2]; k++)
                CHECK(stream[k] == (unsigned char)(w * 50 + next[w] + k),
                      "writer %d record %d: byte %zu is wrong: interleaved with another write", w, next[w], k);
            memmove(stream, stream + hdr[2], have - hdr[2]);
            have -= hdr[2];
            next[w]++;
            total++;
        }
    }
    CHECK_EQ(have, 0);
    for (int w = 0; w < WRITERS; w++)
        CHECK_EQ(pthread_join(t[w], NULL), 0);
    CHECK_EQ(close(apipe[1]), 0);
    char c;
    CHECK_EQ(read(apipe[0], &c, 1), 0);
    CHECK_EQ(close(apipe[0]), 0);
}

/* ---- messages ---- */

enum { MSGS = 400 };

static size_t dgram_len(int i)
{
    return 1 + (size_t)(i * 263) % 2000;
}

static void *dgram_writer(void *arg)
{
    int fd = (int)(intptr_t)arg;
    unsigned char m[2000];
    for (int i = 0; i < MSGS; i++) {
        size_t n = dgram_len(i);
        for (size_t k = 0; k < n; k++)
            m[k] = (unsigned char)(i + k * 5);
        ssize_t r = i % 2 ? send(fd, m, n, 0) : write(fd, m, n);
        CHECK(r == (ssize_t)n, "datagram %d of %zu bytes: sent %zd (%s)", i, n, r, r < 0 ? strerror(errno) : "");
    }
    return NULL;
}

static void case_messages(void)
{
    int types[] = {SOCK_DGRAM, SOCK_SEQPACKET};
    for (int ti = 0; ti < 2; ti++) {
        const char *what = ti ? "seqpacket" : "dgram";
        wd_step(20, "partial messages: %s", what);
        int sv[2];
        CHECK_EQ(socketpair(AF_UNIX, types[ti], 0, sv), 0);
        pthread_t t = spawn(dgram_writer, (void *)(intptr_t)sv[0]);
        sleep_ms(50); /* the writer fills the queue and blocks */
        unsigned char m[4096];
        for (int i = 0; i < MSGS; i++) {
            if (i % 50 == 0)
                sleep_ms(2);
            ssize_t r = i % 2 ? recv(sv[1], m, sizeof m, 0) : read(sv[1], m, sizeof m);
            CHECK(r == (ssize_t)dgram_len(i), "%s %d: received %zd bytes, sent %zu", what, i, r, dgram_len(i));
            for (ssize_t k = 0; k < r; k++)
                CHECK(m[k] == (unsigned char)(i + k * 5), "%s %d: byte %zd is wrong", what, i, k);
        }
        CHECK_EQ(pthread_join(t, NULL), 0);
        CHECK_EQ(close(sv[0]), 0);
        CHECK_EQ(close(sv[1]), 0);
    }
}

static const struct wd_case cases[] = {
    {"pipe", case_pipe},   {"unix", case_unix},     {"tcp", case_tcp},
    {"short", case_short}, {"shorteof", case_shorteof}, {"waitall", case_waitall}, {"atomic", case_atomic}, {"messages", case_messages},
};

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    big = malloc(BIG);
    CHECK(big != NULL, "memory");
    for (size_t k = 0; k < BIG; k++)
        big[k] = pattern(k);
    wd_start();
    struct timespec t0 = now(CLOCK_MONOTONIC);
    int ran = wd_run_cases(cases, sizeof cases / sizeof cases[0], argc, argv, 30, "partial");
    CHECK(ran > 0, "no case named %s", argv[1]);
    printf("partial reads and writes: %d case(s) in %ld ms (%s)\n", ran, ms_since(t0), test_mode());
    free(big);
    return 0;
}
