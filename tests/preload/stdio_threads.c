/*
 * stdio from many threads at once. 64 threads each write 200 lines, built
 * with snprintf, to two shared FILEs (a tmpfile() with its default buffer,
 * and one with a 32-byte line buffer so that every line takes several
 * flushes), yielding between lines so that the threads interleave and, with
 * GPM_MAXPROCS=2, move between kernel threads. Afterwards every line of both
 * files must be whole (no line mixed with another), equal to what the main
 * thread's snprintf makes of the same values, each thread's lines in its
 * own order, and exactly 200 per thread. The stream lock is a recursive
 * lock owned by a thread: each thread also writes some lines piecewise
 * between flockfile and funlockfile (with nested ftrylockfile), which must
 * come out as whole lines too. Each thread also writes into a FILE of its
 * own (open_memstream), yielding between writes, and reads it back through
 * fmemopen, so per-stream buffers stay per-thread.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "check.h"

#define NT 64
#define NL 200
#define MAXLINE 256

static FILE *shared[2];
static char linebuf[32];

/* The line thread id writes as its i-th; also recomputed by main. */
static int make_line(char *buf, size_t size, int id, int i)
{
    char payload[128];
    int plen = (id * 7 + i * 13) % 100 + 1;
    for (int k = 0; k < plen; k++)
        payload[k] = (char)('a' + (id + i + k) % 26);
    payload[plen] = '\0';
    unsigned hash = (unsigned)(id * 2654435761u) ^ (unsigned)(i * 40503u);
    return snprintf(buf, size, "T%02d L%03d %s|%08x|%.3f|%-5d|%+.2e\n", id, i, payload, hash,
                    id + i / 1000.0, -id, (double)(i + 1) * 1e-3);
}

static void *writer(void *arg)
{
    int id = (int)(intptr_t)arg;
    char *mbuf = NULL;
    size_t msize = 0;
    FILE *own = open_memstream(&mbuf, &msize);
    CHECK(own != NULL, "thread %d: open_memstream failed", id);
    for (int i = 0; i < NL; i++) {
        char line[MAXLINE];
        int n = make_line(line, sizeof line, id, i);
        CHECK(n > 0 && n < MAXLINE, "thread %d: snprintf returned %d", id, n);
        for (int f = 0; f < 2; f++) {
            FILE *fp = shared[f];
            if (i % 5 == 0) {
                /* The same line piecewise, under the stream's lock, taken
                   recursively. No yield while holding it. */
                flockfile(fp);
                CHECK(ftrylockfile(fp) == 0, "thread %d: ftrylockfile on a stream it holds failed", id);
                int half = n / 2;
                CHECK(fwrite_unlocked(line, 1, (size_t)half, fp) == (size_t)half, "thread %d: fwrite", id);
                for (int k = half; k < n - 1; k++)
                    CHECK(putc_unlocked(line[k], fp) == (unsigned char)line[k], "thread %d: putc", id);
                funlockfile(fp);
                CHECK(fputc('\n', fp) == '\n', "thread %d: fputc", id);
                funlockfile(fp);
            } else {
                CHECK(fprintf(fp, "%s", line) == n, "thread %d: fprintf", id);
            }
            sched_yield();
        }
        CHECK(fputs(line, own) >= 0, "thread %d: fputs to its own stream", id);
        if (i % 3 == 0)
            sched_yield();
    }
    CHECK(fclose(own) == 0, "thread %d: fclose of its memstream", id);

    /* Read its own stream back. */
    FILE *in = fmemopen(mbuf, msize, "r");
    CHECK(in != NULL, "thread %d: fmemopen failed", id);
    char got[MAXLINE], want[MAXLINE];
    int i = 0;
    while (fgets(got, sizeof got, in) != NULL) {
        CHECK(i < NL, "thread %d: more than %d lines in its own stream", id, NL);
        make_line(want, sizeof want, id, i);
        CHECK(strcmp(got, want) == 0, "thread %d: own stream line %d is \"%s\"", id, i, got);
        i++;
        if (i % 50 == 0)
            sched_yield();
    }
    CHECK(i == NL, "thread %d: %d lines in its own stream", id, i);
    fclose(in);
    free(mbuf);
    return NULL;
}

/* Returns how often consecutive lines come from different threads. */
static int verify(FILE *fp, const char *what)
{
    int next[NT] = {0};
    int total = 0, changes = 0, last = -1;
    char got[MAXLINE], want[MAXLINE];
    CHECK(fflush(fp) == 0, "%s: fflush", what);
    rewind(fp);
    while (fgets(got, sizeof got, fp) != NULL) {
        size_t len = strlen(got);
        CHECK(len > 0 && got[len - 1] == '\n', "%s: line %d unterminated: \"%s\"", what, total, got);
        int id, i;
        CHECK(sscanf(got, "T%d L%d ", &id, &i) == 2 && id >= 0 && id < NT, "%s: line %d is mixed up: \"%s\"",
              what, total, got);
        CHECK(i == next[id], "%s: thread %d's line %d comes where line %d should", what, id, i, next[id]);
        make_line(want, sizeof want, id, i);
        CHECK(strcmp(got, want) == 0, "%s: line %d is \"%s\", expected \"%s\"", what, total, got, want);
        next[id]++;
        total++;
        changes += last != -1 && id != last;
        last = id;
    }
    CHECK(!ferror(fp), "%s: read error", what);
    for (int id = 0; id < NT; id++)
        CHECK(next[id] == NL, "%s: thread %d wrote %d lines", what, id, next[id]);
    CHECK_EQ(total, NT * NL);
    return changes;
}

int main(void)
{
    shared[0] = tmpfile();
    shared[1] = tmpfile();
    CHECK(shared[0] != NULL && shared[1] != NULL, "tmpfile failed");
    CHECK(setvbuf(shared[1], linebuf, _IOLBF, sizeof linebuf) == 0, "setvbuf failed");

    pthread_t t[NT];
    for (int i = 0; i < NT; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, writer, (void *)(intptr_t)i), 0);
    for (int i = 0; i < NT; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);

    int changes = verify(shared[0], "tmpfile");
    changes += verify(shared[1], "line-buffered tmpfile");
    fclose(shared[0]);
    fclose(shared[1]);
    printf("%d threads x %d lines into 2 shared streams and their own: every line whole and in order "
           "(%d changes of writer)\n",
           NT, NL, changes);
    return 0;
}
