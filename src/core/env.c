/*
 * src/core/env.c: GPM_* configuration and the default GOMAXPROCS.
 */
#define _GNU_SOURCE
#include "env.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "print.h"
#include "sys.h"

struct gpm_configt gpm_config = {.stackguard = 1, .maxthreads = 10000, .preemptms = 10, .preemptsig = SIGURG};

long gpm_readfile(const char *path, char *buf, size_t size)
{
    long fd = gpm_syscall4(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    size_t n = 0;
    while (n + 1 < size) {
        long r = gpm_syscall3(SYS_read, fd, (long)(buf + n), (long)(size - 1 - n));
        if (r == -EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    gpm_syscall1(SYS_close, fd);
    buf[n] = '\0';
    return (long)n;
}

/* Parses a decimal integer with an optional k/m/g suffix (powers of 1024
   when suffixed). Returns false if s is not entirely that. */
static bool parse_size(const char *s, uint64_t *out)
{
    if (s == NULL || *s == '\0')
        return false;
    uint64_t v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (p == s)
        return false;
    int shift = 0;
    switch (*p) {
    case 'k': case 'K': shift = 10; p++; break;
    case 'm': case 'M': shift = 20; p++; break;
    case 'g': case 'G': shift = 30; p++; break;
    }
    if (*p != '\0' || (shift && v > (UINT64_MAX >> shift)))
        return false;
    *out = v << shift;
    return true;
}

static void badvalue(const char *name, const char *value, const char *why)
{
    gpm_printf("gpm: ignoring %s=%s: %s\n", name, value, why);
}

int32_t gpm_cgroup_cpu_limit(const char *cgroupfile, const char *cgroot)
{
    char buf[4096];
    if (gpm_readfile(cgroupfile, buf, sizeof buf) <= 0)
        return 0;
    /* cgroup v2 has one line "0::/path". */
    char *line = strstr(buf, "0::");
    if (line == NULL || (line != buf && line[-1] != '\n'))
        return 0;
    char path[2048];
    size_t n = 0;
    for (char *p = line + 3; *p && *p != '\n' && n + 1 < sizeof path; p++)
        path[n++] = *p;
    path[n] = '\0';
    int32_t limit = 0;
    for (;;) {
        char file[4200], val[128];
        gpm_snprintf(file, sizeof file, "%s%s/cpu.max", cgroot, strcmp(path, "/") == 0 ? "" : path);
        if (gpm_readfile(file, val, sizeof val) > 0 && strncmp(val, "max", 3) != 0) {
            char *sp = strchr(val, ' ');
            uint64_t quota, period;
            if (sp != NULL) {
                *sp = '\0';
                char *nl = strchr(sp + 1, '\n');
                if (nl)
                    *nl = '\0';
                if (parse_size(val, &quota) && parse_size(sp + 1, &period) && period > 0) {
                    int32_t cpus = (int32_t)((quota + period - 1) / period);
                    if (cpus < 1)
                        cpus = 1;
                    if (limit == 0 || cpus < limit)
                        limit = cpus;
                }
            }
        }
        char *slash = strrchr(path, '/');
        if (slash == NULL || strcmp(path, "/") == 0)
            break;
        if (slash == path)
            path[1] = '\0';
        else
            *slash = '\0';
    }
    return limit;
}

int32_t gpm_default_maxprocs(void)
{
    cpu_set_t set;
    int32_t cpus = 1;
    /* The kernel's call: sched_getaffinity is gpm's own (src/shim/sched.c),
       and this runs before libc's are found. */
    memset(&set, 0, sizeof set);
    if (gpm_syscall3(SYS_sched_getaffinity, 0, sizeof set, (long)&set) > 0)
        cpus = CPU_COUNT(&set);
    if (cpus < 1)
        cpus = 1;
    int32_t limit = gpm_cgroup_cpu_limit("/proc/self/cgroup", "/sys/fs/cgroup");
    if (limit > 0 && limit < cpus)
        cpus = limit;
    return cpus;
}

static int64_t readnumber(const char *path)
{
    char buf[64];
    uint64_t v;
    if (gpm_readfile(path, buf, sizeof buf) <= 0)
        return -1;
    char *nl = strchr(buf, '\n');
    if (nl != NULL)
        *nl = '\0';
    return parse_size(buf, &v) && v <= INT64_MAX ? (int64_t)v : -1;
}

int32_t gpm_default_maxthreads(void)
{
    int64_t limit = 1000000;
    int64_t v = readnumber("/proc/sys/kernel/threads-max");
    if (v > 0 && v < limit)
        limit = v;
    v = readnumber("/proc/sys/kernel/pid_max");
    if (v > 0 && v < limit)
        limit = v;
    struct rlimit rl;
    /* The kernel does not hold root (CAP_SYS_RESOURCE or CAP_SYS_ADMIN) to
       RLIMIT_NPROC; everyone else shares it with their other processes. */
    if (geteuid() != 0 && getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (int64_t)rl.rlim_cur < limit)
        limit = (int64_t)rl.rlim_cur;
    return limit < 2 ? 2 : (int32_t)limit;
}

/* A signal by number or name (URG, SIGURG, USR2, RTMIN+3); -1 if none. */
static int parse_signal(const char *s)
{
    static const struct {
        const char *name;
        int sig;
    } names[] = {{"URG", SIGURG}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"WINCH", SIGWINCH},
                 {"PROF", SIGPROF}, {"VTALRM", SIGVTALRM}, {"IO", SIGIO}, {"PWR", SIGPWR}};
    uint64_t v;
    if (parse_size(s, &v))
        return v < 65 ? (int)v : -1;
    if (strncmp(s, "SIG", 3) == 0)
        s += 3;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0)
            return names[i].sig;
    if (strncmp(s, "RTMIN+", 6) == 0 && parse_size(s + 6, &v) && SIGRTMIN + (int64_t)v <= SIGRTMAX)
        return SIGRTMIN + (int)v;
    return -1;
}

/* GPM_DEBUG is a comma-separated list of name=value settings. */
static void readdebug(const char *s)
{
    while (s && *s) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        char item[128];
        if (len >= sizeof item)
            len = sizeof item - 1;
        memcpy(item, s, len);
        item[len] = '\0';
        char *eq = strchr(item, '=');
        const char *val = eq ? eq + 1 : "1";
        if (eq)
            *eq = '\0';
        uint64_t v;
        if (!parse_size(val, &v) || v > INT32_MAX) {
            badvalue("GPM_DEBUG", item, "expected name=number");
        } else if (strcmp(item, "schedtrace") == 0) {
            gpm_config.schedtrace = (int32_t)v;
        } else if (strcmp(item, "scheddetail") == 0) {
            gpm_config.scheddetail = v != 0;
        } else if (strcmp(item, "nowrfsbase") == 0) {
            gpm_config.nowrfsbase = v != 0;
        } else if (strcmp(item, "stats") == 0) {
            gpm_config.stats = v != 0;
        } else if (strcmp(item, "faults") == 0) {
            gpm_config.faults = v != 0;
        } else {
            badvalue("GPM_DEBUG", item, "unknown setting");
        }
        s = end ? end + 1 : NULL;
    }
}

