/*
 * The host's price of giving a thread a new %fs base, the one thing every
 * switch between Gs must do, measured the way gpm does it here: with user
 * FSGSBASE (AT_HWCAP2 bit 1) the wrfsbase instruction, without it
 * arch_prctl(ARCH_SET_FS), a system call. scripts/bench prints this row
 * natively only, as the floor under gpm's switch costs on this machine.
 * The base written is the thread's own, so nothing changes.
 */
#include <asm/prctl.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif

int main(int argc, char **argv)
{
    long n = bench_iterations(argc, argv, 200000);
    unsigned long fs;
    syscall(SYS_arch_prctl, ARCH_GET_FS, &fs);
    double t0 = bench_now_ns();
    if (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE) {
        for (long i = 0; i < n; i++)
            __asm__ volatile("wrfsbase %0" : : "r"(fs) : "memory");
    } else {
        for (long i = 0; i < n; i++)
            syscall(SYS_arch_prctl, ARCH_SET_FS, fs);
    }
    bench_report("set_fs", bench_now_ns() - t0, n);
    return 0;
}
