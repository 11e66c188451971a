/*
 * src/core/sysmon.c: the system monitor, a kernel thread of its own that
 * holds no P and runs no G (Go's sysmon).
 *
 * Each round it takes Ps from Ms that keep others waiting: retake from Gs
 * in long system calls, revoke from Ms asleep in the kernel outside gpm,
 * preempt Gs that compute (gpm_retake, "sysmon" in sched.c), starts an M
 * for timers or queued Gs nobody runs (gpm_sysmon_stranded), polls for
 * ready files when nobody has for 10 ms (gpm_sysmon_netpoll), and gives
 * back the stack pages of pooled G blocks nobody reused
 * (gpm_gstack_scavenge). It wakes every 20 µs while that finds something
 * to do, and backs off, doubling its sleep after 50 idle rounds, to 10 ms,
 * as Go's sysmon does; it sleeps until woken (acquirep) while every P is
 * idle and no G is queued, unless Gs wait for files and no M blocks in the
 * poller, or pooled stacks are left to give back.
 *
 * It also prints the scheduler's state every GPM_DEBUG=schedtrace=MS
 * milliseconds, in Go's format plus gpm's own counters, to stderr:
 *
 *   SCHED 1004ms: gomaxprocs=2 idleprocs=1 threads=3 spinningthreads=0
 *   idlethreads=1 runqueue=0 [0 3] blockedoutside=0 retaken=5 revoked=1
 *   preempted=2
 *
 * threads counts Ms, idlethreads the Ms parked idle, runqueue the global
 * queue, and the bracket the length of each P's local queue (runnext
 * included); blockedoutside counts the Ms whose P sysmon revoked because
 * they slept in the kernel where gpm cannot see (inside libc, an inline
 * system call) and that have not come back yet; retaken, revoked and
 * preempted count Ps taken from wrapped system calls, Ps revoked, and
 * preemption requests, since start-up. With scheddetail=1 each P, M and G
 * follows on a line of its own. Everything is read without locks: a
 * snapshot, not a transaction.
 */
#define _GNU_SOURCE
#include "sysmon.h"
#include "gsig.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include "../../compat/libc_real.h"
#include "env.h"
#include "gstack.h"
#include "runtime.h"
#include "sys.h"

static int64_t starttime;

static uint32_t plen(struct gpm_p *pp)
{
    return gpm_runqlen(pp) + (atomic_load_explicit(&pp->runnext, memory_order_relaxed) != NULL);
}

/* Prints one SCHED line (and the detail). Async-signal-safe. */
void gpm_schedtrace(bool detail)
{
    char buf[4096];
    int n = gpm_snprintf(buf, sizeof buf,
                         "SCHED %ldms: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d idlethreads=%d "
                         "runqueue=%d [",
                         (long)((gpm_nanotime() - starttime) / 1000000), gpm_sched.gomaxprocs,
                         atomic_load(&gpm_sched.npidle), gpm_sched.mnext, atomic_load(&gpm_sched.nmspinning),
                         gpm_sched.nmidle, atomic_load(&gpm_sched.runqsize));
    for (int32_t i = 0; i < gpm_sched.gomaxprocs && n < (int)sizeof buf - 128; i++)
        n += gpm_snprintf(buf + n, sizeof buf - (size_t)n, i ? " %u" : "%u", plen(&gpm_sched.allp[i]));
    int blocked = 0;
    for (struct gpm_m *mp = atomic_load(&gpm_sched.allm); mp; mp = mp->alllink)
        blocked += atomic_load_explicit(&mp->blockedoutside, memory_order_relaxed);
    gpm_printf("%s] blockedoutside=%d retaken=%lu revoked=%lu preempted=%lu\n", buf, blocked,
               (unsigned long)atomic_load(&gpm_sched.nretake), (unsigned long)atomic_load(&gpm_sched.nrevoke),
               (unsigned long)atomic_load(&gpm_sched.npreemptreq));
    if (detail)
        gpm_dumpstate();
}

/* sysmon's DTV's allocation ("Leak checkers and the DTV" in gstack.c). */
static void *volatile sysmon_dtvmem; /* volatile: written only, for the checker to see */

