/*
 * Unit tests of the context switch (asm/x86_64/switch.S, src/core/ctx.c):
 * a new context starts with ABI stack alignment, the callee-saved registers
 * and the FP control words survive a round trip through another context
 * that clobbers them, and %fs is loaded only when asked.
 */
#include <criterion/criterion.h>
#include <fenv.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>

#include "ctx.h"

static void *main_sp, *co_sp;
static char *stack;
#define STACK_SIZE (64 * 1024)

static void *newstack(void)
{
    stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(stack, MAP_FAILED);
    return stack + STACK_SIZE;
}

/* ---- alignment ---- */

static uintptr_t aligned_local_addr;
static int printed;

static void align_entry(void *arg)
{
    _Alignas(16) char local[16];
    aligned_local_addr = (uintptr_t)local;
    /* printf with a double saves xmm registers with movaps: it faults on a
       misaligned stack. */
    char buf[64];
    printed = snprintf(buf, sizeof buf, "%f %d", 1.5, *(int *)arg);
    gpm_ctx_switch(&co_sp, main_sp, NULL);
}

Test(ctx, new_context_is_abi_aligned)
{
    int arg = 7;
    for (int off = 0; off < 16; off++) {
        co_sp = gpm_ctx_init((char *)newstack() - off, align_entry, &arg);
        cr_assert_eq((uintptr_t)co_sp % 16, 0);
        gpm_ctx_switch(&main_sp, co_sp, NULL);
        cr_assert_eq(aligned_local_addr % 16, 0, "misaligned by %d", (int)(aligned_local_addr % 16));
        cr_assert_gt(printed, 0);
        munmap(stack, STACK_SIZE);
    }
}

/* ---- callee-saved registers ---- */

/* switch_with_pattern(save, target, out): loads a known pattern into rbx,
   rbp, r12-r15, switches, and after the switch back stores those registers
   into out[0..5]; restores the caller's registers before returning. */
__asm__(".text\n"
        ".globl switch_with_pattern\n"
        "switch_with_pattern:\n"
        "  push %rbp; push %rbx; push %r12; push %r13; push %r14; push %r15\n"
        "  push %rdx\n"         /* out */
        "  sub $8, %rsp\n"      /* keep 16-byte alignment for the call */
        "  mov $0x1111111111111111, %rbx\n"
        "  mov $0x2222222222222222, %rbp\n"
        "  mov $0x3333333333333333, %r12\n"
        "  mov $0x4444444444444444, %r13\n"
        "  mov $0x5555555555555555, %r14\n"
        "  mov $0x6666666666666666, %r15\n"
        "  xor %edx, %edx\n"    /* new_fs = NULL */
        "  call gpm_ctx_switch\n"
        "  add $8, %rsp\n"
        "  pop %rdx\n"
        "  mov %rbx, 0(%rdx); mov %rbp, 8(%rdx); mov %r12, 16(%rdx)\n"
        "  mov %r13, 24(%rdx); mov %r14, 32(%rdx); mov %r15, 40(%rdx)\n"
        "  pop %r15; pop %r14; pop %r13; pop %r12; pop %rbx; pop %rbp\n"
        "  ret\n");
void switch_with_pattern(void **save, void *target, uint64_t out[6]);

static int co_round;
static int co_rounding_seen;

static void clobber_entry(void *arg)
{
    (void)arg;
    for (;;) {
        /* Clobber every callee-saved register and the FP control words. */
        __asm__ volatile("mov $-1, %%rbx; mov $-1, %%r12; mov $-1, %%r13; mov $-1, %%r14; mov $-1, %%r15"
                         ::: "rbx", "r12", "r13", "r14", "r15");
        if (co_round == 0)
            fesetround(FE_TOWARDZERO);
        else
            co_rounding_seen = fegetround();
        co_round++;
        gpm_ctx_switch(&co_sp, main_sp, NULL);
    }
}

