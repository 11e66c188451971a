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

/*
 *   void gpm_rt_sigreturn(void *uc);   never returns
 *
 * Returns from a signal through a copy of the kernel's signal frame
 * (src/core/signal.c, "Faults and stack overflows"): uc is the copy's
 * struct ucontext, with the 8-byte return-address slot (pretcode) right
 * below it and the siginfo right above, as the kernel lays a frame out.
 * rt_sigreturn finds the frame at rsp - 8, so rsp becomes uc; the kernel
 * then restores every register, the mask, the fp state (through the
 * copy's fpstate pointer) and the alternate stack from the copy.
 */
    .globl gpm_rt_sigreturn
    .hidden gpm_rt_sigreturn
    .type gpm_rt_sigreturn, @function
gpm_rt_sigreturn:
    .cfi_startproc
    .cfi_undefined rip      /* nothing to unwind into: the frame is gone */
    movq %rdi, %rsp         /* rsp = uc: the frame starts 8 below */
    movl $15, %eax          /* SYS_rt_sigreturn */
    syscall
    ud2                     /* rt_sigreturn does not return here */
    .cfi_endproc
    .size gpm_rt_sigreturn, .-gpm_rt_sigreturn

    .section .note.GNU-stack,"",@progbits
