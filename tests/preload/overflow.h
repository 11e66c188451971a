/* The recursion that overflows a stack, for the tests of stack overflows
   (stack_overflow, stack_canary, sigsegv_handler). */
#ifndef GPM_TEST_OVERFLOW_H
#define GPM_TEST_OVERFLOW_H

#include <alloca.h>
#include <stddef.h>
#include <stdint.h>

/* Never reached: it only tells the compiler the recursion may end. */
static volatile uintptr_t overflow_limit = UINTPTR_MAX;

/* Recurses until the stack runs out. Each level keeps `frame` bytes of its
   own, every byte written, so that the compiler can neither drop nor
   flatten the recursion; `between` (if not NULL) runs after each level's
   writes, with the level's depth. */
static __attribute__((noinline)) uintptr_t overflow_recurse(uintptr_t depth, size_t frame,
                                                            void (*between)(uintptr_t depth))
{
    if (depth == overflow_limit)
        return 0;
    volatile char *p = alloca(frame);
    for (size_t i = 0; i < frame; i++)
        p[i] = (char)depth;
    if (between != NULL)
        between(depth);
    return overflow_recurse(depth + 1, frame, between) + p[0];
}

#endif
