/*
 * The robust futex list (set_robust_list(2)) is a thread's own:
 *  - a thread that registers its own list reads it back with
 *    get_robust_list(0), and a thread started after it finished (under gpm
 *    perhaps on the same kernel thread) reads its own glibc-registered list,
 *    never the first thread's;
 *  - when the thread exits holding a futex on its list, the word gets
 *    FUTEX_OWNER_DIED and a waiter in FUTEX_WAIT on it is woken, as the
 *    kernel does at a thread's exit;
 *  - a length other than the list head's size is EINVAL.
 * Many rounds, so that later threads run where earlier ones ran.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
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
    return 0;
}
