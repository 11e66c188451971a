/*
 * asm/x86_64/setjmp.S: __sigsetjmp and setjmp, which note the calling G's
 * signal mask in the jmp_buf before libc's own saves the registers
 * (src/shim/jmp.c says why). A setjmp cannot be a C function (it returns
 * twice): this one calls the C helper, undoes its own frame exactly, and
 * jumps into libc's, which then sees the program's caller and stack as if
 * it had been called directly.
 *
 *   gpm_sigsetjmp_note(env, savemask) returns libc's __sigsetjmp.
 */
    .text
    .globl __sigsetjmp
    .type __sigsetjmp, @function
__sigsetjmp:
    .cfi_startproc
    pushq %rdi
    .cfi_adjust_cfa_offset 8
    pushq %rsi
    .cfi_adjust_cfa_offset 8
    subq $8, %rsp
    .cfi_adjust_cfa_offset 8
    call gpm_sigsetjmp_note
    addq $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq %rsi
    .cfi_adjust_cfa_offset -8
    popq %rdi
    .cfi_adjust_cfa_offset -8
    jmp *%rax
    .cfi_endproc
    .size __sigsetjmp, .-__sigsetjmp

    .globl setjmp
    .type setjmp, @function
setjmp:
    .cfi_startproc
    movl $1, %esi
    jmp __sigsetjmp
    .cfi_endproc
    .size setjmp, .-setjmp

    .section .note.GNU-stack,"",@progbits
