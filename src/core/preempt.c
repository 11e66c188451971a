/*
 * src/core/preempt.c: asynchronous preemption (DESIGN.md section 9), and
 * the program's own use of the preemption signal.
 *
 * Why gpm may preempt C code where Go refuses
 * -------------------------------------------
 * Go never preempts C code asynchronously: a goroutine in cgo runs on the
 * M's own thread, with the M's thread-local state, and C libraries hold
 * per-thread state and locks that another goroutine on the same M would
 * see. A G of gpm's is a thread of its own in every way the program can
 * observe: its own stack, its own TCB and TLS (errno, the stack-protector
 * canary, malloc's arena, stdio's and ld.so's lock ownership all move with
 * it, DESIGN.md section 5). Stopping it at an arbitrary instruction of the
 * program's and resuming it later, perhaps on another kernel thread, is
 * therefore exactly what the kernel does to a native thread when its time
 * slice ends: a lock it holds stays held by it, a thread that waits for
 * the lock waits (and if it waits in the kernel, sysmon revokes its P).
 *
 * What is excluded, and why:
 *   - gpm itself: its code manipulates Ps, run queues and runtime locks,
 *     and may run on g0 with a borrowed %fs; preempting it would re-enter
 *     the scheduler halfway through.
 *   - libc and ld.so: they run on the G's TCB too, but some of their code
 *     runs with signals in a particular state, in the middle of a system
 *     call sequence, or (ld.so's lazy binding, libc's IFUNC resolution)
 *     under locks whose holders glibc assumes cannot migrate mid-section.
 *     A G interrupted there gets the cooperative flag instead and yields at
 *     its next gpm call.
 *   - an instruction about to restart a system call (the kernel rewound
 *     rip onto a `syscall` instruction for SA_RESTART): the restart state
 *     of a timed call is the kernel thread's, and the G may resume on
 *     another.
 *   - a G whose AMX tile state is in use (too large to save on its stack;
 *     the trampoline saves every other user component).
 *   - a G too close to the end of its stack to hold the saved state.
 *   - an M that holds its P pinned (gpm's code on the G's stack, which may
 *     be reading the vDSO's clock).
 * A program's signal handler may be preempted like any of its code: gpm
 * runs handlers only where the G was in the program's code or in a system
 * call ("Delivery" in signal.c), never inside gpm.
 * The program's own code is recognised by address: the executable segments
 * of libc, ld.so and libgpm are found with dl_iterate_phdr at start-up
 * (they are loaded before the program runs and never unloaded); every other
 * address, JIT code included, is the program's. The vDSO counts as the
 * program's: its clock reads keep no state of the thread's (a sequence
 * count and the TSC, which a migration to another CPU leaves as valid as
 * it does for a native thread), and a loop that reads the clock in every
 * iteration spends most of its time there. Its fallback system calls are
 * covered by the restart check below.
 *
 * The handler
 * -----------
 * sysmon increments the target M's preemptsent and sends the signal with
 * tgkill; the handler takes a signal as gpm's when its M's preemptseen lags
 * behind preemptsent (and catches up). signal.c sends it the same way to
 * make the G running on an M take a signal or a cancellation (a "poke",
 * gpm_sig_onpoke); a request to yield is one only when the G's flag is
 * set. Every other delivery of that signal is the program's and is routed
 * as any signal of the program's (gpm_sighandler). The handler is
 * SA_RESTART, so a wrapped system call it interrupts is restarted and
 * never sees EINTR; it uses raw system calls only (errno is untouched) and
 * takes no lock. When the interrupted pc is the program's, it moves the
 * stack pointer below the red zone, pushes the pc there and resumes the G
 * in gpm_async_preempt (asm/x86_64/preempt.S), which saves everything and
 * calls gpm_asyncpreempt2, a yield. Otherwise it leaves the cooperative
 * flag sysmon set, and the G yields at its next gpm call; sysmon signals
 * again GPM_PREEMPT_MS later if it has not.
 *
 * The preemption signal is never blocked on an M: it is out of the Ms' one
 * kernel mask ("The kernel's masks" in signal.c); the program's masks are
 * its Gs', which the kernel never sees.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <elf.h>
#include <link.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>

#include "../../compat/libc_real.h"
#include "env.h"
#include "runtime.h"
#include "gstack.h"
#include "gsig.h"
#include "sys.h"
#include "tools.h"

/* Read by asm/x86_64/preempt.S: the bytes and components its xsave saves
   (0 bytes: no xsave, fxsave's 512). Set once at start-up. */
