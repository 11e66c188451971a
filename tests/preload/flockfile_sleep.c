/*
 * A thread that sleeps while it holds stdout's lock does not stall the
 * threads waiting for that lock, nor itself. Thread A takes the lock with
 * flockfile(stdout), sleeps 20 ms four times (usleep and nanosleep, in
 * turn), printing a line after each, and releases it with funlockfile.
 * Only once A holds the lock are the B threads created; each prints three
 * lines with printf and fflush, so each first blocks on the lock A holds.
 * This runs twice: with one B, then with four (more threads blocked on the
 * lock than CPUs). stdout goes to a temporary file meanwhile, which is
 * then read back: every line is there exactly once and whole, A's lines
 * are contiguous, in order, and come before every line of that round's Bs.
 * Each round must end within 5 s (natively it takes about 80 ms).
 *
 * Why: stdio's lock is libc's own (a futex taken by inline code), which no
 * interposer sees. Under gpm a B blocked on it blocks its M in the kernel
 * with the P still held, while the thread it waits for, A, is asleep on a
 * timer: the scheduler must notice the stuck M and hand its P, with the
 * timers, to another M, or A never wakes to release the lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "timing.h"

#define MS 1000000L
#define BOUND_NS (5000 * MS)
#define A_LINES 4
#define B_LINES 3
#define MAXB 4

static sem_t a_locked;
static int round_no;

static void *thread_a(void *arg)
{
    flockfile(stdout);
    CHECK_EQ(sem_post(&a_locked), 0);
    for (int i = 0; i < A_LINES; i++) {
        if (i % 2 == 0) {
            CHECK_EQ(usleep(20000), 0);
        } else {
            struct timespec req = {0, 20 * MS};
            CHECK_EQ(nanosleep(&req, NULL), 0);
        }
        printf("round %d A line %d\n", round_no, i);
    }
    CHECK_EQ(fflush(stdout), 0);
    funlockfile(stdout);
    return arg;
}

static void *thread_b(void *arg)
{
    int b = (int)(intptr_t)arg;
    for (int i = 0; i < B_LINES; i++) {
        printf("round %d B%d line %d\n", round_no, b, i);
        CHECK_EQ(fflush(stdout), 0);
    }
    return NULL;
}

/* A round: A takes the lock, then `nb` B threads start. Returns its time
   in ms. */
static int64_t run_round(int nb)
{
    int64_t t0 = ns(now(CLOCK_MONOTONIC));
    pthread_t a, b[MAXB];
    CHECK_EQ(pthread_create(&a, NULL, thread_a, NULL), 0);
    CHECK_EQ(sem_wait(&a_locked), 0);
    for (int i = 0; i < nb; i++)
        CHECK_EQ(pthread_create(&b[i], NULL, thread_b, (void *)(intptr_t)i), 0);
    CHECK_EQ(pthread_join(a, NULL), 0);
    for (int i = 0; i < nb; i++)
        CHECK_EQ(pthread_join(b[i], NULL), 0);
    int64_t el = ns(now(CLOCK_MONOTONIC)) - t0;
    CHECK(el >= A_LINES * 20 * MS && el < BOUND_NS, "round with %d B threads took %lld ms", nb,
          (long long)(el / MS));
    return el / MS;
}

/* The output of round `r` with `nb` B threads, whose lines start at
   lines[0] of the n left: checks it and returns how many lines it used. */
static int check_round(char **lines, int n, int r, int nb)
{
    int want = A_LINES + nb * B_LINES;
    CHECK(n >= want, "round %d: %d lines left, expected %d", r, n, want);
    char expect[64];
    /* A's lines first, in order: A held the lock before any B existed. */
    for (int i = 0; i < A_LINES; i++) {
        snprintf(expect, sizeof expect, "round %d A line %d", r, i);
        CHECK(strcmp(lines[i], expect) == 0, "round %d line %d is \"%s\", expected \"%s\"", r, i, lines[i], expect);
    }
    /* Then every B line once, each B's in its own order. */
    int next[MAXB] = {0};
    for (int i = A_LINES; i < want; i++) {
        int rr, b, k, end = 0;
        CHECK(sscanf(lines[i], "round %d B%d line %d%n", &rr, &b, &k, &end) == 3 && lines[i][end] == '\0',
              "round %d: garbled line \"%s\"", r, lines[i]);
        CHECK(rr == r && b >= 0 && b < nb && k == next[b], "round %d: unexpected line \"%s\"", r, lines[i]);
        next[b]++;
    }
    return want;
}

int main(void)
{
    /* A hang is a failure: the default action of SIGALRM ends the process
       even when every thread is stuck. */
    alarm(30);
    CHECK_EQ(sem_init(&a_locked, 0, 0), 0);

    /* stdout to a temporary file until the rounds are over (nothing has
       been written to stdout before this). */
    FILE *tmp = tmpfile();
    CHECK(tmp != NULL, "tmpfile: errno %d", errno);
    int saved = dup(1);
    CHECK(saved >= 0, "dup: errno %d", errno);
    CHECK_EQ(dup2(fileno(tmp), 1), 1);

    static const int nbs[] = {1, MAXB};
    int64_t took[2];
    for (int r = 0; r < 2; r++) {
        round_no = r;
        took[r] = run_round(nbs[r]);
    }

    CHECK_EQ(fflush(stdout), 0);
    CHECK_EQ(dup2(saved, 1), 1);
    CHECK_EQ(close(saved), 0);

    /* Read the file back and split it into lines. */
    static char text[8192];
    ssize_t len = pread(fileno(tmp), text, sizeof text - 1, 0);
    CHECK(len > 0 && len < (ssize_t)sizeof text - 1, "read back %zd bytes", len);
    text[len] = '\0';
    CHECK(text[len - 1] == '\n', "the output does not end with a newline");
    char *lines[64];
    int n = 0;
    for (char *p = text; *p != '\0';) {
        char *nl = strchr(p, '\n');
        CHECK(n < 64, "too many lines");
        *nl = '\0';
        lines[n++] = p;
        p = nl + 1;
    }
    int at = 0;
    for (int r = 0; r < 2; r++)
        at += check_round(lines + at, n - at, r, nbs[r]);
    CHECK(at == n, "%d lines more than expected", n - at);
    fclose(tmp);
    CHECK_EQ(sem_destroy(&a_locked), 0);

    printf("a thread sleeping 4 x 20 ms under flockfile(stdout) released it to 1, then %d, threads blocked in "
           "printf: rounds took %lld and %lld ms, %d lines intact (%s)\n",
           MAXB, (long long)took[0], (long long)took[1], n, test_mode());
    return 0;
}
