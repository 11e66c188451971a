/*
 * src/core/ctx.h: making and switching machine contexts (asm/x86_64/switch.S).
 */
#ifndef GPM_CORE_CTX_H
#define GPM_CORE_CTX_H

#include <stdbool.h>
#include <stdint.h>

/* Saves the current context into *save_sp, loads %fs with new_fs unless it
   is NULL, and resumes the context saved at new_sp. Returns when something
   switches back to *save_sp. */
void gpm_ctx_switch(void **save_sp, void *new_sp, void *new_fs);

/* Loads %fs with base (wrfsbase or arch_prctl). */
void gpm_wrfs(void *base);

/* Non-zero when %fs is written with wrfsbase (AT_HWCAP2 bit 1); read by
   switch.S. Set once by gpm_ctx_setup before any switch. */
extern uint8_t gpm_fs_wrfsbase;

/* Chooses the %fs write method from the auxiliary vector, honouring
   GPM_DEBUG=nowrfsbase. */
void gpm_ctx_setup(bool allow_wrfsbase);

/* Writes an initial frame below stack_top so that the first switch to the
   returned stack pointer calls entry(arg) on that stack with ABI alignment.
   The new context starts with the caller's FP control state, as a new
   kernel thread inherits its creator's. */
void *gpm_ctx_init(void *stack_top, void (*entry)(void *), void *arg);

/* The caller's x87 control word (low 16 bits) and MXCSR (high 32 bits of
   the frame slot), packed as switch.S stores them. */
uint64_t gpm_ctx_fpstate(void);

#endif
