/*
 * Two threads passing a turn back and forth through one futex word with
 * syscall(SYS_futex, FUTEX_WAIT_PRIVATE / FUTEX_WAKE_PRIVATE), as code
 * that makes the system call itself does: the cost of one round trip (two
 * handoffs, each a wait and a wake).
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

static _Atomic uint32_t turn;
static long n;

static void *player(void *arg)
{
    uint32_t me = (uint32_t)(uintptr_t)arg;
    for (long i = 0; i < n; i++) {
        uint32_t v;
        while ((v = atomic_load_explicit(&turn, memory_order_acquire)) != me)
            syscall(SYS_futex, &turn, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
        atomic_store_explicit(&turn, !me, memory_order_release);
        syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    n = bench_iterations(argc, argv, 100000);
    pthread_t t[2];
    double t0 = bench_now_ns();
    for (uintptr_t i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, player, (void *)i);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    bench_report("futex_pingpong", bench_now_ns() - t0, n);
    return 0;
}
