/*
 * asm/x86_64/switch.S: the G context switch (DESIGN.md section 4).
 *
 *   void gpm_ctx_switch(void **save_sp, void *new_sp, void *new_fs);
 *
 * Saves what the System V ABI says a callee must preserve (rbx, rbp,
 * r12-r15, the MXCSR control bits and the x87 control word) on the current
 * stack, stores the stack pointer in *save_sp, loads %fs with new_fs unless
 * it is NULL, switches to new_sp and restores the same frame from there.
 * Caller-saved registers need no saving: the compiler already assumes a call
 * clobbers them. No signal mask is touched (swapcontext's sigprocmask costs
 * a system call per switch).
 *
 * The %fs write happens after the old context is saved and before any code
 * runs on the new stack, with no memory access through %fs in between, so
 * neither side ever sees the other's thread-local state. It uses wrfsbase
 * when the kernel enabled it (AT_HWCAP2 bit 1, gpm_fs_wrfsbase != 0), else
 * arch_prctl(ARCH_SET_FS), a system call.
 *
 * The saved frame, as found at *save_sp (addresses grow upwards):
 *
 *        +------------------+
 *   +0   | x87 CW | MXCSR   |  fnstcw at +0 (2 bytes), stmxcsr at +4
 *        +------------------+
 *   +8   | r15              |
 *   +16  | r14              |
 *   +24  | r13              |
 *   +32  | r12              |
 *   +40  | rbx              |
 *   +48  | rbp              |
 *        +------------------+
 *   +56  | return address   |  where the switched-to context resumes
 *        +------------------+
 *
 * A new context is made by gpm_ctx_init (src/core/ctx.c), which writes this
 * frame with the return address pointing at gpm_ctx_trampoline, the entry
 * function in the r13 slot and its argument in the r12 slot.
 */

#define FRAME_SIZE 56

    .text

    .globl  gpm_ctx_switch
    .hidden gpm_ctx_switch
    .type   gpm_ctx_switch, @function
    .p2align 4
gpm_ctx_switch:
    .cfi_startproc
    pushq   %rbp                    /* callee-saved registers */
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbp, 0
    pushq   %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbx, 0
    pushq   %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r12, 0
    pushq   %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r13, 0
    pushq   %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r14, 0
    pushq   %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r15, 0
    subq    $8, %rsp                /* room for the FP control words */
    .cfi_adjust_cfa_offset 8
    fnstcw  (%rsp)                  /* x87 control word */
    stmxcsr 4(%rsp)                 /* SSE control/status */
    movq    %rsp, (%rdi)            /* *save_sp = rsp: old context complete */

    testq   %rdx, %rdx              /* new_fs == NULL: keep %fs */
    jz      2f
    cmpb    $0, gpm_fs_wrfsbase(%rip)
    je      1f
    wrfsbase %rdx                   /* %fs base = new_fs, no kernel entry */
    jmp     2f
1:
    movq    %rsi, %r12              /* keep new_sp across the syscall (r12 is saved) */
    movq    %rdx, %rsi              /* arg 2: the new base */
    movl    $0x1002, %edi           /* arg 1: ARCH_SET_FS */
    movl    $158, %eax              /* SYS_arch_prctl */
    syscall                         /* clobbers rcx, r11, rax: caller-saved */
    movq    %r12, %rsi
2:
    movq    %rsi, %rsp              /* switch stacks: from here on, the new context */
    fldcw   (%rsp)                  /* restore its FP control words */
    ldmxcsr 4(%rsp)
    addq    $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq    %r15                    /* and its callee-saved registers */
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r15
    popq    %r14
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r14
    popq    %r13
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r13
    popq    %r12
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r12
    popq    %rbx
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbx
    popq    %rbp
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbp
    ret                             /* resume the new context */
    .cfi_endproc
    .size   gpm_ctx_switch, .-gpm_ctx_switch

/*
 * gpm_ctx_trampoline: first code of every new context. gpm_ctx_switch's
 * `ret` lands here with r12 = the argument and r13 = the entry function,
 * popped from the frame gpm_ctx_init wrote; rsp is 16-byte aligned, so the
 * call below enters the function with the alignment the ABI requires.
 * The return address is undefined: unwinders (gdb, libunwind, the forced
 * unwind of pthread_exit) stop here cleanly. The entry function never
 * returns.
 */
    .globl  gpm_ctx_trampoline
    .hidden gpm_ctx_trampoline
    .type   gpm_ctx_trampoline, @function
    .p2align 4
gpm_ctx_trampoline:
    .cfi_startproc
    .cfi_undefined %rip
    movq    %r12, %rdi              /* the entry function's argument */
    callq   *%r13                   /* entry(arg): never returns */
    ud2                             /* if it did: crash loudly */
    .cfi_endproc
    .size   gpm_ctx_trampoline, .-gpm_ctx_trampoline

/*
 * void gpm_wrfs(void *base): load %fs outside a switch (g0 taking its own
 * TLS back). Same method choice as above.
 */
    .globl  gpm_wrfs
    .hidden gpm_wrfs
    .type   gpm_wrfs, @function
    .p2align 4
gpm_wrfs:
    .cfi_startproc
    cmpb    $0, gpm_fs_wrfsbase(%rip)
    je      1f
    wrfsbase %rdi
    ret
1:
    movq    %rdi, %rsi              /* arg 2: the new base */
    movl    $0x1002, %edi           /* arg 1: ARCH_SET_FS */
    movl    $158, %eax              /* SYS_arch_prctl */
    syscall
    ret
    .cfi_endproc
    .size   gpm_wrfs, .-gpm_wrfs

    .section .note.GNU-stack,"",@progbits
