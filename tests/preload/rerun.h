/*
 * tests/preload/rerun.h: running the test program itself again, as a
 * child with a few more environment variables, to read what it (or gpm in
 * it) prints on stderr: for the tests of gpm's own output (GPM_DEBUG).
 */
#ifndef GPM_TEST_RERUN_H
#define GPM_TEST_RERUN_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/*
 * Runs /proc/self/exe with argv[0] and the single argument "child", and
 * with env (name, value pairs, NULL-terminated) set; returns its stderr
 * to read, and its pid in *pid for waitpid.
 */
static inline FILE *rerun_child(const char *argv0, const char *const *env, pid_t *pid)
{
    int p[2];
    CHECK_EQ(pipe(p), 0);
    fflush(stdout);
    *pid = fork();
    CHECK(*pid >= 0, "fork");
    if (*pid == 0) {
        dup2(p[1], 2);
        for (; env[0] != NULL; env += 2)
            setenv(env[0], env[1], 1);
        execl("/proc/self/exe", argv0, "child", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    CHECK(f != NULL, "fdopen");
    return f;
}

/* Waits for the child rerun_child started; it must have exited with 0. */
static inline void rerun_wait(pid_t pid)
{
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
}

#endif
