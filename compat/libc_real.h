/*
 * compat/libc_real.h: the host libc's own implementations of what gpm
 * interposes, and the GLIBC_PRIVATE entry points gpm builds G TCBs with.
 *
 * Found once at start-up (gpm_real_resolve) with dlsym(RTLD_NEXT) for the
 * default version of a public symbol, or dlvsym for a named version. The
 * shim calls these in pass-through mode (GPM_DISABLE=1, or an unknown glibc)
 * and before gpm is initialised; the core calls the real pthread_create to
 * make Ms.
 */
#ifndef GPM_COMPAT_LIBC_REAL_H
#define GPM_COMPAT_LIBC_REAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <semaphore.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

/*
 * GPM_REAL(return type, name, version or NULL for the default, parameters)
 * One line per interposed symbol whose native version gpm may call.
 */
#define GPM_REAL_INTERPOSED(X)                                                                 \
    X(int, pthread_create, NULL, (pthread_t *, const pthread_attr_t *, void *(*)(void *), void *)) \
    X(int, pthread_join, NULL, (pthread_t, void **))                                           \
    X(int, pthread_tryjoin_np, NULL, (pthread_t, void **))                                     \
    X(int, pthread_detach, NULL, (pthread_t))                                                  \
    X(void, pthread_exit, NULL, (void *))                                                      \
    X(int, pthread_yield, "GLIBC_2.2.5", (void))                                               \
    X(int, sched_yield, NULL, (void))                                                          \
    X(int, pthread_getattr_np, NULL, (pthread_t, pthread_attr_t *))                           \
    X(int, pthread_setname_np, NULL, (pthread_t, const char *))                               \
    X(int, pthread_getname_np, NULL, (pthread_t, char *, size_t))                             \
    X(int, pthread_getconcurrency, NULL, (void))                                               \
    X(int, pthread_setconcurrency, NULL, (int))                                                \
    X(int, pthread_key_create, NULL, (pthread_key_t *, void (*)(void *)))                     \
    X(int, pthread_key_delete, NULL, (pthread_key_t))                                          \
    X(void *, pthread_getspecific, NULL, (pthread_key_t))                                      \
    X(int, pthread_setspecific, NULL, (pthread_key_t, const void *))                          \
    X(int, thrd_create, NULL, (thrd_t *, thrd_start_t, void *))                                \
    X(int, thrd_join, NULL, (thrd_t, int *))                                                   \
    X(int, thrd_detach, NULL, (thrd_t))                                                        \
    X(void, thrd_exit, NULL, (int))                                                            \
    X(void, thrd_yield, NULL, (void))                                                          \
    X(int, tss_create, NULL, (tss_t *, tss_dtor_t))                                            \
    X(void, tss_delete, NULL, (tss_t))                                                         \
    X(void *, tss_get, NULL, (tss_t))                                                          \
    X(int, tss_set, NULL, (tss_t, void *))                                                     \
    X(void *, dlopen, NULL, (const char *, int))                                               \
    X(void *, dlmopen, NULL, (long, const char *, int))                                        \
    X(void, __pthread_unwind_next, NULL, (void *))                                             \
    X(int, pthread_timedjoin_np, NULL, (pthread_t, void **, const struct timespec *))          \
    X(int, pthread_clockjoin_np, NULL, (pthread_t, void **, clockid_t, const struct timespec *)) \
    X(int, pthread_mutex_init, NULL, (pthread_mutex_t *, const pthread_mutexattr_t *))         \
    X(int, pthread_mutex_destroy, NULL, (pthread_mutex_t *))                                    \
    X(int, pthread_mutex_lock, NULL, (pthread_mutex_t *))                                       \
    X(int, pthread_mutex_trylock, NULL, (pthread_mutex_t *))                                    \
    X(int, pthread_mutex_timedlock, NULL, (pthread_mutex_t *, const struct timespec *))        \
    X(int, pthread_mutex_clocklock, NULL, (pthread_mutex_t *, clockid_t, const struct timespec *)) \
    X(int, pthread_mutex_unlock, NULL, (pthread_mutex_t *))                                     \
    X(int, pthread_mutex_consistent, NULL, (pthread_mutex_t *))                                 \
    X(int, pthread_mutex_getprioceiling, NULL, (const pthread_mutex_t *, int *))               \
    X(int, pthread_mutex_setprioceiling, NULL, (pthread_mutex_t *, int, int *))                \
    X(int, pthread_cond_init, NULL, (pthread_cond_t *, const pthread_condattr_t *))            \
    X(int, pthread_cond_destroy, NULL, (pthread_cond_t *))                                      \
    X(int, pthread_cond_wait, NULL, (pthread_cond_t *, pthread_mutex_t *))                      \
    X(int, pthread_cond_timedwait, NULL, (pthread_cond_t *, pthread_mutex_t *, const struct timespec *)) \
    X(int, pthread_cond_clockwait, NULL, (pthread_cond_t *, pthread_mutex_t *, clockid_t, const struct timespec *)) \
    X(int, pthread_cond_signal, NULL, (pthread_cond_t *))                                       \
    X(int, pthread_cond_broadcast, NULL, (pthread_cond_t *))                                    \
    X(int, pthread_rwlock_init, NULL, (pthread_rwlock_t *, const pthread_rwlockattr_t *))      \
    X(int, pthread_rwlock_destroy, NULL, (pthread_rwlock_t *))                                  \
    X(int, pthread_rwlock_rdlock, NULL, (pthread_rwlock_t *))                                   \
    X(int, pthread_rwlock_tryrdlock, NULL, (pthread_rwlock_t *))                                \
    X(int, pthread_rwlock_timedrdlock, NULL, (pthread_rwlock_t *, const struct timespec *))    \
    X(int, pthread_rwlock_clockrdlock, NULL, (pthread_rwlock_t *, clockid_t, const struct timespec *)) \
    X(int, pthread_rwlock_wrlock, NULL, (pthread_rwlock_t *))                                   \
    X(int, pthread_rwlock_trywrlock, NULL, (pthread_rwlock_t *))                                \
    X(int, pthread_rwlock_timedwrlock, NULL, (pthread_rwlock_t *, const struct timespec *))    \
    X(int, pthread_rwlock_clockwrlock, NULL, (pthread_rwlock_t *, clockid_t, const struct timespec *)) \
    X(int, pthread_rwlock_unlock, NULL, (pthread_rwlock_t *))                                   \
    X(int, pthread_barrier_init, NULL, (pthread_barrier_t *, const pthread_barrierattr_t *, unsigned)) \
    X(int, pthread_barrier_destroy, NULL, (pthread_barrier_t *))                                \
    X(int, pthread_barrier_wait, NULL, (pthread_barrier_t *))                                   \
    X(int, pthread_spin_init, NULL, (pthread_spinlock_t *, int))                                \
    X(int, pthread_spin_destroy, NULL, (pthread_spinlock_t *))                                  \
    X(int, pthread_spin_lock, NULL, (pthread_spinlock_t *))                                     \
    X(int, pthread_spin_trylock, NULL, (pthread_spinlock_t *))                                  \
    X(int, pthread_spin_unlock, NULL, (pthread_spinlock_t *))                                   \
    X(int, pthread_once, NULL, (pthread_once_t *, void (*)(void)))                              \
    X(int, sem_init, NULL, (sem_t *, int, unsigned))                                            \
    X(int, sem_destroy, NULL, (sem_t *))                                                        \
    X(int, sem_wait, NULL, (sem_t *))                                                           \
    X(int, sem_trywait, NULL, (sem_t *))                                                        \
    X(int, sem_timedwait, NULL, (sem_t *, const struct timespec *))                             \
    X(int, sem_clockwait, NULL, (sem_t *, clockid_t, const struct timespec *))                  \
    X(int, sem_post, NULL, (sem_t *))                                                           \
    X(int, sem_getvalue, NULL, (sem_t *, int *))                                                \
    X(int, nanosleep, NULL, (const struct timespec *, struct timespec *))                       \
    X(int, clock_nanosleep, NULL, (clockid_t, int, const struct timespec *, struct timespec *)) \
    X(int, usleep, NULL, (useconds_t))                                                          \
    X(unsigned, sleep, NULL, (unsigned))                                                        \
    X(int, thrd_sleep, NULL, (const struct timespec *, struct timespec *))                      \
    X(int, mtx_init, NULL, (mtx_t *, int))                                                      \
    X(int, mtx_lock, NULL, (mtx_t *))                                                           \
    X(int, mtx_trylock, NULL, (mtx_t *))                                                        \
    X(int, mtx_timedlock, NULL, (mtx_t *__restrict, const struct timespec *__restrict))        \
    X(int, mtx_unlock, NULL, (mtx_t *))                                                         \
    X(void, mtx_destroy, NULL, (mtx_t *))                                                       \
    X(int, cnd_init, NULL, (cnd_t *))                                                           \
    X(int, cnd_signal, NULL, (cnd_t *))                                                         \
    X(int, cnd_broadcast, NULL, (cnd_t *))                                                      \
    X(int, cnd_wait, NULL, (cnd_t *, mtx_t *))                                                  \
    X(int, cnd_timedwait, NULL, (cnd_t *__restrict, mtx_t *__restrict, const struct timespec *__restrict)) \
    X(void, cnd_destroy, NULL, (cnd_t *))                                                       \
    X(void, call_once, NULL, (once_flag *, void (*)(void)))

/* GLIBC_PRIVATE functions, all required for per-G TLS. */
#define GPM_REAL_PRIVATE(X)                                                                    \
    X(void *, _dl_allocate_tls, "GLIBC_PRIVATE", (void *))                                     \
    X(void, _dl_deallocate_tls, "GLIBC_PRIVATE", (void *, bool))                               \
    X(void, _dl_get_tls_static_info, "GLIBC_PRIVATE", (size_t *, size_t *))                    \
    X(void, __ctype_init, "GLIBC_PRIVATE", (void))                                             \
    X(void, __call_tls_dtors, "GLIBC_PRIVATE", (void))

#define GPM_REAL_FIELD(ret, name, version, params) ret(*name) params;
struct gpm_real_libc {
    GPM_REAL_INTERPOSED(GPM_REAL_FIELD)
    GPM_REAL_PRIVATE(GPM_REAL_FIELD)
};
#undef GPM_REAL_FIELD

extern struct gpm_real_libc gpm_real;

/* Resolves every entry. Returns NULL on success, else the name of the first
   entry that is missing (a required one makes per-G TLS impossible). Does
   not allocate on success (dlsym/dlvsym only set dlerror state on failure). */
const char *gpm_real_resolve(void);

#endif
