/*
 * GPM_DEBUG=schedtrace=MS: the program re-runs itself with it set and
 * parses what gpm prints on stderr: Go's SCHED lines, whose numbers must be
 * consistent (idleprocs <= gomaxprocs, threads >= 1, spinning and idle
 * threads <= threads, one run queue length per P). Natively and in
 * pass-through nothing is printed, and that is checked too.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "rerun.h"

static void *nap(void *arg)
{
    usleep(100000);
    return arg;
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        pthread_t t[4];
        for (int i = 0; i < 4; i++)
            pthread_create(&t[i], NULL, nap, NULL);
        for (int i = 0; i < 4; i++)
            pthread_join(t[i], NULL);
        usleep(200000);
        return 0;
    }
    static const char *const env[] = {"GPM_DEBUG", "schedtrace=50", NULL};
    pid_t pid;
    FILE *f = rerun_child(argv[0], env, &pid);
    char line[4096];
    int nlines = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "SCHED ", 6) != 0)
            continue;
        int ms, procs, idle, threads, spinning, idlethreads, runq, used = 0;
        int got = sscanf(line, "SCHED %dms: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d idlethreads=%d runqueue=%d [%n",
                         &ms, &procs, &idle, &threads, &spinning, &idlethreads, &runq, &used);
        CHECK(got == 7 && used > 0, "unparsable: %s", line);
        CHECK(procs >= 1 && idle >= 0 && idle <= procs, "procs %d idle %d: %s", procs, idle, line);
        CHECK(threads >= 1 && spinning <= threads && idlethreads <= threads && runq >= 0, "%s", line);
        int n = 0;
        char *s = line + used;
        while (*s != ']' && *s != '\0') {
            char *end;
            strtol(s, &end, 10);
            CHECK(end != s, "bad queue list: %s", line);
            n++;
            s = end;
            while (*s == ' ')
                s++;
        }
        CHECK(n == procs, "%d queue lengths for %d Ps: %s", n, procs, line);
        nlines++;
    }
    rerun_wait(pid);
    if (under_gpm())
        CHECK(nlines >= 2, "only %d SCHED lines in 0.3 s at 50 ms", nlines);
    else
        CHECK_EQ(nlines, 0);
    printf("%d SCHED lines, all consistent (%s)\n", nlines, test_mode());
    return 0;
}
