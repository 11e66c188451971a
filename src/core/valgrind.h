/*
 * src/core/valgrind.h: tell valgrind about G stacks, so that memcheck
 * follows context switches instead of reporting every switch as a wild
 * stack change, and ask whether valgrind runs the program (tools.c). No-ops
 * when built without valgrind's headers.
 */
#ifndef GPM_CORE_VALGRIND_H
#define GPM_CORE_VALGRIND_H

#include <stdbool.h>

#ifdef GPM_HAVE_VALGRIND
#include <valgrind/valgrind.h>
static inline unsigned gpm_valgrind_stack_register(void *lo, void *hi)
{
    return VALGRIND_STACK_REGISTER(lo, hi);
}
static inline void gpm_valgrind_stack_deregister(unsigned id)
{
    VALGRIND_STACK_DEREGISTER(id);
}
static inline bool gpm_running_on_valgrind(void)
{
    return RUNNING_ON_VALGRIND != 0;
}
#else
static inline unsigned gpm_valgrind_stack_register(void *lo, void *hi)
{
    (void)lo;
    (void)hi;
    return 0;
}
static inline void gpm_valgrind_stack_deregister(unsigned id)
{
    (void)id;
}
static inline bool gpm_running_on_valgrind(void)
{
    return false;
}
#endif

#endif