uint32_t gpm_xsave_size;
uint64_t gpm_xsave_mask;

void gpm_async_preempt(void);

enum { XFEATURE_AMX = (1 << 17) | (1 << 18) };

/* Executable segments that are not the program's: [lo, hi). */
static struct {
    uintptr_t lo, hi;
} unsafe[32];
static int nunsafe;

/* libgpm's own executable segment, and the vDSO's: [lo, hi). */
static uintptr_t gpm_lo, gpm_hi, vdso_lo, vdso_hi;

static bool preempt_on(void)
{
    return gpm_config.preemptsig > 0;
}

/* Preemption by signal: off under valgrind (tools.c, "Two kinds of
   checker"), where the signal still pokes a G for its own signals and
   cancellation. Besides, valgrind's signal frames carry the legacy FP area
   only (no xsave header for the AMX check), and memcheck takes the
   trampoline's pushes below the interrupted stack pointer for invalid
   writes. Set once at start-up. */
static bool asyncpreempt;

static bool endswith_obj(const char *path, const char *prefix)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return strncmp(base, prefix, strlen(prefix)) == 0;
}

static int findunsafe(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    uintptr_t self = (uintptr_t)arg;
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    bool mine = false;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && self >= lo && self < lo + ph->p_memsz)
            mine = true;
    }
    if (endswith_obj(name, "linux-vdso.so")) {
        for (int i = 0; i < info->dlpi_phnum; i++) {
            const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
            if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
                vdso_lo = info->dlpi_addr + ph->p_vaddr;
                vdso_hi = vdso_lo + ph->p_memsz;
            }
        }
        return 0;
    }
    if (!mine && !endswith_obj(name, "libc.so") && !endswith_obj(name, "ld-linux") && !endswith_obj(name, "ld64.so"))
        return 0;
    for (int i = 0; i < info->dlpi_phnum && nunsafe < (int)(sizeof unsafe / sizeof unsafe[0]); i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        unsafe[nunsafe].lo = info->dlpi_addr + ph->p_vaddr;
        unsafe[nunsafe].hi = unsafe[nunsafe].lo + ph->p_memsz;
        if (mine) {
            gpm_lo = unsafe[nunsafe].lo;
            gpm_hi = unsafe[nunsafe].hi;
        }
        nunsafe++;
    }
    return 0;
}

/* Whether pc is the program's own code. Async-signal-safe. */
static bool programpc(uintptr_t pc)
{
    for (int i = 0; i < nunsafe; i++)
        if (pc >= unsafe[i].lo && pc < unsafe[i].hi)
            return false;
    return true;
}

/* The extended state the trampoline saves: every user component XCR0
   enables except AMX's, and the size of the standard-format area for
   them (cpuid leaf 0xD), rounded up to 64 bytes. */
static void xsave_setup(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_XSAVE) || !(c & bit_OSXSAVE))
        return;
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    uint64_t mask = ((uint64_t)hi << 32 | lo) & ~(uint64_t)XFEATURE_AMX;
    uint32_t size = 576; /* legacy area and header */
    for (int i = 2; i < 63; i++) {
        if (!(mask & (1ULL << i)))
            continue;
        __cpuid_count(0xd, i, a, b, c, d);
        if (c & 1) /* a supervisor component: not in XCR0's user state */
            continue;
        if (b + a > size)
            size = b + a;
    }
    gpm_xsave_mask = mask;
    gpm_xsave_size = (size + 63) & ~63u;
}

/* The M of the calling kernel thread: the running G's, when its TLS is
   loaded, else found by tid. Async-signal-safe. */
static struct gpm_m *thism(void)
{
    int tid = gpm_gettid();
    struct gpm_g *gp = gpm_tls_g;
    if (gp != NULL && gp->magic == GPM_G_MAGIC && gp->m != NULL && gp->m->procid == tid)
        return gp->m;
    for (struct gpm_m *mp = atomic_load_explicit(&gpm_sched.allm, memory_order_acquire); mp; mp = mp->alllink)
        if (mp->procid == tid)
            return mp;
    return NULL;
}

