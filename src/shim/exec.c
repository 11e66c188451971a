/*
 * src/shim/exec.c: exec and spawn: a new program inherits its thread's
 * signal mask, which must be the G's, not the kernel mask gpm keeps on
 * its Ms ("The kernel's masks" in src/core/signal.c). Each call runs with
 * the G's mask on its kernel thread and puts the M's back if it returns.
 * system and popen also block in the kernel (system waits for its child):
 * they are wrapped in entersyscall and exitsyscall as well.
 *
 * The execl family is not here: glibc builds the argument array and calls
 * its own execve internally, past any interposition; those calls give the
 * new program the M's mask (every signal but a few blocked), a difference
 * listed in docs/COMPAT.md. vfork likewise.
 */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <unistd.h>

#include "../core/gsig.h"
#include "../core/netpoll.h"
#include "shim.h"

#define EXEC(name, params, args)                        \
    GPM_EXPORT int name params                          \
    {                                                   \
        if (!gpm_active())                              \
            return gpm_real.name args;                  \
        gpm_sig_execenter();                            \
        gpm_netfd_sharing();                            \
        int r = gpm_real.name args;                     \
        gpm_sig_execleave();                            \
        return r;                                       \
    }
EXEC(execve, (const char *path, char *const argv[], char *const envp[]), (path, argv, envp))
EXEC(execv, (const char *path, char *const argv[]), (path, argv))
EXEC(execvp, (const char *file, char *const argv[]), (file, argv))
EXEC(execvpe, (const char *file, char *const argv[], char *const envp[]), (file, argv, envp))
EXEC(fexecve, (int fd, char *const argv[], char *const envp[]), (fd, argv, envp))
EXEC(posix_spawn,
     (pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
      char *const argv[], char *const envp[]),
     (pid, path, fa, attr, argv, envp))
EXEC(posix_spawnp,
     (pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
      char *const argv[], char *const envp[]),
     (pid, file, fa, attr, argv, envp))
#undef EXEC

GPM_EXPORT int system(const char *cmd)
{
    if (!gpm_active())
        return gpm_real.system(cmd);
    gpm_entersyscall();
    gpm_sig_execenter();
    gpm_netfd_sharing();
    int r = gpm_real.system(cmd);
    gpm_sig_execleave();
    gpm_exitsyscall();
    gpm_afterwrapped();
    return r;
}

GPM_EXPORT FILE *popen(const char *cmd, const char *mode)
{
    if (!gpm_active())
        return gpm_real.popen(cmd, mode);
    gpm_sig_execenter();
    gpm_netfd_sharing();
    FILE *f = gpm_real.popen(cmd, mode);
    gpm_sig_execleave();
    if (f != NULL)
        gpm_netfd_new(fileno(f)); /* the poller's knowledge of the number is stale */
    return f;
}
