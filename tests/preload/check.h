/*
 * tests/preload/check.h: helpers for behaviour tests. A test prints what it
 * checks, exits 0 on success, 1 on the first failure, 77 to skip.
 */
#ifndef GPM_TEST_CHECK_H
#define GPM_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                      \
            fprintf(stderr, "\n");                                             \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

/* Evaluates a and b once each (they are often calls). */
#define CHECK_EQ(a, b)                                                                        \
    do {                                                                                      \
        long long a_ = (long long)(a), b_ = (long long)(b);                                   \
        if (a_ != b_) {                                                                       \
            fprintf(stderr, "FAIL %s:%d: %s == %s: %lld != %lld\n", __FILE__, __LINE__, #a, #b, \
                    a_, b_);                                                                  \
            exit(1);                                                                          \
        }                                                                                     \
    } while (0)

/* "native", "gpm" or "disabled" (see tests/preload/meson.build). */
static inline const char *test_mode(void)
{
    const char *m = getenv("GPM_TEST_MODE");
    return m ? m : "native";
}

static inline int under_gpm(void)
{
    return strcmp(test_mode(), "gpm") == 0;
}

/* The kernel's vm.max_map_count (65,530 by default): a native thread
   costs two mappings, stack and guard, so about half is the most native
   threads a process can have. */
static inline long max_map_count(void)
{
    long maxmaps = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld", &maxmaps) != 1)
            maxmaps = 65530;
        fclose(f);
    }
    return maxmaps;
}

#endif