Test(ctx, callee_saved_and_fp_control_survive)
{
    co_sp = gpm_ctx_init(newstack(), clobber_entry, NULL);
    fesetround(FE_TONEAREST);
    uint64_t out[6];
    switch_with_pattern(&main_sp, co_sp, out);
    static const uint64_t want[6] = {0x1111111111111111, 0x2222222222222222, 0x3333333333333333,
                                     0x4444444444444444, 0x5555555555555555, 0x6666666666666666};
    for (int i = 0; i < 6; i++)
        cr_assert_eq(out[i], want[i], "register %d: %#lx", i, (unsigned long)out[i]);
    cr_assert_eq(fegetround(), FE_TONEAREST, "the other context's rounding mode leaked");
    /* And the other context kept its own. */
    gpm_ctx_switch(&main_sp, co_sp, NULL);
    cr_assert_eq(co_rounding_seen, FE_TOWARDZERO);
    munmap(stack, STACK_SIZE);
}

/* Each FP control word on its own: a context that changes only MXCSR
   (flush-to-zero), or only the x87 word (precision control), keeps it
   across switches, and the other context never sees it (fesetround above
   changes both at once). */
static uint16_t getcw(void)
{
    uint16_t cw;
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    return cw;
}

static void setcw(uint16_t cw)
{
    __asm__ volatile("fldcw %0" ::"m"(cw));
}

static uint32_t getcsr(void)
{
    uint32_t csr;
    __asm__ volatile("stmxcsr %0" : "=m"(csr));
    return csr;
}

static void setcsr(uint32_t csr)
{
    __asm__ volatile("ldmxcsr %0" ::"m"(csr));
}

static uint16_t co_cw;
static uint32_t co_csr;

static void words_entry(void *arg)
{
    (void)arg;
    /* Round 1: only MXCSR differs from main's (flush-to-zero). */
    setcsr(getcsr() | 0x8000);
    co_csr = getcsr();
    gpm_ctx_switch(&co_sp, main_sp, NULL);
    /* Round 2: back here, its own words again. */
    cr_assert_eq(getcsr(), co_csr, "MXCSR not restored on the way back");
    /* Round 3: only the x87 word differs (precision control: double). */
    setcsr(co_csr & ~0x8000u);
    setcw((uint16_t)((getcw() & ~0x300) | 0x200));
    co_cw = getcw();
    gpm_ctx_switch(&co_sp, main_sp, NULL);
    cr_assert_eq(getcw(), co_cw, "x87 control word not restored on the way back");
    gpm_ctx_switch(&co_sp, main_sp, NULL);
}

Test(ctx, fp_control_words_one_at_a_time)
{
    uint16_t cw = getcw();
    uint32_t csr = getcsr();
    co_sp = gpm_ctx_init(newstack(), words_entry, NULL);
    gpm_ctx_switch(&main_sp, co_sp, NULL);
    cr_assert_eq(getcsr(), csr, "the other context's MXCSR leaked");
    cr_assert_eq(getcw(), cw);
    gpm_ctx_switch(&main_sp, co_sp, NULL);
    cr_assert_eq(getcw(), cw, "the other context's x87 control word leaked");
    cr_assert_eq(getcsr(), csr);
    gpm_ctx_switch(&main_sp, co_sp, NULL);
    munmap(stack, STACK_SIZE);
}

/* ---- %fs ---- */

static void *fs_seen;

static void fs_entry(void *arg)
{
    (void)arg;
    void *fs;
    __asm__ volatile("mov %%fs:0, %0" : "=r"(fs));
    fs_seen = fs;
    /* Switch back restoring the original thread pointer. */
    gpm_ctx_switch(&co_sp, main_sp, fs_seen == arg ? arg : NULL);
}

Test(ctx, loads_fs_only_when_asked)
{
    gpm_ctx_setup(true);
    void *tp;
    __asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
    /* A fake TCB whose first word points at itself. */
    static _Alignas(64) void *fake[64];
    fake[0] = fake;
    co_sp = gpm_ctx_init(newstack(), fs_entry, tp);
    gpm_ctx_switch(&main_sp, co_sp, fake);
    /* fs_entry saw the fake TCB... */
    cr_assert_eq(fs_seen, (void *)fake);
    /* ...and switched back with new_fs = NULL (fake != tp): still fake. */
    void *now;
    __asm__ volatile("mov %%fs:0, %0" : "=r"(now));
    gpm_wrfs(tp); /* restore before Criterion touches TLS */
    cr_assert_eq(now, (void *)fake);
    munmap(stack, STACK_SIZE);
}
