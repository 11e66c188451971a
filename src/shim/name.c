/*
 * src/shim/name.c: pthread_setname_np, pthread_getname_np, and prctl's
 * PR_SET_NAME and PR_GET_NAME.
 *
 * A G's name is kept in its G (16 bytes with the NUL, as the kernel's comm),
 * starting as its creator's. Naming G1 also renames the main kernel thread,
 * so ps and top show it as they would natively. Foreign threads are
 * glibc's and glibc names them. prctl names the calling thread, so in a G
 * it reads and writes the same name; every other prctl option (and every
 * prctl of a thread that is not a G of gpm's) is the kernel's.
 *
 * glibc names any thread but the caller through /proc/self/task/<tid>/comm:
 * a thread that has exited (tid 0) or been joined (tid -1) is ENOENT, and a
 * pthread_t that names no G of gpm's is glibc's to answer, as it would
 * natively (a foreign thread not yet adopted, or garbage).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "../../compat/glibc_abi.h"
#include "../core/exectrace.h"
#include "../core/sys.h"
#include "shim.h"

#define TASK_COMM_LEN 16

/* Names gp (not a foreign G) name[0..len), len < TASK_COMM_LEN. Returns 0
   or an error number. */
static int setgname(struct gpm_g *gp, const char *name, size_t len)
{
    if (gp->kind == G_KIND_MAIN) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)gp->tid);
        long fd = gpm_syscall4(SYS_openat, AT_FDCWD, (long)path, O_WRONLY | O_CLOEXEC, 0);
        if (fd < 0)
            return (int)-fd;
        long n = gpm_syscall3(SYS_write, fd, (long)name, (long)len);
        gpm_syscall1(SYS_close, fd);
        if (n < 0)
            return (int)-n;
    }
    char buf[TASK_COMM_LEN] = {0};
    memcpy(buf, name, len);
    memcpy(gp->name, buf, sizeof buf);
    if (GPM_TRACING()) {
        struct gpm_g *self = gpm_getg();
        gpm_trace_name(self != NULL ? self->m : NULL, gp);
    }
    return 0;
}

GPM_EXPORT int pthread_setname_np(pthread_t th, const char *name)
{
    if (!gpm_active())
        return gpm_real.pthread_setname_np(th, name);
    size_t len = strlen(name);
    if (len >= TASK_COMM_LEN)
        return ERANGE;
    struct gpm_g *gp = shim_g(th);
    if (gp == NULL || gp->kind == G_KIND_FOREIGN)
        return gpm_real.pthread_setname_np(th, name);
    if (gpm_readgstatus(gp) == G_DEAD)
        return ENOENT;
    return setgname(gp, name, len);
}

GPM_EXPORT int pthread_getname_np(pthread_t th, char *buf, size_t len)
{
    if (!gpm_active())
        return gpm_real.pthread_getname_np(th, buf, len);
    if (len < TASK_COMM_LEN)
        return ERANGE;
    struct gpm_g *gp = shim_g(th);
    if (gp == NULL || gp->kind == G_KIND_FOREIGN)
        return gpm_real.pthread_getname_np(th, buf, len);
    if (gpm_readgstatus(gp) == G_DEAD)
        return ENOENT;
    /* The kernel's answer to glibc's prctl or read into NULL. */
    if (!shim_given(buf))
        return EFAULT;
    gpm_getname(gp, buf, len);
    return 0;
}

/* prctl takes up to four more arguments, all unsigned long (the kernel's
   prototype); reading four is safe whatever the caller passed, and they
   are forwarded as they came. PR_SET_NAME truncates to 15 characters, as
   the kernel does. PR_GET_TID_ADDRESS is the G's (tid.c). */
GPM_EXPORT int prctl(int option, ...)
{
    va_list ap;
    va_start(ap, option);
    unsigned long a2 = va_arg(ap, unsigned long), a3 = va_arg(ap, unsigned long);
    unsigned long a4 = va_arg(ap, unsigned long), a5 = va_arg(ap, unsigned long);
    va_end(ap);
    struct gpm_g *gp = NULL;
    if ((option == PR_SET_NAME || option == PR_GET_NAME || option == PR_GET_TID_ADDRESS) && gpm_active())
        gp = gpm_getg();
    if (gp == NULL || gp->kind == G_KIND_FOREIGN)
        return gpm_real.prctl(option, a2, a3, a4, a5);
    if (option == PR_GET_TID_ADDRESS) {
        /* The thread's clear_child_tid is its G's (tid.c). */
        int *addr = gpm_shim_get_tid_address(gp);
        if (!shim_given((void *)a2)) {
            errno = EFAULT;
            return -1;
        }
        *(int **)a2 = addr;
        return 0;
    }
    if (option == PR_GET_NAME) {
        if (a2 == 0) {
            errno = EFAULT; /* the kernel's answer */
            return -1;
        }
        gpm_getname(gp, (char *)a2, TASK_COMM_LEN);
        return 0;
    }
    const char *name = (const char *)a2;
    int err = setgname(gp, name, strnlen(name, TASK_COMM_LEN - 1));
    if (err != 0) {
        errno = err;
        return -1;
    }
    return 0;
}
