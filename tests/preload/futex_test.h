/*
 * tests/preload/futex_test.h: what the raw-futex tests share: the call
 * itself, the count that FUTEX_(CMP_)REQUEUE and WAKE_OP take in the
 * timeout slot, and a check that a call failed with a given errno.
 */
#ifndef GPM_TEST_FUTEX_TEST_H
#define GPM_TEST_FUTEX_TEST_H

#include <errno.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"

static inline long fx(void *uaddr, int op, uint32_t val, const void *timeout, void *uaddr2, uint32_t val3)
{
    return syscall(SYS_futex, uaddr, op, val, timeout, uaddr2, val3);
}

#define VAL2(n) ((const void *)(uintptr_t)(n))

#define CHECK_ERR(call, err)                                                                    \
    do {                                                                                        \
        long r_ = (call);                                                                       \
        int e_ = errno;                                                                         \
        CHECK(r_ == -1 && e_ == (err), "%s returned %ld errno %d, expected errno %d", #call, r_, \
              r_ == -1 ? e_ : 0, (err));                                                        \
    } while (0)

#endif
