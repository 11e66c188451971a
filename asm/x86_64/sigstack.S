/*
 * asm/x86_64/sigstack.S: calling a program's signal handler on the G's
 * alternate signal stack (sigaltstack, emulated per G in
 * src/core/signal.c).
 *
 *   void gpm_sigcall_onstack(void *fn, long sig, void *si, void *uc,
 *                            void *stacktop);
 *
 * Switches to stacktop (aligned down to 16 bytes), calls fn(sig, si, uc)
 * there and returns on the caller's stack. The caller's stack pointer is
 * kept in a callee-saved register, so the handler returns to it whatever
 * it does with the alternate stack; a handler that longjmps out leaves
 * both stacks behind, as it would natively.
 */
    .text
    .globl gpm_sigcall_onstack
    .hidden gpm_sigcall_onstack
    .type gpm_sigcall_onstack, @function
gpm_sigcall_onstack:
    .cfi_startproc
    pushq %rbp
    .cfi_def_cfa_offset 16
    .cfi_offset %rbp, -16
    movq %rsp, %rbp
    .cfi_def_cfa_register %rbp
    movq %rdi, %rax         /* fn */
    movq %rsi, %rdi         /* sig */
    movq %rdx, %rsi         /* si */
    movq %rcx, %rdx         /* uc */
    andq $-16, %r8
    movq %r8, %rsp
    call *%rax
    movq %rbp, %rsp
    popq %rbp
    .cfi_def_cfa %rsp, 8
    ret
    .cfi_endproc
    .size gpm_sigcall_onstack, .-gpm_sigcall_onstack

    .section .note.GNU-stack,"",@progbits
