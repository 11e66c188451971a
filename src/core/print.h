/*
 * src/core/print.h: output that works anywhere: on g0 with a borrowed %fs,
 * in a signal handler, with a lock held, out of memory.
 *
 * gpm_printf formats into a bounded buffer on the caller's stack and writes
 * it with one raw write(2): no malloc, no stdio lock, no errno, no locale.
 * Conversions: %s %c %d %i %u %x %p %%, with the l and z length modifiers
 * and a field width (e.g. %5d, %-12s, %016lx).
 */
#ifndef GPM_CORE_PRINT_H
#define GPM_CORE_PRINT_H

#include <stdarg.h>
#include <stddef.h>

int gpm_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int gpm_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void gpm_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "gpm: fatal: MSG (thread N on M m)" and aborts. Async-signal-safe.
   Only for a broken invariant of gpm's own, or where glibc aborts too:
   anything a program or its environment can cause (bad arguments, out of
   memory or threads) is an error for the call that met it. Each call site
   says why it cannot be one.
   Never returns. */
void gpm_throw(const char *msg) __attribute__((noreturn, cold));
/* Dies of SIGABRT as abort() does, without libc's locks or the program's
   handler, and without a word: for callers that said what happened.
   Async-signal-safe. Never returns. */
void gpm_abort(void) __attribute__((noreturn, cold));
void gpm_throwf(const char *fmt, ...) __attribute__((noreturn, cold, format(printf, 1, 2)));

#endif
