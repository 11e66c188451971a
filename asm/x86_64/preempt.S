/*
 * asm/x86_64/preempt.S: the asynchronous preemption trampoline
 * (DESIGN.md section 9; src/core/preempt.c decides when it runs).
 *
 *   gpm_async_preempt: not called, but returned into.
 *
 * The preemption signal's handler, having found the G interrupted in the
 * program's own code, rewrites the interrupted context so that on return
 * from the handler the G runs this code as if it had been called at the
 * interrupted instruction: it steps the stack pointer below the 128-byte
 * red zone (which the interrupted function may be using), stores the
 * interrupted rip there and sets rip to gpm_async_preempt. Everything else
 * is as the kernel restored it: every register holds the program's value.
 *
 * The trampoline saves every general register and the flags on the stack,
 * then the extended state (x87, SSE, AVX, AVX-512, MPX, PKRU: every user
 * component XCR0 enables but AMX's, gpm_xsave_mask; the handler does not
 * preempt a G whose AMX state is in use) with xsave into a 64-byte aligned
 * area below them (fxsave where the CPU has no xsave), calls
 * gpm_asyncpreempt2 (a yield, in C, on
 * this same G stack), restores everything in reverse order, and returns to
 * the interrupted rip with `ret $128`, which also pops the red zone, so rsp
 * is exactly what it was.
 *
 * The frame, from the interrupted rsp downwards (rsp0 = interrupted rsp):
 *
 *        +---------------------------+ rsp0
 *        | red zone, 128 bytes       |  untouched
 *        +---------------------------+ rsp0 - 128
 *        | interrupted rip           |  written by the signal handler
 *        +---------------------------+ rsp0 - 136  <- rsp on entry
 *        | rflags                    |
 *        | rax rbx rcx rdx rsi rdi   |
 *        | rbp r8 r9 r10 r11 r12     |
 *        | r13 r14 r15               |  15 registers, in that order
 *        +---------------------------+ rsp0 - 264  <- rbx (kept across)
 *        | padding to 64 bytes       |
 *        | xsave area (gpm_xsave_size bytes, or 512 for fxsave)
 *        +---------------------------+ 64-byte aligned <- rsp at the call
 *
 * xsave needs the 64-byte header after the legacy area zeroed before the
 * first use (xrstor faults on reserved header bits), so the area is
 * cleared first. The direction flag is cleared before the call, as the ABI
 * requires at every call; the saved rflags restore the program's.
 *
 * CFI: the canonical frame address is the interrupted rsp (rsp0 = rbx + 264),
 * the return address is at CFA - 136, and every saved register is described,
 * so gdb, libunwind (the SIGQUIT dump) and the forced unwind of pthread_exit
 * walk from the yield into the interrupted frame. It is a signal frame: the
 * return address is the interrupted instruction itself, not the one after
 * a call.
 */

    .text

    .globl  gpm_async_preempt
    .hidden gpm_async_preempt
    .type   gpm_async_preempt, @function
    .p2align 4
