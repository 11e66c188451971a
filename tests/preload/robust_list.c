/*
 * The robust futex list (set_robust_list(2)) is a thread's own:
 *  - a thread that registers its own list reads it back with
 *    get_robust_list(0), and a thread started after it finished (under gpm
 *    perhaps on the same kernel thread) reads its own glibc-registered list,
 *    never the first thread's;
 *  - when the thread exits holding a futex on its list, the word gets
 *    FUTEX_OWNER_DIED and a waiter in FUTEX_WAIT on it is woken, as the
 *    kernel does at a thread's exit;
 *  - a length other than the list head's size is EINVAL;
 *  - a list that is garbage by the time the thread exits ends the walk
 *    quietly, as the kernel's faulting read does: a head whose entry
 *    points into an unmapped page, a head in a page the thread unmapped,
 *    and stress-ng's pthread stressor's way, a copy of glibc's head on the
 *    stack of the function that returns (then overwritten by the exit).
 * Many rounds, so that later threads run where earlier ones ran.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"

enum { ROUNDS = 200 };

/* A lock word on a robust list: the kernel finds it at entry + offset. */
struct rlock {
    struct robust_list link;
    _Atomic uint32_t word;
};

static struct robust_list_head heads[ROUNDS];
static struct rlock locks[ROUNDS];

static void *owner(void *arg)
{
    long i = (long)arg;
    struct robust_list_head *h = &heads[i];
    struct robust_list_head *got;
    size_t len;
    CHECK_EQ(syscall(SYS_get_robust_list, 0, &got, &len), 0);
    CHECK(got != h, "round %ld: a new thread sees a list it never registered", i);
    CHECK_EQ(len, sizeof *h);
    CHECK_EQ(syscall(SYS_set_robust_list, h, sizeof *h + 1), -1);
    CHECK_EQ(errno, EINVAL);
    /* Take the lock and put it on the list, as a robust mutex does. */
    h->futex_offset = (long)offsetof(struct rlock, word) - (long)offsetof(struct rlock, link);
    h->list_op_pending = NULL;
    locks[i].link.next = &h->list;
    h->list.next = &locks[i].link;
    atomic_store(&locks[i].word, (uint32_t)gettid() | FUTEX_WAITERS);
    CHECK_EQ(syscall(SYS_set_robust_list, h, sizeof *h), 0);
    CHECK_EQ(syscall(SYS_get_robust_list, 0, &got, &len), 0);
    CHECK(got == h, "round %ld: get_robust_list does not return the registered list", i);
    return NULL; /* exits holding the lock */
}

static void *waiter(void *arg)
{
    long i = (long)arg;
    uint32_t v;
    while (((v = atomic_load(&locks[i].word)) & FUTEX_OWNER_DIED) == 0)
        syscall(SYS_futex, &locks[i].word, FUTEX_WAIT, v, NULL, NULL, 0);
    return NULL;
}

/* An address in no mapping: a page mapped and then unmapped. */
static void *unmapped_page(void)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED, "mmap");
    CHECK_EQ(munmap(p, 4096), 0);
    return p;
}

static void *bad_entry(void *arg)
{
    (void)arg;
    static _Thread_local struct robust_list_head h;
    h.futex_offset = 8;
    h.list_op_pending = unmapped_page();
    h.list.next = unmapped_page();
    CHECK_EQ(syscall(SYS_set_robust_list, &h, sizeof h), 0);
    return NULL;
}

static void *unmapped_head(void *arg)
{
    (void)arg;
    struct robust_list_head *h =
        mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(h != MAP_FAILED, "mmap");
    h->list.next = &h->list;
    h->futex_offset = 0;
    h->list_op_pending = NULL;
    CHECK_EQ(syscall(SYS_set_robust_list, h, sizeof *h), 0);
    CHECK_EQ(munmap(h, 4096), 0);
    return NULL;
}

/* What stress-ng does: the head dies with this frame. */
static __attribute__((noinline)) void stack_head(void)
{
    struct robust_list_head *glibcs, copy;
    size_t len;
    CHECK_EQ(syscall(SYS_get_robust_list, 0, &glibcs, &len), 0);
    memcpy(&copy, glibcs, sizeof copy);
    CHECK_EQ(syscall(SYS_set_robust_list, &copy, sizeof copy), 0);
}

static void *dead_frame_head(void *arg)
{
    (void)arg;
    stack_head();
    /* Overwrite the dead frame with pointers to nowhere. */
    void *volatile junk[64];
    void *nowhere = unmapped_page();
    for (int i = 0; i < 64; i++)
        junk[i] = nowhere;
    (void)junk[0];
    stack_head();
    return NULL;
}

static void bad_lists(void)
{
    void *(*const kinds[])(void *) = {bad_entry, unmapped_head, dead_frame_head};
    for (int r = 0; r < ROUNDS; r++) {
        pthread_t t[3];
        for (int k = 0; k < 3; k++)
            CHECK_EQ(pthread_create(&t[k], NULL, kinds[k], NULL), 0);
        for (int k = 0; k < 3; k++)
            CHECK_EQ(pthread_join(t[k], NULL), 0);
    }
    printf("robust lists: %d threads each exited with a list that pointed into unmapped memory\n", 3 * ROUNDS);
}

int main(void)
{
    for (long i = 0; i < ROUNDS; i++) {
        pthread_t o, w;
        CHECK_EQ(pthread_create(&o, NULL, owner, (void *)i), 0);
        CHECK_EQ(pthread_create(&w, NULL, waiter, (void *)i), 0);
        CHECK_EQ(pthread_join(o, NULL), 0);
        CHECK_EQ(pthread_join(w, NULL), 0);
        uint32_t v = atomic_load(&locks[i].word);
        CHECK(v & FUTEX_OWNER_DIED, "round %ld: the dead owner's word is %#x", i, v);
        CHECK_EQ(v & FUTEX_TID_MASK, 0u);
    }
    printf("robust lists: %d threads each registered, read back and died holding a lock\n", ROUNDS);
    bad_lists();
    return 0;
}
