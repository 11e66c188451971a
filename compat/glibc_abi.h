/*
 * compat/glibc_abi.h: what gpm knows about the host C library's private ABI.
 *
 * gpm gives every G a thread control block (TCB) that glibc's own code
 * accepts as a thread (DESIGN.md section 5, notes/tls-glibc-2.36.md). That
 * needs a handful of offsets inside glibc's `struct pthread`, the mangling of
 * saved stack pointers in a jmp_buf, and a few GLIBC_PRIVATE entry points.
 * They live here and nowhere else. Every offset is checked at start-up
 * against the running thread and against libc's own `_thread_db_*`
 * descriptors (compat/abi_check.c); on any mismatch gpm runs the program on
 * native threads instead of guessing.
 *
 * Verified for: glibc 2.36 (Debian 12), x86_64. Another glibc version gets
 * its own block below once its layout has been read with
 * `gdb -batch -ex 'ptype /o struct pthread' libc.so.6` and checked by
 * tests/preload/tcb_layout.
 *
 * This header includes nothing of core or shim.
 */
#ifndef GPM_COMPAT_GLIBC_ABI_H
#define GPM_COMPAT_GLIBC_ABI_H

#include <stddef.h>
#include <stdint.h>

#if !defined(__x86_64__)
#error "gpm: only x86_64 is described in compat/glibc_abi.h so far"
#endif

/* glibc 2.36, x86_64: offsets inside struct pthread (decimal bytes). */
#define GLIBC_ABI_VERSION_STRING "2.36"

/* tcbhead_t, at the start of struct pthread; %fs points here. */
#define TCB_OFF_TCB            0x00 /* void *tcb: the thread pointer itself */
#define TCB_OFF_DTV            0x08 /* dtv_t *dtv */
#define TCB_OFF_SELF           0x10 /* struct pthread *self: THREAD_SELF */
#define TCB_OFF_MULTIPLE_THREADS 0x18 /* int: x86 catomic_* take the lock prefix when set */
#define TCB_OFF_STACK_GUARD    0x28 /* -fstack-protector canary */
#define TCB_OFF_POINTER_GUARD  0x30 /* PTR_MANGLE key */
#define TCB_OFF_FEATURE_1      0x48 /* CET bits */
#define TCB_OFF_HEADER_UNUSED  0x80 /* __glibc_unused2 (the old rtld vector save area) up
                                       to the list: nothing writes it */

/* struct pthread proper. */
#define TCB_OFF_LIST           704  /* list_t list: self-linked, or fork's reclaim_stacks crashes */
#define TCB_OFF_TID            720  /* pid_t tid: owner id of every glibc recursive lock */
#define TCB_OFF_ROBUST_PREV    728  /* void *robust_prev */
#define TCB_OFF_ROBUST_LIST    736  /* robust_list_head.list: self-linked when empty */
#define TCB_OFF_ROBUST_FUTEX_OFFSET 744
#define TCB_OFF_CLEANUP        760  /* old-style _pthread_cleanup_buffer chain */
#define TCB_OFF_CLEANUP_JMP_BUF 768 /* pthread_cleanup_push buffers (__pthread_register_cancel) */
#define TCB_OFF_CANCELHANDLING 776
#define TCB_OFF_SPECIFIC_1STBLOCK 784
#define TCB_OFF_SPECIFIC       1296 /* specific[0] must point at specific_1stblock */
#define TCB_OFF_SPECIFIC_USED  1552 /* bool: the thread stored into specific (report_events follows) */
#define TCB_OFF_USER_STACK     1554 /* bool: glibc never caches or frees the block */
#define TCB_OFF_STACKBLOCK     1680 /* void *stackblock: __libc_alloca_cutoff, fork */
#define TCB_OFF_STACKBLOCK_SIZE 1688
#define TCB_OFF_GUARDSIZE      1696
#define TCB_OFF_REPORTED_GUARDSIZE 1704
#define TCB_OFF_RES            1720 /* struct __res_state res: __resp points here */
#define TCB_OFF_RES_END        2288 /* the end of res: sigmask, c11, exiting, tls_state, rseq_area follow */
#define TCB_OFF_TLS_STATE_STRSIGNAL 2304 /* char *, malloc'ed by strsignal() */
#define TCB_OFF_TLS_STATE_STRERROR  2312 /* char *, malloc'ed by strerror_l() */
#define TCB_OFF_RSEQ_CPU_ID    2340 /* rseq_area.cpu_id: -2 sends sched_getcpu to the vDSO */
#define TCB_SIZE               2368 /* sizeof (struct pthread) == TLS_TCB_SIZE */

/* pthread_attr_t: struct pthread_attr { struct sched_param schedparam; int
   schedpolicy; int flags; ... }. The getters report the policy and the
   priority whether or not a setter stored them; the flags say which did,
   and pthread_create uses only those (the creator's stand in for the
   others). */
#define GLIBC_ATTR_OFF_FLAGS        8
#define GLIBC_ATTR_FLAG_SCHED_SET   0x20 /* pthread_attr_setschedparam was called */
#define GLIBC_ATTR_FLAG_POLICY_SET  0x40 /* pthread_attr_setschedpolicy was called */

/* A DTV slot of a module whose block this thread has not allocated. */
#define GLIBC_TLS_DTV_UNALLOCATED ((void *)-1L)

