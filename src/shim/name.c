/*
 * src/shim/name.c: pthread_setname_np, pthread_getname_np.
 *
 * A G's name is kept in its G (16 bytes with the NUL, as the kernel's comm),
 * starting as its creator's. Naming G1 also renames the main kernel thread,
 * so ps and top show it as they would natively. Foreign threads are
 * glibc's and glibc names them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../compat/glibc_abi.h"
#include "../core/sys.h"
#include "shim.h"

#define TASK_COMM_LEN 16

GPM_EXPORT int pthread_setname_np(pthread_t th, const char *name)
{
    if (!gpm_active())
        return gpm_real.pthread_setname_np(th, name);
    size_t len = strlen(name);
    if (len >= TASK_COMM_LEN)
        return ERANGE;
    struct gpm_g *gp = shim_g(th);
    if (gp == NULL)
        return ESRCH;
    if (gp->kind == G_KIND_FOREIGN)
        return gpm_real.pthread_setname_np(th, name);
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
    return 0;
}

GPM_EXPORT int pthread_getname_np(pthread_t th, char *buf, size_t len)
{
    if (!gpm_active())
        return gpm_real.pthread_getname_np(th, buf, len);
    if (len < TASK_COMM_LEN)
        return ERANGE;
    struct gpm_g *gp = shim_g(th);
    if (gp == NULL)
        return ESRCH;
    if (gp->kind == G_KIND_FOREIGN)
        return gpm_real.pthread_getname_np(th, buf, len);
    gpm_getname(gp, buf, len);
    return 0;
}
