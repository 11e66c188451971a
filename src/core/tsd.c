/*
 * src/core/tsd.c: thread-specific data, with glibc's semantics.
 *
 * A key is a slot in a process-wide table of PTHREAD_KEYS_MAX entries, each
 * with a sequence number: odd while the key is in use, even while it is
 * free; create and delete each add one. A G's value remembers the sequence
 * number its key had when it was set, so a value set under a key that has
 * since been deleted (and perhaps re-created) reads as NULL and its
 * destructor is not run, exactly as in glibc. The first 32 keys' values are
 * inline in the G; the others live in 31 blocks of 32 allocated on first
 * use.
 *
 * The key table: seq is atomic; create and delete change it by CAS. The
 * creator stores destr after winning the slot and before returning the key
 * number, so every user of the key (who got the number from the creator)
 * sees it; the release store pairs with the acquire load at exit.
 */
#define _GNU_SOURCE
#include "tsd.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

struct keyslot {
    _Atomic uintptr_t seq;
    void (*_Atomic destr)(void *);
};

_Static_assert(PTHREAD_KEYS_MAX == GPM_TSD_1STBLOCK * GPM_TSD_2NDLEVEL, "key table shape");

static struct keyslot keys[PTHREAD_KEYS_MAX];

#define KEY_UNUSED(seq) (((seq) & 1) == 0)
/* A key whose sequence would wrap is retired rather than reused. */
#define KEY_USABLE(seq) ((uintptr_t)(seq) < (uintptr_t)((seq) + 2))

int gpm_key_create(pthread_key_t *key, void (*destr)(void *))
{
    for (size_t i = 0; i < PTHREAD_KEYS_MAX; i++) {
        uintptr_t seq = atomic_load_explicit(&keys[i].seq, memory_order_relaxed);
        if (KEY_UNUSED(seq) && KEY_USABLE(seq)) {
            /* A concurrent create racing for the same slot loses the CAS
               and moves on to the next one. */
            if (atomic_compare_exchange_strong(&keys[i].seq, &seq, seq + 1)) {
                atomic_store_explicit(&keys[i].destr, destr, memory_order_release);
                *key = (pthread_key_t)i;
                return 0;
            }
        }
    }
    return EAGAIN;
}

int gpm_key_delete(pthread_key_t key)
{
    if (key >= PTHREAD_KEYS_MAX)
        return EINVAL;
    uintptr_t seq = atomic_load(&keys[key].seq);
    if (KEY_UNUSED(seq) || !atomic_compare_exchange_strong(&keys[key].seq, &seq, seq + 1))
        return EINVAL;
    return 0;
}

static struct gpm_tsdslot *slotof(struct gpm_g *gp, pthread_key_t key, bool alloc)
{
    if (key < GPM_TSD_1STBLOCK)
        return &gp->tsd1[key];
    size_t idx1 = key / GPM_TSD_1STBLOCK, idx2 = key % GPM_TSD_1STBLOCK;
    struct gpm_tsdslot *level2 = gp->tsd2[idx1];
    if (level2 == NULL) {
        if (!alloc)
            return NULL;
        level2 = calloc(GPM_TSD_1STBLOCK, sizeof *level2);
        if (level2 == NULL)
            return NULL;
        gp->tsd2[idx1] = level2;
    }
    return &level2[idx2];
}

void *gpm_getspecific(struct gpm_g *gp, pthread_key_t key)
{
    if (key >= PTHREAD_KEYS_MAX)
        return NULL;
    struct gpm_tsdslot *slot = slotof(gp, key, false);
    if (slot == NULL)
        return NULL;
    void *data = slot->data;
    if (data != NULL && slot->seq != atomic_load_explicit(&keys[key].seq, memory_order_relaxed)) {
        /* Set under a key that has been deleted since. */
        data = slot->data = NULL;
    }
    return data;
}

int gpm_setspecific(struct gpm_g *gp, pthread_key_t key, const void *value)
{
    if (key >= PTHREAD_KEYS_MAX)
        return EINVAL;
    uintptr_t seq = atomic_load_explicit(&keys[key].seq, memory_order_relaxed);
    if (KEY_UNUSED(seq))
        return EINVAL;
    struct gpm_tsdslot *slot = slotof(gp, key, value != NULL);
    if (slot == NULL)
        return value == NULL ? 0 : ENOMEM;
    slot->seq = seq;
    slot->data = (void *)value;
    if (value != NULL)
        gp->tsd_used = true;
    return 0;
}

/*
 * Runs the destructors of gp's values and leaves its TSD clean. A clean G
 * (every tsd1 value NULL, no tsd2 block) is what gpm_gstackalloc hands
 * out, fresh from mmap or from the pool, and tsd_used is false exactly
 * when the G is clean or has only had values reset to NULL since: values
 * become non-NULL, and tsd2 blocks are allocated, only in setspecific,
 * which then sets tsd_used. So a G that never set a value costs nothing
 * here nor at its next life.
 */
void gpm_tsd_runall(struct gpm_g *gp)
{
    if (!gp->tsd_used)
        return; /* clean already */
    for (int round = 0; round < PTHREAD_DESTRUCTOR_ITERATIONS && gp->tsd_used; round++) {
        gp->tsd_used = false; /* set again if a destructor sets a value */
        for (pthread_key_t key = 0; key < PTHREAD_KEYS_MAX; key++) {
            if (key >= GPM_TSD_1STBLOCK && key % GPM_TSD_1STBLOCK == 0 &&
                gp->tsd2[key / GPM_TSD_1STBLOCK] == NULL) {
                key += GPM_TSD_1STBLOCK - 1; /* a whole block never used */
                continue;
            }
            struct gpm_tsdslot *slot = slotof(gp, key, false);
            void *data = slot->data;
            if (data == NULL)
                continue;
            slot->data = NULL;
            uintptr_t seq = atomic_load_explicit(&keys[key].seq, memory_order_acquire);
            void (*destr)(void *) = atomic_load_explicit(&keys[key].destr, memory_order_acquire);
            if (slot->seq == seq && destr != NULL)
                destr(data);
        }
    }
    /* Whatever is left after the last round is dropped, as glibc does. */
    for (size_t i = 0; i < GPM_TSD_1STBLOCK; i++)
        gp->tsd1[i].data = NULL;
    for (size_t i = 0; i < GPM_TSD_2NDLEVEL; i++) {
        free(gp->tsd2[i]);
        gp->tsd2[i] = NULL;
    }
    gp->tsd_used = false;
}
