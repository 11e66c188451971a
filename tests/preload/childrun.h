/*
 * tests/preload/childrun.h: runs a function in a forked child that is
 * expected to die (a stack overflow kills the whole process), and gives
 * back how it ended and what it wrote to stderr.
 */
#ifndef GPM_TEST_CHILDRUN_H
#define GPM_TEST_CHILDRUN_H

#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

struct childrun {
    int status;      /* as waitpid gives it */
    char err[8192];  /* the child's stderr, NUL-terminated (truncated) */
};

/* Forks; the child runs fn(arg) with no core dumps (a dying child must not
   leave cores behind or wait for a core handler) and exits with its
   result. */
static inline void childrun(int (*fn)(void *), void *arg, struct childrun *r)
{
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        struct rlimit nocore = {0, 0};
        setrlimit(RLIMIT_CORE, &nocore);
        close(fds[0]);
        dup2(fds[1], 2);
        close(fds[1]);
        _exit(fn(arg));
    }
    close(fds[1]);
    size_t n = 0;
    for (;;) {
        ssize_t k = read(fds[0], r->err + n, sizeof r->err - 1 - n);
        if (k <= 0)
            break;
        n += (size_t)k;
        if (n == sizeof r->err - 1)
            break;
    }
    r->err[n] = '\0';
    close(fds[0]);
    CHECK(waitpid(pid, &r->status, 0) == pid, "waitpid");
}

/* How many times s occurs in text. */
static inline int count_of(const char *text, const char *s)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, s)) != NULL; p += strlen(s))
        n++;
    return n;
}

/* The number of lines of text that start with prefix and end with suffix. */
static inline int lines_like(const char *text, const char *prefix, const char *suffix)
{
    int n = 0;
    size_t lp = strlen(prefix), ls = strlen(suffix);
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len >= lp + ls && strncmp(p, prefix, lp) == 0 && strncmp(p + len - ls, suffix, ls) == 0)
            n++;
        p += len + (e ? 1 : 0);
    }
    return n;
}

#endif
