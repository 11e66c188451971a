/*
 * src/core/tools.h: the checkers that may be running the program
 * (tools.c says what gpm does under each).
 */
#ifndef GPM_CORE_TOOLS_H
#define GPM_CORE_TOOLS_H

#include <stdbool.h>

/* Whether the program runs under valgrind (any tool). */
bool gpm_on_valgrind(void);

/* The name of the checker running the program that models threads itself
   and cannot follow Gs (helgrind, drd, ThreadSanitizer, AddressSanitizer),
   or NULL. */
const char *gpm_thread_checker(void);

#endif
