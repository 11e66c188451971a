/*
 * src/core/foreign.c: adopting foreign kernel threads.
 *
 * A foreign thread keeps its own glibc TCB and stack; it gets a G struct
 * (kind G_KIND_FOREIGN) so that what gpm keeps per thread (thread-specific
 * data, its name) has a home, and gpm_tls_g in its own TLS points at it.
 * The G is ended when the thread exits: glibc runs the destructor of a
 * native key gpm sets on the thread, and that runs the G's pthread_key
 * destructors as the thread's own exit would have.
 *
 * A foreign thread holds no P and is not on any run queue: it is always
 * "running" on its own kernel thread.
 *
 * Adopting happens inside the thread's first pthread call, which may come
 * from the program's malloc (jemalloc locks with pthread mutexes, and its
 * background threads are foreign: it starts them with glibc's
 * pthread_create, found with dlsym(RTLD_NEXT)). So adopting calls no malloc
 * (the G struct is gstack.c's, gpm_foreign_galloc), and the thread's G is
 * in gpm_tls_g before anything that could enter gpm again.
 */
#define _GNU_SOURCE
#include "foreign.h"

#include <pthread.h>
#include <string.h>

#include "../../compat/glibc_abi.h"
#include "../../compat/libc_real.h"
#include "glife.h"
#include "gstack.h"
#include "gsig.h"
#include "sys.h"
#include "sync.h"
#include "tsd.h"

static pthread_key_t foreign_key;

static void foreign_exit(void *arg)
{
    struct gpm_g *gp = arg;
    gpm_tsd_runall(gp);
    gpm_mutex_robust_exit(gp);
    gpm_tls_g = NULL;
    gpm_foreign_gfree(gp);
}

int gpm_foreign_init(void)
{
    return gpm_real.pthread_key_create(&foreign_key, foreign_exit);
}

struct gpm_g *gpm_getg_adopt(void)
{
    struct gpm_g *gp = gpm_getg();
    if (gp != NULL)
        return gp;
    gp = gpm_foreign_galloc();
    if (gp == NULL)
        return NULL;
    gp->magic = GPM_G_MAGIC;
    gp->kind = G_KIND_FOREIGN;
    gp->tcb = gpm_rdtp();
    gp->tid = (uint32_t)TCB_FIELD(gp->tcb, TCB_OFF_TID, int);
    gp->goid = atomic_fetch_add(&gpm_sched.goidgen, 1) + 1;
    atomic_store(&gp->atomicstatus, G_RUNNING);
    memcpy(gp->name, gpm_initial_name, sizeof gp->name);
    sigset_t kmask;
    gpm_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, 0, (long)&kmask, 8);
    gpm_sig_newg(gp, NULL, &kmask);
    gpm_allgs_add(gp);
    gpm_tls_g = gp;
    /* Last: for a key past glibc's first 32, this allocates. */
    gpm_real.pthread_setspecific(foreign_key, gp);
    return gp;
}