/* malloc's per-thread cache (malloc/malloc.c, glibc 2.26 and later): the
   TLS variable `tcache` (static TLS in libc's block, not exported: gpm
   finds its offset at start-up, src/core/tcache.c) points to a
   tcache_perthread_struct { uint16_t counts[64]; tcache_entry *entries[64]; }.
   An entry is the user pointer of a cached chunk: { next, key }, next
   mangled by safe-linking (2.32): stored = (&next >> 12) ^ pointer. */
#define GLIBC_TCACHE_BINS        64
#define GLIBC_TCACHE_OFF_ENTRIES 128
#define GLIBC_TCACHE_REVEAL(pos, v) ((void *)(((uintptr_t)(pos) >> 12) ^ (uintptr_t)(v)))

/* malloc's arenas (malloc/arena.c): every arena but the main one lives in
   heaps of at most GLIBC_HEAP_MAX_SIZE bytes (2 * DEFAULT_MMAP_THRESHOLD_MAX
   on 64-bit, when the glibc.malloc.hugetlb tunable is off), each aligned to
   that size and starting with a heap_info whose first word is its arena.
   A chunk's size word (the word before the user pointer) has the
   NON_MAIN_ARENA bit when the chunk is in such a heap. */
#define GLIBC_HEAP_MAX_SIZE      (64UL << 20)
#define GLIBC_CHUNK_NON_MAIN_ARENA 4UL

/* rseq_area.cpu_id value meaning "registration failed". */
#define GLIBC_RSEQ_CPU_ID_REGISTRATION_FAILED ((uint32_t)-2)
/* __rseq_offset: thread pointer to rseq_area. */
#define GLIBC_RSEQ_OFFSET      2336

/* The real tids the kernel hands out stay at or below pid_max, which is at
   most PID_MAX_LIMIT (2^22 on 64-bit). gpm's fake tids for Gs live in
   [GPM_FAKE_TID_BASE, GPM_FAKE_TID_LIMIT): twice PID_MAX_LIMIT and up, so
   that no real task id is ever one; below FUTEX_TID_MASK (0x3fffffff), so
   that glibc's futex-based locks accept them; and below 2^28, so that a
   thread CPU clock id made from one (GPM_THREAD_CPUCLOCK, as glibc's
   pthread_getcpuclockid makes it) gives the same tid back: clockid_t has 32
   bits, and the encoding keeps 29 of the tid, sign included. */
#define GPM_PID_MAX_LIMIT      0x400000
#define GPM_FAKE_TID_BASE      (2 * GPM_PID_MAX_LIMIT)
#define GPM_FAKE_TID_LIMIT     0x10000000

/* The kernel's (and glibc's) clock id of a thread's CPU clock: the tid,
   complemented and shifted left by 3, with CPUCLOCK_PERTHREAD (4) and
   CPUCLOCK_SCHED (2) in the low bits; GPM_CPUCLOCK_TID decodes it
   (arithmetic shift). Other low bits: CPUCLOCK_PROF (0), CPUCLOCK_VIRT (1),
   3 for a dynamic (file descriptor) clock; without bit 2, a process's. */
#define GPM_CPUCLOCK_PERTHREAD 4
#define GPM_CPUCLOCK_WHICH(clk) ((clk) & 3)
#define GPM_CPUCLOCK_PROF      0
#define GPM_CPUCLOCK_VIRT      1
#define GPM_CPUCLOCK_SCHED     2
#define GPM_THREAD_CPUCLOCK(tid) ((clockid_t)(((unsigned)~(unsigned)(tid) << 3) | GPM_CPUCLOCK_PERTHREAD | GPM_CPUCLOCK_SCHED))
#define GPM_CPUCLOCK_TID(clk)  ((pid_t)~((clk) >> 3))

/* jmp_buf: index of the saved stack pointer, and glibc's PTR_MANGLE on
   x86_64: xor with %fs:0x30, then rotate left by 17 bits. */
#define GLIBC_JB_RSP           6
#define GLIBC_PTR_MANGLE_ROTATE 17

static inline uintptr_t glibc_ptr_demangle(uintptr_t v, uintptr_t pointer_guard)
{
    v = (v >> GLIBC_PTR_MANGLE_ROTATE) | (v << (64 - GLIBC_PTR_MANGLE_ROTATE));
    return v ^ pointer_guard;
}

/* pthread_unwind_buf as nptl/descr.h defines it; pthread.h's public
   __pthread_unwind_buf_t has the same size and reserves __pad[4] for priv. */
struct glibc_unwind_buf {
    struct {
        long jmp_buf[8];
        int mask_was_saved;
    } cancel_jmp_buf[1];
    union {
        void *pad[4];
        struct {
            struct glibc_unwind_buf *prev;
            void *cleanup; /* struct _pthread_cleanup_buffer * */
            int canceltype;
        } data;
    } priv;
};

/* The old-style cleanup buffer (_pthread_cleanup_push). */
struct glibc_cleanup_buffer {
    void (*routine)(void *);
    void *arg;
    int canceltype;
    struct glibc_cleanup_buffer *prev;
};

/* Raw field access on a TCB. */
#define TCB_FIELD(tcb, off, type) (*(type *)((char *)(tcb) + (off)))

/* Entry points gpm needs that glibc exports only as GLIBC_PRIVATE. Looked
   up with dlvsym at start-up; a missing one disables per-G TLS. */
#define GLIBC_PRIVATE_VERSION "GLIBC_PRIVATE"

#endif
