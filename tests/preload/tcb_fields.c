/*
 * The TCB of a thread, field by field, as glibc's own code reads it
 * (docs/TLS.md cites this test for each field gpm fills). glibc 2.36
 * x86_64 offsets; other versions skip. Checks that hold for glibc's threads
 * hold natively too; the few that differ by design are checked per mode.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <pthread.h>
#include <resolv.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"

#define OFF_LIST 704
#define OFF_TID 720
#define OFF_ROBUST_LIST 736
#define OFF_SPECIFIC_1STBLOCK 784
#define OFF_SPECIFIC 1296
#define OFF_USER_STACK 1554
#define OFF_STACKBLOCK 1680
#define OFF_STACKBLOCK_SIZE 1688
#define OFF_RES 1720
#define OFF_RSEQ_CPU_ID 2340
#define TCB_SIZE 2368

#define F(tcb, off, type) (*(type *)((char *)(tcb) + (off)))

static uintptr_t fsword(int off)
{
    uintptr_t v;
    __asm__ volatile("mov %%fs:(%1), %0" : "=r"(v) : "r"((uintptr_t)off));
    return v;
}

static uintptr_t main_canary, main_guard;
static char *main_tcb;
static int main_errno_off;
static atomic_int tids[16];

static void *check_thread(void *arg)
{
    int id = (int)(intptr_t)arg;
    char *tcb = (char *)fsword(0);
    /* tcbhead: tcb and self are the thread pointer, and pthread_self. */
    CHECK(fsword(0x10) == (uintptr_t)tcb && (pthread_t)tcb == pthread_self(), "tcb/self/pthread_self differ");
    /* x86 atomics in malloc take the lock prefix only when this is set. */
    CHECK(fsword(0x18) == 1, "multiple_threads is %lu", (unsigned long)fsword(0x18));
    /* Canary and pointer guard: process-wide, copied from the creator. */
    CHECK(fsword(0x28) == main_canary && fsword(0x30) == main_guard, "stack guard or pointer guard differ");
    /* tid: every lock of glibc's that records an owner records this. */
    int tid = F(tcb, OFF_TID, int);
    if (under_gpm())
        CHECK(tid >= 0x800000 && tid < 0x10000000, "a G's tid %#x is not in gpm's range", tid);
    else
        CHECK(tid == gettid(), "tid %d is not gettid() %d", tid, gettid());
    atomic_store(&tids[id], tid);
    /* list: self-linked under gpm (fork unlinks it); glibc links its own. */
    void **list = &F(tcb, OFF_LIST, void *);
    if (under_gpm())
        CHECK(list[0] == (void *)list && list[1] == (void *)list, "list not self-linked");
    else
        CHECK(list[0] != NULL && list[1] != NULL, "list not linked");
    /* Empty robust list; specific[0] at the inline block. */
    CHECK(F(tcb, OFF_ROBUST_LIST, char *) == tcb + OFF_ROBUST_LIST, "robust list head not self-linked");
    CHECK(F(tcb, OFF_SPECIFIC, char *) == tcb + OFF_SPECIFIC_1STBLOCK, "specific[0] not at specific_1stblock");
    /* user_stack: glibc must never cache or free a G's block. */
    if (under_gpm())
        CHECK(F(tcb, OFF_USER_STACK, unsigned char) == 1, "user_stack not set");
    /* stackblock: what __libc_alloca_cutoff and pthread_getattr_np use. */
    char local;
    char *sb = F(tcb, OFF_STACKBLOCK, char *);
    size_t sbsize = F(tcb, OFF_STACKBLOCK_SIZE, size_t);
    CHECK(&local > sb && &local < sb + sbsize, "the stack is not inside stackblock");
    /* rseq: -2 under gpm so that sched_getcpu asks the vDSO; either way it
       must give a CPU this process may run on. */
    if (under_gpm())
        CHECK(F(tcb, OFF_RSEQ_CPU_ID, int32_t) == -2, "rseq cpu_id %d", F(tcb, OFF_RSEQ_CPU_ID, int32_t));
    int cpu = sched_getcpu();
    CHECK(cpu >= 0 && cpu < CPU_SETSIZE, "sched_getcpu %d", cpu);
    /* The resolver state is the thread's own, inside its TCB. */
    CHECK((char *)&_res == tcb + OFF_RES, "_res at %p, TCB res at %p", (void *)&_res, (void *)(tcb + OFF_RES));
    /* errno lives in the thread's static TLS, at the same offset below the
       thread pointer as in every thread. */
    CHECK((int)(tcb - (char *)&errno) == main_errno_off, "errno offset %d vs %d", (int)(tcb - (char *)&errno),
          main_errno_off);
    CHECK(tcb != main_tcb, "shares the main thread's TCB");
    /* ctype's TLS pointers are set up (__ctype_init). */
    CHECK(isalpha('a') && !isalpha('1') && toupper('q') == 'Q', "ctype tables");
    return NULL;
}

int main(void)
{
    if (strcmp(gnu_get_libc_version(), "2.36") != 0) {
        printf("glibc %s: offsets known for 2.36 only\n", gnu_get_libc_version());
        return 77;
    }
    main_canary = fsword(0x28);
    main_guard = fsword(0x30);
    main_tcb = (char *)fsword(0);
    main_errno_off = (int)(main_tcb - (char *)&errno);
    /* The main thread keeps glibc's TCB: its tid is the process id. */
    CHECK(F(main_tcb, OFF_TID, int) == getpid(), "main tid %d", F(main_tcb, OFF_TID, int));
    pthread_t t[16];
    for (int i = 0; i < 16; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, check_thread, (void *)(intptr_t)i), 0);
    for (int i = 0; i < 16; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    /* Live threads had distinct tids (recycled only after a join). */
    for (int i = 0; i < 16; i++)
        CHECK(tids[i] != 0, "thread %d recorded no tid", i);
    printf("16 threads: TCB fields as glibc's code expects (%s)\n", test_mode());
    return 0;
}
