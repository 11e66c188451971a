/*
 * A small HTTP/1.1 server with a thread per connection: the server half of
 * scripts/bench's http row. The load comes from bench-http_load, a separate
 * process that always runs natively, so that the row measures only how the
 * server's threads are run (natively, under gpm, or as Go's net/http in
 * tests/bench/go/http_server.go, which answers the same bytes).
 *
 *   bench-http_server [PORT]
 *
 * Listens on 127.0.0.1:PORT (none or 0: a free port the kernel picks),
 * prints the port on one line, and serves until it is killed.
 *
 * Each request is read up to the blank line that ends its headers; the
 * request line must be METHOD SP TARGET SP HTTP/1.x and each header line
 * NAME: VALUE. Every well-formed request gets the same small response with
 * a Content-Length. Connections are kept alive (HTTP/1.1's default, or
 * HTTP/1.0 with "Connection: keep-alive") until the client closes them or
 * asks for "Connection: close". Pipelined requests are answered in order.
 * A request with a body, or one that does not parse, gets 400 and the
 * connection is closed: the benchmark sends neither.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

/* The response of the row. Go's net/http writes its headers sorted by name:
 * these are in that order, so that both servers send the same bytes. */
#define BODY "hello, world\n"
static const char ok_keepalive[] = "HTTP/1.1 200 OK\r\n"
                                   "Content-Length: 13\r\n"
                                   "Content-Type: text/plain\r\n"
                                   "\r\n" BODY;
/* HTTP/1.0 keeps a connection only when both sides say so. */
static const char ok_keepalive10[] = "HTTP/1.1 200 OK\r\n"
                                     "Connection: keep-alive\r\n"
                                     "Content-Length: 13\r\n"
                                     "Content-Type: text/plain\r\n"
                                     "\r\n" BODY;
static const char ok_close[] = "HTTP/1.1 200 OK\r\n"
                               "Connection: close\r\n"
                               "Content-Length: 13\r\n"
                               "Content-Type: text/plain\r\n"
                               "\r\n" BODY;
static const char bad_request[] = "HTTP/1.1 400 Bad Request\r\n"
                                  "Connection: close\r\n"
                                  "Content-Length: 0\r\n"
                                  "\r\n";
_Static_assert(sizeof BODY - 1 == 13, "Content-Length must match BODY");

/* The longest request head (request line and headers) we accept. */
enum { HEAD_MAX = 8192 };

/* Does the header line [p, end) name NAME (case-insensitively)? Then
 * *value is its value without leading blanks. */
static int header_is(const char *p, const char *end, const char *name, const char **value)
{
    size_t len = strlen(name);
    if ((size_t)(end - p) <= len || strncasecmp(p, name, len) != 0 || p[len] != ':')
        return 0;
    p += len + 1;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    *value = p;
    return 1;
}

static int value_is(const char *v, const char *end, const char *token)
{
    size_t len = strlen(token);
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    return (size_t)(end - v) == len && strncasecmp(v, token, len) == 0;
}

/* What a request asks of its connection. */
enum { BAD = -1, CLOSE, KEEP_11, KEEP_10 };

/*
 * Parses the request head [head, end), end pointing at its final "\r\n"
 * (the blank line's). Returns KEEP_11 or KEEP_10 to keep the connection alive
 * (by HTTP/1.1's default, by HTTP/1.0's "Connection: keep-alive"), CLOSE to
 * close it after the response, BAD for a bad request.
 */

static int parse_head(const char *head, const char *end)
{
    const char *eol = memchr(head, '\r', (size_t)(end - head + 1));
    if (eol[1] != '\n')
        return BAD;
    /* METHOD SP TARGET SP HTTP/1.x: two spaces, none at either end. */
    const char *sp1 = memchr(head, ' ', (size_t)(eol - head));
    if (sp1 == NULL || sp1 == head)
        return BAD;
    const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
    if (sp2 == NULL || sp2 == sp1 + 1 || eol - sp2 - 1 != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0)
        return BAD;
    int http10;
    if (sp2[8] == '1')
        http10 = 0;
    else if (sp2[8] == '0')
        http10 = 1;
    else
        return BAD;
    int keep = http10 ? CLOSE : KEEP_11;
    for (const char *line = eol + 2; line < end; line = eol + 2) {
        eol = memchr(line, '\r', (size_t)(end - line + 1));
        if (eol[1] != '\n' || memchr(line, ':', (size_t)(eol - line)) == NULL)
            return BAD;
        const char *v;
        if (header_is(line, eol, "Connection", &v)) {
            if (value_is(v, eol, "close"))
                keep = CLOSE;
            else if (value_is(v, eol, "keep-alive") && http10)
                keep = KEEP_10;
        } else if (header_is(line, eol, "Content-Length", &v)) {
            if (!value_is(v, eol, "0"))
                return BAD;
        } else if (header_is(line, eol, "Transfer-Encoding", &v)) {
            return BAD;
        }
    }
    return keep;
}

static void *serve(void *arg)
{
    int c = (int)(intptr_t)arg;
    char buf[HEAD_MAX + 1];
    size_t have = 0;
    for (;;) {
        /* The end of the head: the first "\r\n\r\n" in the buffer. */
        buf[have] = '\0';
        char *blank = have >= 4 ? strstr(buf, "\r\n\r\n") : NULL;
        if (blank == NULL) {
            if (have == HEAD_MAX || memchr(buf, '\0', have) != NULL) {
                bench_write_all(c, bad_request, sizeof bad_request - 1);
                break;
            }
            ssize_t k = read(c, buf + have, HEAD_MAX - have);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                break;
            have += (size_t)k;
            continue;
        }
        int keep = parse_head(buf, blank + 2);
        if (keep == BAD) {
            bench_write_all(c, bad_request, sizeof bad_request - 1);
            break;
        }
        int w;
        if (keep == KEEP_11)
            w = bench_write_all(c, ok_keepalive, sizeof ok_keepalive - 1);
        else if (keep == KEEP_10)
            w = bench_write_all(c, ok_keepalive10, sizeof ok_keepalive10 - 1);
        else
            w = bench_write_all(c, ok_close, sizeof ok_close - 1);
        if (w != 0 || keep == CLOSE)
            break;
        /* Keep what follows this request: the next pipelined one. */
        size_t used = (size_t)(blank + 4 - buf);
        memmove(buf, buf + used, have - used);
        have -= used;
    }
    close(c);
    return NULL;
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 4096) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &al) != 0) {
        perror("http_server: listen");
        return 1;
    }
    printf("%d\n", ntohs(a.sin_port));
    fflush(stdout);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (;;) {
        int c = accept(lfd, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            perror("http_server: accept");
            return 1;
        }
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t t;
        if (pthread_create(&t, &attr, serve, (void *)(intptr_t)c) != 0) {
            fprintf(stderr, "http_server: pthread_create failed\n");
            return 1;
        }
    }
}
