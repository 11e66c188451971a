/*
 * sched_yield with nothing else to run yields the CPU: a SCHED_FIFO
 * process sharing one CPU with this one at the same priority runs as soon
 * as this one yields, as natively (the native run is the reference).
 *
 * The program makes itself SCHED_FIFO on one CPU (skipped without the
 * privilege), forks a child, which queues behind it on that CPU, and
 * yields in a loop until the child has run (a word in shared memory). A
 * yield that stayed in the process would starve the child until the
 * kernel's real-time throttling (950 ms of every second) let it run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "timing.h"

#define BOUND_MS 200

int main(void)
{
    cpu_set_t set;
    CHECK_EQ(sched_getaffinity(0, sizeof set, &set), 0);
    int cpu = 0;
    while (!CPU_ISSET(cpu, &set))
        cpu++;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    CHECK_EQ(sched_setaffinity(0, sizeof set, &set), 0);
    struct sched_param sp = {.sched_priority = 1};
    if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0) {
        CHECK(errno == EPERM, "sched_setscheduler: %s", strerror(errno));
        printf("SKIP: no privilege for SCHED_FIFO\n");
        return 77;
    }
    atomic_int *ran = mmap(NULL, sizeof *ran, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(ran != MAP_FAILED, "mmap");
    atomic_store(ran, 0);
    pid_t child = fork();
    CHECK(child >= 0, "fork");
    if (child == 0) {
        atomic_store(ran, 1);
        _exit(0);
    }
    struct timespec start = now(CLOCK_MONOTONIC);
    int64_t waited;
    long yields = 0;
    while (atomic_load(ran) == 0) {
        waited = ns(now(CLOCK_MONOTONIC)) - ns(start);
        CHECK(waited < BOUND_MS * 1000000LL, "the child did not run in %d ms of %ld yields", BOUND_MS, yields);
        CHECK_EQ(sched_yield(), 0);
        yields++;
    }
    waited = ns(now(CLOCK_MONOTONIC)) - ns(start);
    struct sched_param other = {.sched_priority = 0};
    CHECK_EQ(sched_setscheduler(0, SCHED_OTHER, &other), 0);
    int status;
    CHECK_EQ(waitpid(child, &status, 0), child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
    printf("the SCHED_FIFO child ran after %ld yields, %lld us\n", yields, (long long)(waited / 1000));
    return 0;
}
