/*
 * compat/abi_check.h: the start-up check that the running glibc is the one
 * compat/glibc_abi.h describes.
 */
#ifndef GPM_COMPAT_ABI_CHECK_H
#define GPM_COMPAT_ABI_CHECK_H

/* Checks the offsets of glibc_abi.h against libc's own _thread_db_*
   descriptors and against the calling thread's live TCB, which must be a
   thread glibc made (the main thread, at start-up). Returns NULL when all
   agree, else a description of the first mismatch. */
const char *gpm_abi_check(char *why, unsigned long whylen);

#endif
