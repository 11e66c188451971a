/*
 * Echo over thousands of connections, a server thread per connection
 * blocked in read (issue 10: the netpoller). One case each:
 *   tcp   2,000 TCP connections over loopback: an acceptor thread accepts
 *         each and starts its server thread (read/write); 8 client
 *         threads connect (send/recv);
 *   unix  2,000 UNIX stream connections to an abstract address, the same
 *         way (accept4; the servers use recv/send, the clients read/write);
 *   pipe  1,000 connections of two pipes each, one each way.
 * Once every connection is up, nothing is sent until main has seen every
 * server thread enter read (and given the last ones 200 ms to get inside)
 * and counted the process's kernel threads. Then each client thread sends
 * one message on each of its connections, of 1 to 6,000 bytes that depend
 * on the connection and the round, and reads each reply back whole and
 * compares it; after the first of 3 rounds the connections are idle again
 * and main counts once more. Last, the clients shut their sending side
 * (close the request pipe), each server reads the end of the file and
 * closes, and each client reads that end in turn. The byte counts echoed
 * must add up to what was sent.
 *
 * The kernel thread count is printed in every mode. Under gpm with the
 * netpoller, idle connections hold no kernel thread: with GPM_TEST_MODE=gpm
 * and GPM_TEST_NETPOLL=1 it must be at most GPM_MAXPROCS + 8
 * (max_tasks_under_gpm in tasks.h). Without the netpoller
 * each blocked read holds a kernel thread, so that check is off until
 * tests/preload/meson.build sets GPM_TEST_NETPOLL.
 *
 * Needs 4,100 descriptors: the soft RLIMIT_NOFILE is raised to the hard
 * one, and the test is skipped (77) when that is not enough. The watchdog
 * (watchdog.h) names a step that hangs. Argument: one case name, or none
 * for all.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "np.h"
#include "tasks.h"
#include "watchdog.h"

enum { ROUNDS = 3, MAXMSG = 6000, CLIENTS = 8, INFLIGHT = 128 };
enum kind { TCP, UNIX_STREAM, PIPE };
static const char *const kind_names[] = {"tcp", "unix", "pipe"};

struct server {
    int r, w; /* the server's ends: requests come in on r, replies go out on w */
    pthread_t t;
    long echoed;
};

struct client {
    int w, r; /* the client's ends */
};

static enum kind kind;
static int nconn;
static struct server *srv;
static struct client *cli;
static atomic_int in_read; /* servers inside (or about to enter) their read */
static pthread_barrier_t phase;
static sem_t slots; /* connections begun but not yet accepted */
static int listener, port;

static size_t msg_size(int i, int round)
{
    return 1 + (size_t)(i * 131 + round * 977) % MAXMSG;
}

static unsigned char msg_byte(int i, int round, size_t k)
{
    return (unsigned char)(i * 7 + round * 13 + (int)(k * 31) + (int)(k >> 8));
}

static void send_full(int fd, const void *buf, size_t n)
{
    size_t put = 0;
    while (put < n) {
        ssize_t r = send(fd, (const char *)buf + put, n - put, 0);
        CHECK(r > 0, "send(%d) after %zu of %zu bytes: %s", fd, put, n, strerror(errno));
        put += (size_t)r;
    }
}

static size_t recv_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, (char *)buf + got, n - got, 0);
        CHECK(r >= 0, "recv(%d) after %zu of %zu bytes: %s", fd, got, n, strerror(errno));
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return got;
}

static void *serve(void *arg)
{
    struct server *s = arg;
    char buf[8192];
    for (;;) {
        atomic_fetch_add(&in_read, 1);
        ssize_t n = kind == UNIX_STREAM ? recv(s->r, buf, sizeof buf, 0) : read(s->r, buf, sizeof buf);
        atomic_fetch_sub(&in_read, 1);
        CHECK(n >= 0, "%s server: read: %s", kind_names[kind], strerror(errno));
        if (n == 0)
            break;
        if (kind == UNIX_STREAM)
            send_full(s->w, buf, (size_t)n);
        else
            write_full(s->w, buf, (size_t)n);
        s->echoed += n;
    }
    CHECK_EQ(close(s->r), 0);
    if (s->w != s->r)
        CHECK_EQ(close(s->w), 0);
    return NULL;
}

