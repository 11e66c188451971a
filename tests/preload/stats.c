/*
 * GPM_DEBUG=stats: the program re-runs itself with it set (and
 * GPM_MAXPROCS=1) and parses the counters gpm prints on stderr at exit.
 * The child creates 10 threads; one computes for 50 ms without calling
 * into gpm while another sleeps 1 ms and needs the only P back, so sysmon
 * must preempt the first. The line must say 10 Gs created, at least 10
 * switches, at least one preemption, and at least one M. Natively and in
 * pass-through nothing is printed.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "rerun.h"
#include "timing.h"

static atomic_int stop;

static void *compute(void *arg)
{
    struct timespec t0 = now(CLOCK_MONOTONIC);
    volatile unsigned long x = 0;
    /* Mostly the program's own code: the clock only every 2^16 rounds. */
    while (!atomic_load_explicit(&stop, memory_order_relaxed) && ns(now(CLOCK_MONOTONIC)) - ns(t0) < 5000000000L)
        for (int i = 0; i < 65536; i++)
            x += x * 3 + 1;
    return arg;
}

static void *napper(void *arg)
{
    usleep(1000);
    atomic_store(&stop, 1);
    return arg;
}

static void *nothing(void *arg)
{
    return arg;
}

static int child(void)
{
    pthread_t t[10];
    CHECK_EQ(pthread_create(&t[0], NULL, compute, NULL), 0);
    CHECK_EQ(pthread_create(&t[1], NULL, napper, NULL), 0);
    for (int i = 2; i < 10; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, nothing, NULL), 0);
    for (int i = 0; i < 10; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    return 0;
}

int main(int argc, char **argv)
{
    alarm(60);
    if (argc > 1)
        return child();
    static const char *const env[] = {"GPM_DEBUG", "stats", "GPM_MAXPROCS", "1", NULL};
    pid_t pid;
    FILE *f = rerun_child(argv[0], env, &pid);
    char line[4096];
    int nlines = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "gpm stats: ", 11) != 0)
            continue;
        unsigned long created, switches, steals, handoffs, retakes, revokes, reqs, sigs, coop, async, other, futex;
        int ms;
        int got = sscanf(line,
                         "gpm stats: Gs created %lu, switches %lu, steals %lu, handoffs %lu, retakes %lu, "
                         "revocations %lu, preemption requests %lu (%lu signalled), preemptions %lu cooperative / "
                         "%lu asynchronous, timers run by other Ps %lu, futex waits emulated %lu, peak Ms %d",
                         &created, &switches, &steals, &handoffs, &retakes, &revokes, &reqs, &sigs, &coop, &async,
                         &other, &futex, &ms);
        CHECK(got == 13, "unparsable (%d fields): %s", got, line);
        CHECK(created == 10, "%lu Gs created: %s", created, line);
        CHECK(switches >= 10, "%s", line);
        CHECK(coop + async >= 1 && reqs >= coop + async, "no preemption: %s", line);
        CHECK(ms >= 1, "%s", line);
        nlines++;
    }
    rerun_wait(pid);
    CHECK_EQ(nlines, under_gpm() ? 1 : 0);
    printf("%d stats line(s), consistent (%s)\n", nlines, test_mode());
    return 0;
}