static void handler(int sig, siginfo_t *si, void *ucv)
{
    struct gpm_m *mp = thism();
    bool ours = false;
    if (mp != NULL && si->si_code == SI_TKILL) {
        uint32_t sent = atomic_load_explicit(&mp->preemptsent, memory_order_relaxed);
        if (sent != mp->preemptseen) {
            mp->preemptseen = sent;
            ours = true;
        }
    }
    if (!ours) {
        /* The program's own (a socket's out-of-band data, kill): routed
           as any other signal of the program's (signal.c). */
        gpm_sighandler(sig, si, ucv);
        return;
    }
    ucontext_t *uc = ucv;
    struct gpm_g *gp = mp->curg;
    /* On g0, or halfway through a switch: nothing of the program's runs. */
    if (gp == NULL || gpm_tls_g != gp)
        return;
    greg_t *r = uc->uc_mcontext.gregs;
    uintptr_t pc = (uintptr_t)r[REG_RIP];
    /* gpm's own code on this G's stack (a pinned P; the vDSO's clock,
       which gpm reads too): neither a handler nor a yield may start. */
    if (gpm_m_pinned(mp))
        return;
    /* A poke for a signal or a cancellation ("Delivery" in signal.c): the
       vDSO does not count as the program's here, gpm may be reading the
       clock under a lock of its own. */
    gpm_sig_onpoke(mp, ucv, programpc(pc) && !(pc >= vdso_lo && pc < vdso_hi), pc >= gpm_lo && pc < gpm_hi);
    /* A request to yield is sysmon's, with the G's flag set; the flag
       alone (a poke's, or sysmon's without a signal) is for the G's next
       call into gpm when there is no asynchronous preemption. */
    if (!asyncpreempt)
        return;
    if (atomic_load_explicit((_Atomic uint8_t *)((char *)gp->tcb + gpm_tls_preempt_off), memory_order_relaxed) == 0)
        return;
    pc = (uintptr_t)r[REG_RIP];
    uintptr_t sp = (uintptr_t)r[REG_RSP];
    if (!programpc(pc))
        return;
    if (*(const uint16_t *)pc == 0x050f) /* `syscall`: a restart is pending */
        return;
    if (uc->uc_mcontext.fpregs != NULL && gpm_xsave_size != 0) {
        /* XSTATE_BV, in the header after the legacy area, of the state the
           kernel saved for the handler. */
        const uint64_t *xstate_bv = (const uint64_t *)((const char *)uc->uc_mcontext.fpregs + 512);
        if (*xstate_bv & XFEATURE_AMX)
            return;
    }
    /* The trampoline's frame: the red zone, the return address, 16
       registers, the xsave area and its alignment, then the yield's own
       frames (a few hundred bytes of C). */
    uintptr_t need = 128 + 8 + 16 * 8 + (gpm_xsave_size ? gpm_xsave_size : 512) + 64 + 4096;
    uintptr_t lo = gpm_gstack_lo(gp);
    if (lo != 0 && (sp < lo || sp - lo < need))
        return;
    sp -= 128 + 8;
    *(uintptr_t *)sp = pc;
    r[REG_RSP] = (greg_t)sp;
    r[REG_RIP] = (greg_t)(uintptr_t)gpm_async_preempt;
}

bool gpm_preempt_signal(struct gpm_m *mp)
{
    if (!asyncpreempt)
        return false;
    atomic_fetch_add_explicit(&mp->preemptsent, 1, memory_order_relaxed);
    return gpm_syscall3(SYS_tgkill, gpm_getpid(), mp->procid, gpm_config.preemptsig) == 0;
}

void gpm_preempt_init(void)
{
    xsave_setup();
    dl_iterate_phdr(findunsafe, (void *)(uintptr_t)gpm_preempt_init);
    if (!preempt_on())
        return;
    int sig = gpm_config.preemptsig;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    /* Not SA_ONSTACK: the handler may run a program handler (a poke),
       which may park; only SIGSEGV's uses the M's alternate stack
       ("Faults and stack overflows" in signal.c). */
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    struct sigaction progaction;
    if (gpm_real.sigaction(sig, &sa, &progaction) != 0) {
        gpm_printf("gpm: cannot install the preemption signal's handler: no asynchronous preemption\n");
        gpm_config.preemptsig = 0;
        return;
    }
    /* Never blocked on an M: not in the mask new Ms start with, nor on
       this thread. Handlers installed before gpm started block it too. */
    sigdelset(&gpm_initsigmask, sig);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    gpm_syscall4(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&one, 0, 8);
    gpm_sig_initprog(sig, &progaction);
    asyncpreempt = !gpm_on_valgrind();
}