static void *acceptor(void *arg)
{
    (void)arg;
    for (int k = 0; k < nconn; k++) {
        int fd = kind == TCP ? accept(listener, NULL, NULL) : accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        CHECK(fd >= 0, "%s: accept %d: %s", kind_names[kind], k, strerror(errno));
        CHECK_EQ(sem_post(&slots), 0);
        srv[k].r = srv[k].w = fd;
        srv[k].t = spawn(serve, &srv[k]);
    }
    return NULL;
}

static void phase_wait(void)
{
    int r = pthread_barrier_wait(&phase);
    CHECK(r == 0 || r == PTHREAD_BARRIER_SERIAL_THREAD, "pthread_barrier_wait: %d", r);
}

static void *client(void *arg)
{
    int c = (int)(intptr_t)arg;
    if (kind != PIPE) {
        for (int i = c; i < nconn; i += CLIENTS) {
            while (sem_wait(&slots) != 0)
                CHECK_EQ(errno, EINTR);
            int fd = kind == TCP ? tcp_connect(port) : unix_connect(SOCK_STREAM, "echo");
            cli[i].w = cli[i].r = fd;
        }
    }
    phase_wait(); /* 1: connected */
    phase_wait(); /* 2: main counted the kernel threads */
    unsigned char msg[MAXMSG], got[MAXMSG];
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = c; i < nconn; i += CLIENTS) {
            size_t n = msg_size(i, round);
            for (size_t k = 0; k < n; k++)
                msg[k] = msg_byte(i, round, k);
            if (kind == TCP)
                send_full(cli[i].w, msg, n);
            else
                write_full(cli[i].w, msg, n);
        }
        for (int i = c; i < nconn; i += CLIENTS) {
            size_t n = msg_size(i, round);
            size_t g = kind == TCP ? recv_full(cli[i].r, got, n) : read_full(cli[i].r, got, n);
            CHECK(g == n, "%s connection %d round %d: %zu of %zu bytes came back", kind_names[kind], i, round, g, n);
            for (size_t k = 0; k < n; k++)
                CHECK(got[k] == msg_byte(i, round, k), "%s connection %d round %d: byte %zu is %d, not %d",
                      kind_names[kind], i, round, k, got[k], msg_byte(i, round, k));
        }
        if (round == 0) {
            phase_wait(); /* 3: idle again */
            phase_wait(); /* 4: counted */
        }
    }
    for (int i = c; i < nconn; i += CLIENTS) {
        if (kind == PIPE)
            CHECK_EQ(close(cli[i].w), 0);
        else
            CHECK_EQ(shutdown(cli[i].w, SHUT_WR), 0);
    }
    for (int i = c; i < nconn; i += CLIENTS) {
        char b;
        ssize_t r = read(cli[i].r, &b, 1);
        CHECK(r == 0, "%s connection %d: read after the server closed returned %zd (%s)", kind_names[kind], i, r,
              r < 0 ? strerror(errno) : "data");
        CHECK_EQ(close(cli[i].r), 0);
    }
    return NULL;
}

static int netpoll_check(void)
{
    const char *e = getenv("GPM_TEST_NETPOLL");
    return under_gpm() && e != NULL && strcmp(e, "1") == 0;
}

/* For a failed count: each kernel thread's name, state and system call
   (the number /proc/self/task/TID/syscall shows, "running" if none). */
static void list_tasks(void)
{
    DIR *d = opendir("/proc/self/task");
    CHECK(d != NULL, "cannot open /proc/self/task");
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], comm[64] = "?", stat[512] = "", sc[64] = "?";
        const char *files[3] = {"comm", "stat", "syscall"};
        char *bufs[3] = {comm, stat, sc};
        size_t sizes[3] = {sizeof comm, sizeof stat, sizeof sc};
        for (int i = 0; i < 3; i++) {
            snprintf(path, sizeof path, "/proc/self/task/%s/%s", e->d_name, files[i]);
            FILE *f = fopen(path, "r");
            if (f == NULL)
                continue;
            size_t k = fread(bufs[i], 1, sizes[i] - 1, f);
            fclose(f);
            bufs[i][k] = '\0';
            bufs[i][strcspn(bufs[i], "\n")] = '\0';
        }
        char *paren = strrchr(stat, ')');
        char state = paren != NULL && paren[1] == ' ' ? paren[2] : '?';
        sc[strcspn(sc, " ")] = '\0';
        fprintf(stderr, "  task %s %s: state %c, system call %s\n", e->d_name, comm, state, sc);
    }
    closedir(d);
}

/* Every server is in read and nothing is in flight: counts the kernel
   threads. */
