/*
 * OpenMP programs run to the right answers. For each team size from 2 to
 * 8 (more threads than CPUs, and than Ps under gpm):
 *
 *   reduction  a parallel for with reduction(+) sums 0..999,999; the team
 *              has the size asked for (omp_set_num_threads).
 *   barrier    in one parallel region (num_threads clause), 100 rounds of:
 *              each thread writes its slot, an explicit barrier, each
 *              thread checks every slot, a second barrier.
 *   tasks      fib(20) by recursive tasks (task and taskwait) from a
 *              single construct: 6765.
 *   critical   each thread adds 1 to a shared counter 1,000 times in a
 *              critical section: 1,000 x the team size.
 *
 * meson builds it twice: with gcc -fopenmp (GNU libgomp) and with clang
 * -fopenmp (LLVM libomp). Why it matters under gpm: neither runtime waits
 * through pthread calls alone. libgomp's threads spin (GOMP_SPINCOUNT) and
 * then wait with futex system calls made inline, which no interposer sees,
 * so a waiting thread blocks its M with the P held; libomp spins, yields
 * and waits on its own futex-based locks and on pthread condition
 * variables. A scheduler that neither preempts spinners nor hands on the
 * Ps of Ms blocked in the kernel stalls at the first barrier.
 *
 * Natively it takes well under 1 s; each team size must finish within
 * 15 s. Both runtimes spin while they wait, so on a machine busy with
 * other processes their speed collapses (natively, beside four CPU-bound
 * processes on two CPUs, libomp's tasks once took 13 s for one team):
 * meson runs this test alone ('parallel': false).
 */
#define _GNU_SOURCE
#include <omp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "timing.h"

#define MS 1000000L
#define BOUND_NS (15000 * MS)
#define MAXTEAM 8
#define N 1000000L
#define ROUNDS 100
#define INCREMENTS 1000
#define FIB_N 20
#define FIB_WANT 6765

#ifdef __clang__
#define RUNTIME "LLVM libomp"
#else
#define RUNTIME "GNU libgomp"
#endif

static void reduction(int team)
{
    omp_set_num_threads(team);
    long long sum = 0;
    int size = 0;
#pragma omp parallel for reduction(+ : sum) schedule(static)
    for (long i = 0; i < N; i++) {
        if (i == 0)
            size = omp_get_num_threads();
        sum += i;
    }
    CHECK(size == team, "a team of %d threads, asked for %d", size, team);
    CHECK(sum == N * (N - 1) / 2, "team of %d: sum %lld, expected %lld", team, sum, (long long)(N * (N - 1) / 2));
}

static void barrier(int team)
{
    int slot[MAXTEAM];
    atomic_int wrong = 0, size = 0;
#pragma omp parallel num_threads(team) shared(slot, wrong, size)
    {
        int me = omp_get_thread_num(), n = omp_get_num_threads();
        if (me == 0)
            atomic_store(&size, n);
        for (int r = 0; r < ROUNDS; r++) {
            slot[me] = r * MAXTEAM + me;
#pragma omp barrier
            for (int j = 0; j < n; j++)
                if (slot[j] != r * MAXTEAM + j)
                    atomic_fetch_add(&wrong, 1);
#pragma omp barrier
        }
    }
    CHECK(atomic_load(&size) == team, "a team of %d threads, asked for %d", atomic_load(&size), team);
    CHECK(atomic_load(&wrong) == 0, "team of %d: %d slots not yet written past a barrier", team,
          atomic_load(&wrong));
}

static long fib(int n)
{
    if (n < 2)
        return n;
    long x, y;
#pragma omp task shared(x)
    x = fib(n - 1);
#pragma omp task shared(y)
    y = fib(n - 2);
#pragma omp taskwait
    return x + y;
}

static void tasks(int team)
{
    long result = 0;
#pragma omp parallel num_threads(team)
#pragma omp single
    result = fib(FIB_N);
    CHECK(result == FIB_WANT, "team of %d: fib(%d) = %ld, expected %d", team, FIB_N, result, FIB_WANT);
}

static void critical(int team)
{
    long counter = 0;
#pragma omp parallel num_threads(team)
    for (int k = 0; k < INCREMENTS; k++) {
#pragma omp critical
        counter++;
    }
    CHECK(counter == (long)team * INCREMENTS, "team of %d: counter %ld, expected %ld", team, counter,
          (long)team * INCREMENTS);
}

int main(void)
{
    /* A hang is a failure: the default action of SIGALRM ends the process
       even when every thread is stuck. */
    alarm(45);
    omp_set_dynamic(0); /* teams of exactly the size asked for */
    int64_t t0 = ns(now(CLOCK_MONOTONIC)), slowest = 0;
    int slowest_team = 0;
    for (int team = 2; team <= MAXTEAM; team++) {
        int64_t t1 = ns(now(CLOCK_MONOTONIC));
        reduction(team);
        barrier(team);
        tasks(team);
        critical(team);
        int64_t el = ns(now(CLOCK_MONOTONIC)) - t1;
        CHECK(el < BOUND_NS, "team of %d took %lld ms", team, (long long)(el / MS));
        if (el > slowest) {
            slowest = el;
            slowest_team = team;
        }
    }
    printf("%s, teams of 2 to %d: reduction, %d barrier rounds, fib(%d) by tasks and a critical counter right; "
           "%lld ms in all, the slowest team (%d) %lld ms (%s)\n",
           RUNTIME, MAXTEAM, ROUNDS, FIB_N, (long long)((ns(now(CLOCK_MONOTONIC)) - t0) / MS), slowest_team,
           (long long)(slowest / MS), test_mode());
    return 0;
}