void gpm_readconfig(void)
{
    const char *s;
    uint64_t v;

    s = secure_getenv("GPM_DISABLE");
    if (s != NULL && *s != '\0') {
        if (strcmp(s, "1") == 0)
            gpm_config.disable = true;
        else if (strcmp(s, "0") != 0)
            badvalue("GPM_DISABLE", s, "expected 0 or 1");
    }

    gpm_config.ncpu = gpm_default_maxprocs();
    gpm_config.maxprocs = gpm_config.ncpu;
    s = secure_getenv("GPM_MAXPROCS");
    if (s != NULL) {
        if (parse_size(s, &v) && v >= 1 && v <= 1024)
            gpm_config.maxprocs = (int32_t)v;
        else
            badvalue("GPM_MAXPROCS", s, "expected an integer from 1 to 1024");
    }

    gpm_config.maxthreads = gpm_default_maxthreads();
    s = secure_getenv("GPM_MAXTHREADS");
    if (s != NULL) {
        if (parse_size(s, &v) && v >= 2 && v <= 4194304)
            gpm_config.maxthreads = (int32_t)v;
        else
            badvalue("GPM_MAXTHREADS", s, "expected an integer from 2 to 4194304");
    }

    s = secure_getenv("GPM_PREEMPT_MS");
    if (s != NULL) {
        if (parse_size(s, &v) && v >= 1 && v <= 10000)
            gpm_config.preemptms = (int32_t)v;
        else
            badvalue("GPM_PREEMPT_MS", s, "expected an integer from 1 to 10000");
    }

    s = secure_getenv("GPM_PREEMPT_SIGNAL");
    if (s != NULL) {
        int sig = parse_signal(s);
        /* Not the signals that report faults, that cannot be caught, that
           gpm dumps with (QUIT), or that glibc keeps for itself (32, 33:
           below SIGRTMIN). */
        bool usable = sig == 0 || (sig > 0 && sig <= SIGRTMAX && sig != SIGKILL && sig != SIGSTOP &&
                                   sig != SIGSEGV && sig != SIGBUS && sig != SIGFPE && sig != SIGILL &&
                                   sig != SIGTRAP && sig != SIGQUIT && sig != SIGABRT &&
                                   (sig < 32 || sig >= SIGRTMIN));
        if (usable)
            gpm_config.preemptsig = sig;
        else
            badvalue("GPM_PREEMPT_SIGNAL", s,
                     "expected 0 (off) or a signal name or number that is not fatal by nature (default URG)");
    }

    s = secure_getenv("GPM_STACK_SIZE");
    if (s != NULL) {
        if (parse_size(s, &v) && v >= 16384 && v <= (1ULL << 40))
            gpm_config.stacksize = (size_t)v;
        else
            badvalue("GPM_STACK_SIZE", s, "expected a size of at least 16384 (suffixes k, m, g)");
    }

    s = secure_getenv("GPM_STACK_GUARD");
    if (s != NULL) {
        if (strcmp(s, "0") == 0 || strcmp(s, "1") == 0)
            gpm_config.stackguard = s[0] - '0';
        else
            badvalue("GPM_STACK_GUARD", s, "expected 0 or 1");
    }

    gpm_config.netpoll = true;
    s = secure_getenv("GPM_NETPOLL");
    if (s != NULL) {
        if (strcmp(s, "0") == 0 || strcmp(s, "1") == 0)
            gpm_config.netpoll = s[0] == '1';
        else
            badvalue("GPM_NETPOLL", s, "expected 0 or 1");
    }

    s = secure_getenv("GPM_TRACE");
    if (s != NULL && *s != '\0')
        gpm_config.tracefile = s;
    gpm_config.tracemb = 64;
    s = secure_getenv("GPM_TRACE_MB");
    if (s != NULL) {
        if (parse_size(s, &v) && v >= 1 && v <= 65536)
            gpm_config.tracemb = (int32_t)v;
        else
            badvalue("GPM_TRACE_MB", s, "expected an integer from 1 to 65536");
    }

    readdebug(secure_getenv("GPM_DEBUG"));
}
