/*
 * src/core/tsd.h: thread-specific data (pthread_key_*, tss_*).
 */
#ifndef GPM_CORE_TSD_H
#define GPM_CORE_TSD_H

#include <pthread.h>

#include "runtime.h"

/* 0, or EAGAIN when all PTHREAD_KEYS_MAX keys are in use. */
int gpm_key_create(pthread_key_t *key, void (*destr)(void *));
/* 0, or EINVAL for a key not in use. */
int gpm_key_delete(pthread_key_t key);
/* The calling G's value, NULL if none or the key is invalid. */
void *gpm_getspecific(struct gpm_g *gp, pthread_key_t key);
/* 0, EINVAL (key not in use), ENOMEM. */
int gpm_setspecific(struct gpm_g *gp, pthread_key_t key, const void *value) __attribute__((access(none, 3)));
/* Runs the destructors of gp's non-NULL values, in key order, up to
   PTHREAD_DESTRUCTOR_ITERATIONS rounds, then clears and frees everything.
   Runs on gp itself. */
void gpm_tsd_runall(struct gpm_g *gp);

#endif
