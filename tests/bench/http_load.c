/*
 * The load of scripts/bench's http row: CONNECTIONS keep-alive connections
 * to an HTTP/1.1 server on 127.0.0.1:PORT, each driven by a thread of its
 * own that sends REQUESTS requests one after the other and reads each
 * response whole (status line, headers, Content-Length bytes of body)
 * before sending the next.
 *
 *   bench-http_load PORT CONNECTIONS REQUESTS
 *
 * Prints one line:
 *
 *   http_load <requests per second> <requests answered> <errors>
 *
 * Requests per second count only the answered ones, over the time from the
 * first connection to the last response. An error is a request that did
 * not get the row's response (status 200 and the body below): refused
 * connection, reset, timeout (10 s), malformed or unexpected response. After
 * an error the thread closes its connection and opens a new one for its
 * next request. When there were errors, their causes are counted on
 * stderr. Always run natively: the row measures the server.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "bench.h"

/* The body every server of the row answers (http_server.c and
 * go/http_server.go). */
static const char body[] = "hello, world\n";
static const char request[] = "GET / HTTP/1.1\r\n"
                              "Host: 127.0.0.1\r\n"
                              "User-Agent: gpm-http-load\r\n"
                              "Accept: */*\r\n"
                              "\r\n";

enum { RESP_MAX = 8192 };

/* Why a request failed. */
enum cause { E_CONNECT, E_SEND, E_CLOSED, E_TIMEOUT, E_RECV, E_RESPONSE, E_COUNT };
static const char *const cause_names[E_COUNT] = {
    [E_CONNECT] = "connect failed",
    [E_SEND] = "send failed",
    [E_CLOSED] = "closed by the server",
    [E_TIMEOUT] = "no answer within 10 s",
    [E_RECV] = "receive failed",
    [E_RESPONSE] = "wrong response",
};

static int port;
static long requests;
static atomic_long answered, errors[E_COUNT];

static int connect_server(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    /* A server that stops answering costs an error, not a hang. */
    struct timeval tv = {.tv_sec = 10};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        close(s);
        return -1;
    }
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return s;
}

/* The cause of a failed read: k is what read returned. */
static int read_failure(ssize_t k)
{
    if (k == 0)
        return E_CLOSED;
    return errno == EAGAIN || errno == EWOULDBLOCK ? E_TIMEOUT : E_RECV;
}

/*
 * Reads one response from s and checks it. Returns -1 for the row's
 * response, else the cause of the failure. The server answers one request
 * at a time, so nothing past the body can be in flight: a byte past it is
 * an error too.
 */
static int read_response(int s)
{
    char buf[RESP_MAX + 1];
    size_t have = 0;
    char *blank = NULL;
    while (blank == NULL) {
        if (have == RESP_MAX)
            return E_RESPONSE;
        ssize_t k = read(s, buf + have, RESP_MAX - have);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return read_failure(k);
        have += (size_t)k;
        buf[have] = '\0';
        blank = strstr(buf, "\r\n\r\n");
    }
    if (strncmp(buf, "HTTP/1.1 200 ", 13) != 0)
        return E_RESPONSE;
    /* Content-Length, the only header we need; names are case-insensitive. */
    long length = -1;
    for (char *line = strstr(buf, "\r\n") + 2; line < blank + 2; line = strstr(line, "\r\n") + 2) {
        if (strncasecmp(line, "Content-Length:", 15) == 0)
            length = strtol(line + 15, NULL, 10);
    }
    size_t head = (size_t)(blank + 4 - buf);
    if (length != (long)(sizeof body - 1) || head + (size_t)length > RESP_MAX)
        return E_RESPONSE;
    while (have < head + (size_t)length) {
        ssize_t k = read(s, buf + have, head + (size_t)length - have);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return read_failure(k);
        have += (size_t)k;
    }
    if (have != head + (size_t)length || memcmp(buf + head, body, (size_t)length) != 0)
        return E_RESPONSE;
    return -1;
}

static void *connection(void *arg)
{
    (void)arg;
    int s = -1;
    long ok = 0, bad[E_COUNT] = {0};
    for (long i = 0; i < requests; i++) {
        if (s < 0 && (s = connect_server()) < 0) {
            bad[E_CONNECT]++;
            continue;
        }
        int cause = bench_write_all(s, request, sizeof request - 1) != 0 ? E_SEND : read_response(s);
        if (cause >= 0) {
            bad[cause]++;
            close(s);
            s = -1;
            continue;
        }
        ok++;
    }
    if (s >= 0)
        close(s);
    atomic_fetch_add(&answered, ok);
    for (int e = 0; e < E_COUNT; e++)
        atomic_fetch_add(&errors[e], bad[e]);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench-http_load PORT CONNECTIONS REQUESTS\n");
        return 2;
    }
    port = atoi(argv[1]);
    long conns = atol(argv[2]);
    requests = atol(argv[3]);
    pthread_t *t = malloc(sizeof *t * (size_t)conns);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    double t0 = bench_now_ns();
    for (long i = 0; i < conns; i++)
        if (pthread_create(&t[i], &attr, connection, NULL) != 0) {
            fprintf(stderr, "http_load: pthread_create failed\n");
            return 1;
        }
    for (long i = 0; i < conns; i++)
        pthread_join(t[i], NULL);
    double el = bench_now_ns() - t0;
    long ok = atomic_load(&answered), failed = 0;
    for (int e = 0; e < E_COUNT; e++) {
        long k = atomic_load(&errors[e]);
        if (k > 0)
            fprintf(stderr, "http_load: %ld requests: %s\n", k, cause_names[e]);
        failed += k;
    }
    printf("http_load %.1f %ld %ld\n", (double)ok * 1e9 / el, ok, failed);
    return 0;
}
