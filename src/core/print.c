/*
 * src/core/print.c: allocation-free formatting and fatal errors.
 * See print.h for the contract.
 */
#define _GNU_SOURCE
#include "print.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime.h"
#include "sys.h"

static size_t put_unsigned(char *tmp, unsigned long v, unsigned base)
{
    static const char digits[] = "0123456789abcdef";
    size_t n = 0;
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v != 0);
    return n;
}

int gpm_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    size_t out = 0;
#define EMIT(ch)                  \
    do {                          \
        if (out + 1 < size)       \
            buf[out] = (ch);      \
        out++;                    \
    } while (0)

    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            EMIT(*f);
            continue;
        }
        f++;
        bool left = false, zero = false;
        for (;; f++) {
            if (*f == '-')
                left = true;
            else if (*f == '0')
                zero = true;
            else
                break;
        }
        int width = 0;
        while (*f >= '0' && *f <= '9')
            width = width * 10 + (*f++ - '0');
        int longs = 0;
        while (*f == 'l' || *f == 'z') {
            longs++;
            f++;
        }
        char tmp[24];
        const char *s = tmp;
        size_t n = 0;
        bool neg = false;
        switch (*f) {
        case 'd':
        case 'i': {
            long v = longs ? va_arg(ap, long) : va_arg(ap, int);
            unsigned long u = (unsigned long)v;
            if (v < 0) {
                neg = true;
                u = -u;
            }
            n = put_unsigned(tmp, u, 10);
            break;
        }
        case 'u':
            n = put_unsigned(tmp, longs ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 10);
            break;
        case 'x':
            n = put_unsigned(tmp, longs ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 16);
            break;
        case 'p':
            n = put_unsigned(tmp, (uintptr_t)va_arg(ap, void *), 16);
            tmp[n++] = 'x';
            tmp[n++] = '0';
            break;
        case 'c':
            tmp[0] = (char)va_arg(ap, int);
            n = 1;
            break;
        case 's':
            s = va_arg(ap, const char *);
            if (s == NULL)
                s = "(null)";
            for (n = 0; s[n]; n++)
                ;
            break;
        case '%':
            tmp[0] = '%';
            n = 1;
            break;
        default:
            tmp[0] = '?';
            n = 1;
            break;
        }
        bool reversed = (s == tmp) && *f != 'c' && *f != '%';
        int len = (int)n + (neg ? 1 : 0);
        int pad = width > len ? width - len : 0;
        if (!left && !zero)
            while (pad-- > 0)
                EMIT(' ');
        if (neg)
            EMIT('-');
        if (!left && zero)
            while (pad-- > 0)
                EMIT('0');
        for (size_t i = 0; i < n; i++)
            EMIT(reversed ? tmp[n - 1 - i] : s[i]);
        if (left)
            while (pad-- > 0)
                EMIT(' ');
        if (*f == '\0')
            break;
    }
    if (size > 0)
        buf[out < size ? out : size - 1] = '\0';
#undef EMIT
    return (int)out;
}

int gpm_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = gpm_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

void gpm_printf(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = gpm_vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 1)
        n = sizeof buf - 1;
    gpm_write(2, buf, (size_t)n);
}

static void throw_line(const char *msg)
{
    /* Name the thread: the G and M running here, when they can be found
       without trusting anything else. */
    struct gpm_m *mp = gpm_getm_unchecked();
    struct gpm_g *gp = mp ? mp->curg : NULL;
    if (gp != NULL)
        gpm_printf("gpm: fatal: %s (thread G%lu on M%d)\n", msg, (unsigned long)gp->goid, mp->id);
    else if (mp != NULL)
        gpm_printf("gpm: fatal: %s (scheduler of M%d)\n", msg, mp->id);
    else
        gpm_printf("gpm: fatal: %s (kernel thread %d)\n", msg, gpm_gettid());
}

void gpm_throw(const char *msg)
{
    throw_line(msg);
    gpm_dumpstate();
    gpm_abort();
}

void gpm_abort(void)
{
    /* abort() would run through libc's locks and the program's SIGABRT
       handler; reset the disposition with the raw system call (the kernel's
       struct sigaction: handler, flags, restorer, mask) and die as abort
       does. */
    struct {
        void *handler;
        unsigned long flags;
        void *restorer;
        unsigned long mask;
    } dfl = {SIG_DFL, 0, NULL, 0};
    gpm_syscall4(SYS_rt_sigaction, SIGABRT, (long)&dfl, 0, sizeof dfl.mask);
    unsigned long unblock = 1UL << (SIGABRT - 1);
    gpm_syscall4(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&unblock, 0, sizeof unblock);
    gpm_syscall3(SYS_tgkill, gpm_getpid(), gpm_gettid(), SIGABRT);
    for (;;)
        gpm_syscall1(SYS_exit_group, 134);
}

void gpm_throwf(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    gpm_vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    gpm_throw(buf);
}