gpm_async_preempt:
    .cfi_startproc simple
    .cfi_signal_frame
    .cfi_def_cfa %rsp, 136          /* CFA = rsp0 = rsp + 8 + 128 */
    .cfi_offset %rip, -136          /* the interrupted rip, at the entry rsp */
    pushfq                          /* the program's flags */
    .cfi_adjust_cfa_offset 8
    pushq   %rax
    .cfi_adjust_cfa_offset 8
    .cfi_offset %rax, -152
    pushq   %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_offset %rbx, -160
    pushq   %rcx
    .cfi_adjust_cfa_offset 8
    .cfi_offset %rcx, -168
    pushq   %rdx
    .cfi_adjust_cfa_offset 8
    .cfi_offset %rdx, -176
    pushq   %rsi
    .cfi_adjust_cfa_offset 8
    .cfi_offset %rsi, -184
    pushq   %rdi
    .cfi_adjust_cfa_offset 8
    .cfi_offset %rdi, -192
    pushq   %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_offset %rbp, -200
    pushq   %r8
    .cfi_adjust_cfa_offset 8
    .cfi_offset %r8, -208
    pushq   %r9
    .cfi_adjust_cfa_offset 8
    .cfi_offset %r9, -216
    pushq   %r10
    .cfi_adjust_cfa_offset 8
    .cfi_offset %r10, -224
    pushq   %r11
    .cfi_adjust_cfa_offset 8
    .cfi_offset %r11, -232
    pushq   %r12
    .cfi_adjust_cfa_offset 8
    .cfi_offset %r12, -240
    pushq   %r13
    .cfi_adjust_cfa_offset 8
    .cfi_offset %r13, -248
    pushq   %r14
    .cfi_adjust_cfa_offset 8
    .cfi_offset %r14, -256
    pushq   %r15
    .cfi_adjust_cfa_offset 8
    .cfi_offset %r15, -264
    movq    %rsp, %rbx              /* rbx = rsp0 - 264, callee-saved across the call */
    .cfi_def_cfa_register %rbx      /* CFA = rbx + 264 */

    movl    gpm_xsave_size(%rip), %ecx
    testl   %ecx, %ecx
    jz      1f
    subq    %rcx, %rsp              /* room for the xsave area */
    andq    $-64, %rsp              /* which must be 64-byte aligned */
    movq    %rsp, %rdi              /* clear it (the header must be zero) */
    shrl    $3, %ecx                /* in 8-byte words (the size is a multiple of 64) */
    xorl    %eax, %eax
    cld
    rep stosq
    movl    gpm_xsave_mask(%rip), %eax   /* the components to save */
    movl    gpm_xsave_mask+4(%rip), %edx
    xsave64 (%rsp)
    jmp     2f
1:
    subq    $512, %rsp              /* no xsave: the legacy x87/SSE area */
    andq    $-64, %rsp
    fxsave64 (%rsp)
2:
    cld                             /* the ABI's direction flag for the call */
    call    gpm_asyncpreempt2       /* yield; returns when this G runs again */

    movl    gpm_xsave_size(%rip), %ecx
    testl   %ecx, %ecx
    jz      3f
    movl    gpm_xsave_mask(%rip), %eax
    movl    gpm_xsave_mask+4(%rip), %edx
    xrstor64 (%rsp)
    jmp     4f
3:
    fxrstor64 (%rsp)
4:
    movq    %rbx, %rsp
    .cfi_def_cfa %rsp, 264
    popq    %r15
    .cfi_adjust_cfa_offset -8
    popq    %r14
    .cfi_adjust_cfa_offset -8
    popq    %r13
    .cfi_adjust_cfa_offset -8
    popq    %r12
    .cfi_adjust_cfa_offset -8
    popq    %r11
    .cfi_adjust_cfa_offset -8
    popq    %r10
    .cfi_adjust_cfa_offset -8
    popq    %r9
    .cfi_adjust_cfa_offset -8
    popq    %r8
    .cfi_adjust_cfa_offset -8
    popq    %rbp
    .cfi_adjust_cfa_offset -8
    popq    %rdi
    .cfi_adjust_cfa_offset -8
    popq    %rsi
    .cfi_adjust_cfa_offset -8
    popq    %rdx
    .cfi_adjust_cfa_offset -8
    popq    %rcx
    .cfi_adjust_cfa_offset -8
    popq    %rbx                    /* the program's rbx */
    .cfi_adjust_cfa_offset -8
    popq    %rax
    .cfi_adjust_cfa_offset -8
    popfq                           /* the program's flags, direction flag included */
    .cfi_adjust_cfa_offset -8
    ret     $128                    /* to the interrupted rip; rsp = rsp0 */
    .cfi_endproc
    .size   gpm_async_preempt, .-gpm_async_preempt

    .section .note.GNU-stack,"",@progbits
