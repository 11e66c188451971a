/*
 * A thread-per-connection TCP echo server on loopback: CLIENTS client
 * threads (argv[2], default 1000), each connected to a server thread of its
 * own, send REQUESTS small requests each and check the echo. Reports the
 * time per request over all of them (lower is more requests per second).
 * Also a behaviour test (tests/preload/meson.build), scaled down.
 *
 * Every connection holds two descriptors in one process, so the program
 * raises its soft RLIMIT_NOFILE to the hard limit. Where even that is too
 * few (10,000 clients against a hard limit of 20,000), argv[3] "split"
 * runs the clients in a forked child process: the parent keeps the
 * listening socket and the server threads, the child the client threads,
 * the clock and the report.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static int lfd, port;
static long requests;

static void *serve(void *arg)
{
    int c = (int)(intptr_t)arg;
    char buf[64];
    ssize_t k;
    while ((k = read(c, buf, sizeof buf)) > 0)
        if (write(c, buf, (size_t)k) != k)
            break;
    close(c);
    return NULL;
}

static void *acceptor(void *arg)
{
    long clients = (long)arg;
    for (long i = 0; i < clients; i++) {
        int c = accept(lfd, NULL, NULL);
        if (c < 0)
            exit(1);
        int one = 1;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 64 * 1024);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, serve, (void *)(intptr_t)c) != 0)
            exit(1);
    }
    return NULL;
}

static void *client(void *arg)
{
    (void)arg;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0)
        exit(1);
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char msg[32], buf[16];
    for (long i = 0; i < requests; i++) {
        memset(msg, 0, sizeof msg);
        snprintf(msg, sizeof msg, "req %ld", i);
        if (write(s, msg, 16) != 16)
            exit(1);
        for (ssize_t got = 0; got < 16;) {
            ssize_t k = read(s, buf + got, (size_t)(16 - got));
            if (k <= 0)
                exit(1);
            got += k;
        }
        if (memcmp(buf, msg, 16) != 0) {
            fprintf(stderr, "echo_server: wrong echo\n");
            exit(1);
        }
    }
    close(s);
    return NULL;
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Starts the clients, waits for all of them and prints the report. */
static int run_clients(long clients)
{
    pthread_t *t = malloc(sizeof *t * (size_t)clients);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    double t0 = bench_now_ns();
    for (long i = 0; i < clients; i++)
        if (pthread_create(&t[i], &attr, client, NULL) != 0)
            return 1;
    for (long i = 0; i < clients; i++)
        pthread_join(t[i], NULL);
    bench_report("echo_server", bench_now_ns() - t0, requests * clients);
    return 0;
}

int main(int argc, char **argv)
{
    requests = bench_iterations(argc, argv, 100);
    long clients = argc > 2 ? atol(argv[2]) : 1000;
    int split = argc > 3 && strcmp(argv[3], "split") == 0;
    raise_nofile();
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 4096) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &al) != 0)
        return 1;
    port = ntohs(a.sin_port);
    if (!split) {
        pthread_t acc;
        pthread_create(&acc, NULL, acceptor, (void *)clients);
        int r = run_clients(clients);
        pthread_join(acc, NULL);
        return r;
    }
    /* Fork before any thread of ours exists: the child has only its main
     * thread, and the listening socket is all it shares with the parent. */
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        close(lfd);
        return run_clients(clients);
    }
    /* The parent ends when the child does, even if a failed child leaves
     * the acceptor waiting for connections that never come. */
    pthread_t acc;
    pthread_create(&acc, NULL, acceptor, (void *)clients);
    int status;
    if (waitpid(pid, &status, 0) != pid)
        return 1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
