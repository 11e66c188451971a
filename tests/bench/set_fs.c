/*
 * The host's price of giving a thread a new %fs base, the one thing every
 * switch between Gs must do. With user FSGSBASE (AT_HWCAP2 bit 1) gpm uses
 * wrfsbase, a few nanoseconds; without it, arch_prctl(ARCH_SET_FS), a
 * system call. scripts/bench prints this row natively only, as the floor
 * under gpm's switch costs on this machine.
 */
#include <asm/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

int main(int argc, char **argv)
{
    long n = bench_iterations(argc, argv, 200000);
    unsigned long fs;
    syscall(SYS_arch_prctl, ARCH_GET_FS, &fs);
    double t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        syscall(SYS_arch_prctl, ARCH_SET_FS, fs);
    bench_report("set_fs", bench_now_ns() - t0, n);
    return 0;
}
