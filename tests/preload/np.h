/*
 * tests/preload/np.h: helpers for the netpoller tests (np_*.c, issue 10):
 * blocking I/O on sockets, pipes and the like, as a program with a thread
 * per connection does it. Nothing here sets O_NONBLOCK: the descriptors
 * are blocking unless a test says otherwise.
 */
#ifndef GPM_TEST_NP_H
#define GPM_TEST_NP_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "timing.h"

#define MS 1000000L

static inline void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * MS};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Milliseconds since t0 (CLOCK_MONOTONIC). */
static inline long ms_since(struct timespec t0)
{
    return (long)((ns(now(CLOCK_MONOTONIC)) - ns(t0)) / MS);
}

/* Waits until *flag reaches want; a test whose partner never gets there
   is caught by the watchdog, which names the step. */
static inline void await_at_least(atomic_int *flag, int want)
{
    while (atomic_load(flag) < want)
        sleep_ms(1);
}

/* A thread with a small stack (64 KiB), for the programs that start
   thousands. */
static inline pthread_t spawn(void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr;
    CHECK_EQ(pthread_attr_init(&attr), 0);
    CHECK_EQ(pthread_attr_setstacksize(&attr, 64 * 1024), 0);
    pthread_t t;
    int err = pthread_create(&t, &attr, fn, arg);
    CHECK(err == 0, "pthread_create: %s", strerror(err));
    pthread_attr_destroy(&attr);
    return t;
}

/* Reads exactly n bytes unless the end of the file comes first; returns
   how many were read. Any error fails the test. */
static inline size_t read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        CHECK(r >= 0, "read(%d) after %zu of %zu bytes: %s", fd, got, n, strerror(errno));
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return got;
}

/* Writes all n bytes (a blocking write may return less only when a signal
   interrupts it; the tests that care check write's own count). */
static inline void write_full(int fd, const void *buf, size_t n)
{
    size_t put = 0;
    while (put < n) {
        ssize_t r = write(fd, (const char *)buf + put, n - put);
        CHECK(r > 0, "write(%d) after %zu of %zu bytes: %s", fd, put, n, strerror(errno));
        put += (size_t)r;
    }
}

static inline int fl_of(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    CHECK(fl >= 0, "fcntl(%d, F_GETFL): %s", fd, strerror(errno));
    return fl;
}

static inline void set_handler(int sig, void (*fn)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    CHECK_EQ(sigaction(sig, &sa, NULL), 0);
}

/* A TCP listener on 127.0.0.1 at a port the kernel picks; *port gets it. */
static inline int tcp_listener(int backlog, int *port)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(l >= 0, "socket: %s", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0, "bind: %s", strerror(errno));
    CHECK(listen(l, backlog) == 0, "listen: %s", strerror(errno));
    CHECK_EQ(getsockname(l, (struct sockaddr *)&a, &al), 0);
    *port = ntohs(a.sin_port);
    return l;
}

static inline int tcp_connect(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(s >= 0, "socket: %s", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(connect(s, (struct sockaddr *)&a, sizeof a) == 0, "connect to port %d: %s", port, strerror(errno));
    return s;
}

/* A connected TCP pair over loopback: sv[0] connected, sv[1] accepted. */
static inline void tcp_pair(int sv[2])
{
    int port;
    int l = tcp_listener(4, &port);
    sv[0] = tcp_connect(port);
    sv[1] = accept(l, NULL, NULL);
    CHECK(sv[1] >= 0, "accept: %s", strerror(errno));
    CHECK_EQ(close(l), 0);
}

/* Closes both descriptors of a pair. */
static inline void close2(int p[2])
{
    CHECK_EQ(close(p[0]), 0);
    CHECK_EQ(close(p[1]), 0);
}

/* An address in the abstract UNIX namespace (nothing in the file system),
   unique to this process and tag. */
static inline socklen_t unix_addr(struct sockaddr_un *a, const char *tag)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "gpm-np-%d-%s", (int)getpid(), tag);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

static inline int unix_listener(int type, const char *tag, int backlog)
{
    struct sockaddr_un a;
    socklen_t al = unix_addr(&a, tag);
    int l = socket(AF_UNIX, type, 0);
    CHECK(l >= 0, "socket: %s", strerror(errno));
    CHECK(bind(l, (struct sockaddr *)&a, al) == 0, "bind %s: %s", tag, strerror(errno));
    CHECK(listen(l, backlog) == 0, "listen: %s", strerror(errno));
    return l;
}

static inline int unix_connect(int type, const char *tag)
{
    struct sockaddr_un a;
    socklen_t al = unix_addr(&a, tag);
    int s = socket(AF_UNIX, type, 0);
    CHECK(s >= 0, "socket: %s", strerror(errno));
    CHECK(connect(s, (struct sockaddr *)&a, al) == 0, "connect to %s: %s", tag, strerror(errno));
    return s;
}

/* Raises the soft RLIMIT_NOFILE to the hard limit; returns whether that
   allows `need` descriptors. */
static inline int raise_nofile(long need)
{
    struct rlimit rl;
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur != rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit(RLIMIT_NOFILE, %llu): %s",
              (unsigned long long)rl.rlim_max, strerror(errno));
    }
    return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= (rlim_t)need;
}

#endif