static int idle_tasks(const char *when)
{
    wd_step(30, "echo %s: %s: every server thread enters read", kind_names[kind], when);
    while (atomic_load(&in_read) < nconn)
        sleep_ms(1);
    sleep_ms(200); /* the last ones get from the counter into the call */
    int tasks = count_tasks();
    int most = max_tasks_under_gpm();
    if (netpoll_check() && tasks > most)
        list_tasks();
    if (netpoll_check())
        CHECK(tasks <= most, "echo %s, %s: %d kernel threads for %d connections idle in read: at most %d wanted",
              kind_names[kind], when, tasks, nconn, most);
    return tasks;
}

static void run(enum kind k, int n)
{
    struct timespec t0 = now(CLOCK_MONOTONIC);
    kind = k;
    nconn = n;
    srv = calloc((size_t)n, sizeof *srv);
    cli = calloc((size_t)n, sizeof *cli);
    CHECK(srv != NULL && cli != NULL, "memory");
    atomic_store(&in_read, 0);
    CHECK_EQ(pthread_barrier_init(&phase, NULL, CLIENTS + 1), 0);
    CHECK_EQ(sem_init(&slots, 0, INFLIGHT), 0);
    wd_step(30, "echo %s: %d connections set up", kind_names[k], n);
    pthread_t acc = 0;
    if (k == TCP)
        listener = tcp_listener(512, &port);
    else if (k == UNIX_STREAM)
        listener = unix_listener(SOCK_STREAM, "echo", 512);
    if (k != PIPE) {
        acc = spawn(acceptor, NULL);
    } else {
        for (int i = 0; i < n; i++) {
            int req[2], rep[2];
            CHECK(pipe(req) == 0 && pipe(rep) == 0, "pipe %d: %s", i, strerror(errno));
            cli[i].w = req[1];
            cli[i].r = rep[0];
            srv[i].r = req[0];
            srv[i].w = rep[1];
            srv[i].t = spawn(serve, &srv[i]);
        }
    }
    pthread_t c[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        c[i] = spawn(client, (void *)(intptr_t)i);
    phase_wait(); /* 1 */
    if (k != PIPE)
        CHECK_EQ(pthread_join(acc, NULL), 0);
    int before = idle_tasks("before the exchange");
    phase_wait(); /* 2 */
    wd_step(30, "echo %s: first round", kind_names[k]);
    phase_wait(); /* 3 */
    int after = idle_tasks("after the first round");
    phase_wait(); /* 4 */
    wd_step(30, "echo %s: last rounds and close", kind_names[k]);
    for (int i = 0; i < CLIENTS; i++)
        CHECK_EQ(pthread_join(c[i], NULL), 0);
    long echoed = 0, sent = 0;
    for (int i = 0; i < n; i++) {
        CHECK_EQ(pthread_join(srv[i].t, NULL), 0);
        echoed += srv[i].echoed;
        for (int round = 0; round < ROUNDS; round++)
            sent += (long)msg_size(i, round);
    }
    CHECK(echoed == sent, "%s: the servers echoed %ld bytes, the clients sent %ld", kind_names[k], echoed, sent);
    if (k != PIPE)
        CHECK_EQ(close(listener), 0);
    CHECK_EQ(pthread_barrier_destroy(&phase), 0);
    CHECK_EQ(sem_destroy(&slots), 0);
    free(srv);
    free(cli);
    printf("echo %s: %d connections, %ld bytes each way; kernel threads while idle: %d, then %d (%s%s), %ld ms\n",
           kind_names[k], n, sent, before, after, test_mode(), netpoll_check() ? ", checked" : "", ms_since(t0));
}

static void case_tcp(void)
{
    run(TCP, 2000);
}

static void case_unix(void)
{
    run(UNIX_STREAM, 2000);
}

static void case_pipe(void)
{
    run(PIPE, 1000);
}

static const struct wd_case cases[] = {{"tcp", case_tcp}, {"unix", case_unix}, {"pipe", case_pipe}};

int main(int argc, char **argv)
{
    if (!raise_nofile(4100)) {
        printf("RLIMIT_NOFILE cannot be raised to 4,100 descriptors: skipped\n");
        return 77;
    }
    signal(SIGPIPE, SIG_IGN); /* a peer gone early is an error to report, not a death */
    wd_start();
    int ran = wd_run_cases(cases, sizeof cases / sizeof cases[0], argc, argv, 0, "echo");
    CHECK(ran > 0, "no case named %s", argv[1]);
    return 0;
}
