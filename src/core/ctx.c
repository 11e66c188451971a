/*
 * src/core/ctx.c: initial frames for new contexts, and the %fs method.
 * The frame layout is drawn at the top of asm/x86_64/switch.S.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/auxv.h>

#include "ctx.h"

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif

uint8_t gpm_fs_wrfsbase;

void gpm_ctx_setup(bool allow_wrfsbase)
{
    gpm_fs_wrfsbase = allow_wrfsbase && (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE) != 0;
}

uint64_t gpm_ctx_fpstate(void)
{
    uint16_t cw;
    uint32_t mxcsr;
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    return (uint64_t)cw | ((uint64_t)mxcsr << 32);
}

/* Frame slots, in 8-byte words from the saved stack pointer. */
enum { SLOT_FP, SLOT_R15, SLOT_R14, SLOT_R13, SLOT_R12, SLOT_RBX, SLOT_RBP, SLOT_RET, NSLOTS };

void *gpm_ctx_init(void *stack_top, void (*entry)(void *), void *arg)
{
    extern void gpm_ctx_trampoline(void);
    /* The trampoline runs with rsp = frame + NSLOTS words, which must be
       16-byte aligned for its call; NSLOTS * 8 = 64 keeps the frame itself
       aligned too. */
    uintptr_t top = (uintptr_t)stack_top & ~(uintptr_t)15;
    uint64_t *frame = (uint64_t *)(top - NSLOTS * sizeof(uint64_t));
    memset(frame, 0, NSLOTS * sizeof(uint64_t));
    frame[SLOT_FP] = gpm_ctx_fpstate();
    frame[SLOT_R13] = (uint64_t)(uintptr_t)entry;
    frame[SLOT_R12] = (uint64_t)(uintptr_t)arg;
    frame[SLOT_RET] = (uint64_t)(uintptr_t)gpm_ctx_trampoline;
    return frame;
}
