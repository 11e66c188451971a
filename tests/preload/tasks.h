/*
 * tests/preload/tasks.h: counting kernel threads, for the tests that prove
 * M:N (many threads, few kernel threads).
 */
#ifndef GPM_TEST_TASKS_H
#define GPM_TEST_TASKS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* The kernel thread running the caller: the gettid system call made with
   the instruction itself, since under gpm gettid() and syscall(SYS_gettid)
   name the thread (the G), which keeps its id when it moves between kernel
   threads. */
static inline int kernel_tid(void)
{
#if defined(__x86_64__)
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(186L /* SYS_gettid */) : "rcx", "r11", "memory");
    return (int)r;
#else
#error "kernel_tid: x86_64 only"
#endif
}

/* Entries of /proc/self/task: the process's kernel threads. */
static inline int count_tasks(void)
{
    DIR *d = opendir("/proc/self/task");
    CHECK(d != NULL, "cannot open /proc/self/task");
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* Kernel threads of the process that are running or runnable (state R in
   /proc/self/task/TID/stat): busy, not parked. */
static inline int count_running_tasks(void)
{
    DIR *d = opendir("/proc/self/task");
    CHECK(d != NULL, "cannot open /proc/self/task");
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t k = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[k] = '\0';
        char *paren = strrchr(buf, ')');
        if (paren != NULL && paren[1] == ' ' && paren[2] == 'R')
            n++;
    }
    closedir(d);
    return n;
}

/* The most kernel threads gpm may use: GPM_MAXPROCS (default: the CPUs of
   the affinity mask) Ms running Gs, plus a small constant: sysmon, the M
   maker, the signal receiver, the M blocked in the poller, M0 when it
   does not hold a P, an M or two whose P sysmon revoked while it slept in
   the kernel (an mmap lock, a page fault) and which has not parked yet,
   an idle M. */
static inline int max_tasks_under_gpm(void)
{
    const char *e = getenv("GPM_MAXPROCS");
    int procs = e ? atoi(e) : 0;
    if (procs <= 0) {
        cpu_set_t set;
        procs = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    }
    return procs + 8;
}

#endif
