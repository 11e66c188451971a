/*
 * src/core/env.h: configuration from GPM_* environment variables, read once
 * at start-up with secure_getenv (README.md has the table). A malformed
 * value is reported on stderr and the default kept.
 */
#ifndef GPM_CORE_ENV_H
#define GPM_CORE_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gpm_configt {
    int32_t maxprocs;     /* GPM_MAXPROCS, default gpm_default_maxprocs() */
    int32_t ncpu;         /* gpm_default_maxprocs(): the CPUs gpm may use */
    int32_t maxthreads;   /* GPM_MAXTHREADS: most Ms (kernel threads), default gpm_default_maxthreads() */
    size_t stacksize;     /* GPM_STACK_SIZE, 0: glibc's default for new threads */
    int stackguard;       /* GPM_STACK_GUARD: 0 no guard page, 1 glibc's default */
    bool disable;         /* GPM_DISABLE=1: pass every call to libc */
    bool netpoll;         /* GPM_NETPOLL: 0: blocking calls on files keep entersyscall */
    int32_t schedtrace;   /* GPM_DEBUG=schedtrace=MS */
    bool scheddetail;     /* GPM_DEBUG=scheddetail=1 */
    bool nowrfsbase;      /* GPM_DEBUG=nowrfsbase=1: write %fs with arch_prctl */
    bool stats;           /* GPM_DEBUG=stats=1: print counters at exit and on SIGQUIT */
    bool faults;          /* GPM_DEBUG=faults=1: a fatal fault prints its thread and stack */
    int32_t preemptms;    /* GPM_PREEMPT_MS: a G that computes this long while others wait is preempted (10) */
    int preemptsig;       /* GPM_PREEMPT_SIGNAL: the signal for that (SIGURG); 0: cooperative only */
    const char *tracefile; /* GPM_TRACE: the execution trace's file, or NULL (exectrace.c) */
    int32_t tracemb;      /* GPM_TRACE_MB: its largest size in MiB (64) */
};

extern struct gpm_configt gpm_config;

/* Reads the environment. Runs once, before anything else of gpm. */
void gpm_readconfig(void);

/* CPUs in the affinity mask, capped by the cgroup v2 cpu.max quota of the
   process's cgroup and its ancestors. At least 1. */
int32_t gpm_default_maxprocs(void);

/* The cgroup v2 CPU limit in whole CPUs (quota/period, rounded up) of the
   cgroup named in cgroupfile ("0::/path", as /proc/self/cgroup) and of its
   ancestors under cgroot (as /sys/fs/cgroup): the smallest, or 0 when none
   has a limit. */
int32_t gpm_cgroup_cpu_limit(const char *cgroupfile, const char *cgroot);

/* The most kernel threads the kernel would let this process make: the
   smallest of kernel.threads-max, kernel.pid_max and (unless the process
   may exceed it, as root) RLIMIT_NPROC. */
int32_t gpm_default_maxthreads(void);

/* Reads up to size-1 bytes of a file into buf with raw system calls (no
   errno, no interposed read). Returns the length, or -1. */
long gpm_readfile(const char *path, char *buf, size_t size);

#endif
