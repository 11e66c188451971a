/*
 * src/core/init.c: start-up. Reads the configuration, finds libc's own
 * functions, checks glibc's layout, measures TLS, and turns the calling
 * flow into G1 on M0 (sched.c). Any failure before G1 exists leaves gpm in
 * pass-through mode with one line on stderr: a program never breaks because
 * of an unknown glibc.
 */
#define _GNU_SOURCE
#include "init.h"
#include "gsig.h"

#include <stdlib.h>
#include <string.h>

#include "../../compat/abi_check.h"
#include "../../compat/glibc_abi.h"
#include "../../compat/libc_real.h"
#include "alloc.h"
#include "ctx.h"
#include "env.h"
#include "exectrace.h"
#include "foreign.h"
#include "glife.h"
#include "gstack.h"
#include "netpoll.h"
#include "print.h"
#include "runtime.h"
#include "sys.h"
#include "sysmon.h"
#include "tools.h"

_Atomic int gpm_state = GPM_UNINIT;

static void passthrough(const char *why)
{
    if (why != NULL)
        gpm_printf("gpm: %s; threads run natively\n", why);
    atomic_store_explicit(&gpm_state, GPM_PASSTHROUGH, memory_order_release);
}

static void readname(void)
{
    char buf[64];
    long n = gpm_readfile("/proc/self/comm", buf, sizeof buf);
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    if (n > 0) {
        size_t len = (size_t)n < sizeof gpm_initial_name - 1 ? (size_t)n : sizeof gpm_initial_name - 1;
        memcpy(gpm_initial_name, buf, len);
    }
}

static void init(void)
{
    gpm_readconfig();
    const char *missing = gpm_real_resolve();
    if (gpm_config.disable) {
        passthrough(missing ? NULL : "GPM_DISABLE=1");
        return;
    }
    char why[256];
    if (missing != NULL) {
        gpm_snprintf(why, sizeof why, "%s is not in this C library", missing);
        passthrough(why);
        return;
    }
    /* A checker that models threads itself sees native threads only
       (tools.c, "Two kinds of checker"). */
    const char *checker = gpm_thread_checker();
    if (checker != NULL) {
        gpm_printf("gpm: %s runs this program's threads natively (it cannot follow user-level threads)\n", checker);
        passthrough(NULL);
        return;
    }
    if (gpm_abi_check(why, sizeof why) != NULL) {
        passthrough(why);
        return;
    }
    const char *bad = gpm_tls_init();
    if (bad != NULL) {
        gpm_snprintf(why, sizeof why, "cannot find %s", bad);
        passthrough(why);
        return;
    }
    if (gpm_foreign_init() != 0) {
        passthrough("cannot create a thread-specific key");
        return;
    }
    if (gpm_fork_init() != 0) {
        passthrough("cannot register fork handlers");
        return;
    }
    gpm_ctx_setup(!gpm_config.nowrfsbase);
    readname();
    gpm_netpoll_reservefds(); /* while this is the only thread */

    void *m0tcb = gpm_tlsblock_alloc();
    if (m0tcb == NULL) {
        passthrough("out of memory at start-up");
        return;
    }
    /* G1: the calling flow keeps glibc's TCB and stack. */
    struct gpm_g *g1 = gpm_persistentalloc(sizeof *g1, 64);
    if (g1 == NULL) {
        passthrough("out of memory at start-up");
        return;
    }
    g1->magic = GPM_G_MAGIC;
    g1->kind = G_KIND_MAIN;
    g1->tcb = gpm_rdtp();
    g1->tid = (uint32_t)TCB_FIELD(g1->tcb, TCB_OFF_TID, int);
    g1->goid = atomic_fetch_add(&gpm_sched.goidgen, 1) + 1;
    g1->schedpolicy = SCHED_OTHER;
    g1->inheritsched = PTHREAD_INHERIT_SCHED;
    memcpy(g1->name, gpm_initial_name, sizeof g1->name);
    /* G1 keeps the main thread's TCB, whose rseq area the kernel keeps up
       to date for the main kernel thread only: on any other kernel thread
       (another M, its wired M), sched_getcpu would read the main thread's
       CPU there. Unregister it, and send sched_getcpu to the vDSO as for
       every other G (gstack.c). glibc registers 32 bytes with RSEQ_SIG. */
    if (gpm_syscall4(SYS_rseq, (long)((char *)g1->tcb + GLIBC_RSEQ_OFFSET), 32, 1 /* RSEQ_FLAG_UNREGISTER */,
                     0x53053053) == 0)
        TCB_FIELD(g1->tcb, TCB_OFF_RSEQ_CPU_ID, uint32_t) = GLIBC_RSEQ_CPU_ID_REGISTRATION_FAILED;
    if (!gpm_schedinit(g1, m0tcb)) {
        passthrough("out of memory at start-up");
        return;
    }
    gpm_allgs_add(g1);
    gpm_preempt_init();
    gpm_siginit(g1);
    if (gpm_config.stats)
        atexit(gpm_printstats);
    atomic_store_explicit(&gpm_state, GPM_ACTIVE, memory_order_release);
    if (gpm_config.schedtrace > 0)
        gpm_sysmon_start();
    gpm_traceback_init();
    gpm_exectrace_start(g1);
}

/* The kernel thread running init(): its own nested calls into gpm (from a
   malloc that locks, say) see "not active" and use libc directly. */
static _Atomic int inittid;

void gpm_init_slow(void)
{
    int s = GPM_UNINIT;
    if (atomic_compare_exchange_strong(&gpm_state, &s, GPM_INITIALIZING)) {
        atomic_store(&inittid, gpm_gettid());
        init();
        return;
    }
    if (s == GPM_INITIALIZING && atomic_load(&inittid) == gpm_gettid())
        return;
    /* Another thread is initialising (only possible for threads gpm did
       not create): wait for it. */
    while (atomic_load_explicit(&gpm_state, memory_order_acquire) == GPM_INITIALIZING)
        gpm_osyield();
}