static void *sysmon(void *arg)
{
    (void)arg;
    sysmon_dtvmem = gpm_dtvmem(gpm_rdtp());
    /* Signals are for the program's threads: sysmon runs no program code,
       so it must never be the thread the kernel picks for one. */
    sigset_t all;
    sigfillset(&all);
    gpm_syscall4(SYS_rt_sigprocmask, SIG_BLOCK, (long)&all, 0, 8);
    int64_t period = (int64_t)gpm_config.schedtrace * 1000000;
    int64_t nexttrace = period > 0 ? gpm_nanotime() + period : INT64_MAX;
    int64_t delay = 20000; /* ns */
    int idle = 0;
    int64_t wakeby = INT64_MAX;
    for (;;) {
        /* The period, or less when a preemption falls due sooner. */
        int64_t sleep = delay, left = wakeby - gpm_nanotime();
        if (left < sleep)
            sleep = left < 20000 ? 20000 : left;
        /* A signal waits for its G to be poked again ("Delivery" in
           signal.c): every millisecond until it is taken. */
        if (gpm_sig_repoking() && sleep > 1000000)
            sleep = 1000000;
        /* The scavenger's rounds are bounded (SCAVENGE_BATCH blocks): a
           burst's worth of blocks due goes back at a round a millisecond. */
        if (sleep > 1000000 && gpm_gstack_backlog())
            sleep = 1000000;
        struct timespec ts = {0, sleep};
        gpm_syscall2(SYS_nanosleep, (long)&ts, 0);
        int64_t now = gpm_nanotime();
        atomic_store_explicit(&gpm_sched.stampclock, now, memory_order_relaxed);
        if (gpm_retake(now, &wakeby) > 0) {
            idle = 0;
            delay = 20000;
        } else if (++idle > 50 && delay < 10000000) {
            delay *= 2;
            if (delay > 10000000)
                delay = 10000000;
        }
        gpm_sysmon_stranded(now);
        gpm_sysmon_netpoll(now);
        gpm_gstack_scavenge(now);
        gpm_sig_sysmon();
        gpm_gstack_checkrunning();
        if (now >= nexttrace) {
            gpm_schedtrace(gpm_config.scheddetail);
            nexttrace += period;
        }
        /* Every P idle, and no schedtrace to print: nothing can need sysmon
           until some M takes a P, and acquirep wakes us. The flag is set
           before the recheck, and acquirep stores the P's state before it
           loads the flag (seq_cst both), so one of them sees the other. */
        if (period <= 0 && gpm_allpidle() && !gpm_sig_repoking() && !gpm_netpoll_unwatched() &&
            !gpm_gstack_dirty()) {
            gpm_noteclear(&gpm_sched.sysmonnote);
            atomic_store(&gpm_sched.sysmonwait, 1);
            if (gpm_allpidle() && !gpm_sig_repoking() && !gpm_netpoll_unwatched() && !gpm_gstack_dirty())
                gpm_notesleep(&gpm_sched.sysmonnote);
            atomic_store(&gpm_sched.sysmonwait, 0);
            idle = 0;
            delay = 20000;
        }
    }
    return NULL;
}

void gpm_sysmon_wake(void)
{
    if (atomic_exchange(&gpm_sched.sysmonwait, 0) == 1) {
        /* Its rounds stopped: the stamps' clock is old. */
        atomic_store_explicit(&gpm_sched.stampclock, gpm_nanotime(), memory_order_relaxed);
        gpm_notewakeup(&gpm_sched.sysmonnote);
    }
}

static _Atomic bool started;

void gpm_sysmon_forkchild(void)
{
    atomic_store(&started, false);
    atomic_store(&gpm_sched.stampclock, 0); /* the parent's: the child's sysmon starts anew */
}

void gpm_sysmon_start(void)
{
    gpm_mmaker_start();
    if (atomic_load_explicit(&started, memory_order_relaxed) || atomic_exchange(&started, true))
        return;
    if (starttime == 0)
        starttime = gpm_nanotime();
    if (gpm_start_kthread(sysmon, NULL, 64 * 1024, NULL) != 0)
        gpm_printf("gpm: cannot start sysmon: Gs in long system calls keep their Ps\n");
}
