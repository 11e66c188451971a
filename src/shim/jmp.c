/*
 * src/shim/jmp.c: sigsetjmp and siglongjmp keep the G's signal mask.
 *
 * glibc's sigsetjmp saves the kernel thread's mask and siglongjmp restores
 * it. Under gpm a G's mask is gpm's (src/core/signal.c), and the kernel
 * mask is the M's: a handler that siglongjmps out would leave its signal
 * blocked in the G for ever. So __sigsetjmp (asm/x86_64/setjmp.S) first
 * notes the G's mask in the jmp_buf's saved sigset_t, past the 8 bytes the
 * kernel's mask fills (glibc's sigset_t is 128 bytes, the kernel's 8), with
 * a tag; siglongjmp, longjmp and __longjmp_chk give the G that mask back
 * before libc's restores the registers (and the kernel mask it saved,
 * which on an M is the Ms' one mask). A jmp_buf without the tag (made
 * before gpm, or by _setjmp) restores nothing of gpm's.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>

#include "../core/gsig.h"
#include "shim.h"

#define JMPTAG 0x676d706d61736bULL /* "gpmmask" */

static void *real(const char *name, void **cache)
{
    void *f = __atomic_load_n(cache, __ATOMIC_ACQUIRE);
    if (f == NULL) {
        f = dlsym(RTLD_NEXT, name);
        __atomic_store_n(cache, f, __ATOMIC_RELEASE);
    }
    return f;
}

static void *realsigsetjmp, *realsiglongjmp, *reallongjmpchk;

void *gpm_sigsetjmp_note(struct __jmp_buf_tag *env, int savemask);
void *gpm_sigsetjmp_note(struct __jmp_buf_tag *env, int savemask)
{
    uint64_t *words = (uint64_t *)(void *)&env->__saved_mask;
    words[2] = 0;
    if (savemask && gpm_state == GPM_ACTIVE) {
        struct gpm_g *gp = gpm_getg();
        if (gp != NULL && gp->kind != G_KIND_FOREIGN) {
            words[1] = atomic_load(&gp->sig.blocked);
            words[2] = JMPTAG;
        }
    }
    return real("__sigsetjmp", &realsigsetjmp);
}

static void restoremask(struct __jmp_buf_tag *env)
{
    uint64_t *words = (uint64_t *)(void *)&env->__saved_mask;
    if (!env->__mask_was_saved || words[2] != JMPTAG || gpm_state != GPM_ACTIVE)
        return;
    sigset_t m;
    gpm_sigset_from(&m, words[1]);
    gpm_sigmask(SIG_SETMASK, &m, NULL);
}

#define LONGJMP(name)                                                             \
    GPM_EXPORT void name(struct __jmp_buf_tag env[1], int val)                    \
    {                                                                             \
        restoremask(env);                                                         \
        ((void (*)(struct __jmp_buf_tag *, int))real("siglongjmp", &realsiglongjmp))(env, val); \
        __builtin_unreachable();                                                  \
    }
LONGJMP(siglongjmp)
LONGJMP(longjmp)
LONGJMP(_longjmp)

GPM_EXPORT void __longjmp_chk(struct __jmp_buf_tag env[1], int val)
{
    restoremask(env);
    ((void (*)(struct __jmp_buf_tag *, int))real("__longjmp_chk", &reallongjmpchk))(env, val);
    __builtin_unreachable();
}
