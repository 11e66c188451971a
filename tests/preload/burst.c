/*
 * A burst of threads gives its memory back. THREADS threads with 64 KiB
 * stacks, each touching 16 KiB of its stack and mallocing a little, are
 * all alive at once, then all joined; the process's resident size, mapped
 * size and number of mappings (/proc/self/maps lines) are read before, at
 * the peak, and after the last join.
 *
 * Under gpm the run first runs itself natively (LD_PRELOAD removed) for a
 * native burst of as many threads as the kernel allows a native process
 * (each native thread costs two mappings, and vm.max_map_count is 65,530
 * by default), measured 2 s after its last join: glibc frees a native
 * thread's memory at its exit and keeps a 40 MiB stack cache, so those
 * figures do not grow with the burst and do not change with time. Then
 * gpm makes 100,000 threads. gpm gives its blocks back over time (sysmon's
 * scavenger), so its figures are read every 100 ms after the last join
 * until they are no worse than native's: resident size and mappings no
 * more than native's, mapped size no more than twice (malloc arenas
 * reserve 64 MiB each, and their number is not the program's choice).
 * That must happen within DEADLINE seconds; the time it took is printed.
 * The mapped size coming back needs each block's malloc cache given back
 * first (src/core/tcache.c), and the resident size needs the arenas'
 * tops trimmed ("Trimming the arenas" there).
 * Natively and in pass-through the program checks only that its burst
 * ran and prints its figures.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

enum { GPM_THREADS = 100000, NATIVE_MAX = 25000, TOUCH = 16 << 10, DEADLINE = 30 };

struct figures {
    long rss_kib, vsz_kib, maps;
};

static struct figures measure(void)
{
    struct figures f = {0, 0, 0};
    FILE *s = fopen("/proc/self/statm", "r");
    CHECK(s != NULL, "statm");
    long vsz, rss;
    CHECK_EQ(fscanf(s, "%ld %ld", &vsz, &rss), 2);
    fclose(s);
    long page = sysconf(_SC_PAGESIZE) / 1024;
    f.vsz_kib = vsz * page;
    f.rss_kib = rss * page;
    FILE *m = fopen("/proc/self/maps", "r");
    CHECK(m != NULL, "maps");
    int c;
    while ((c = getc(m)) != EOF)
        f.maps += c == '\n';
    fclose(m);
    return f;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER, allup = PTHREAD_COND_INITIALIZER;
static int up, released;

static void *worker(void *arg)
{
    volatile char buf[TOUCH];
    for (size_t i = 0; i < sizeof buf; i += 512)
        buf[i] = (char)i;
    char *p = malloc(64);
    CHECK(p != NULL, "malloc");
    pthread_mutex_lock(&mu);
    if (++up == (int)(long)arg)
        pthread_cond_signal(&allup);
    while (!released)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    free(p);
    return (void *)(long)buf[512];
}

static void print(const char *what, struct figures f)
{
    printf("  %-11s RSS %7.1f MiB  VSZ %8.1f MiB  %6ld mappings\n", what, f.rss_kib / 1024.0, f.vsz_kib / 1024.0,
           f.maps);
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool within(struct figures f, const struct figures *bound)
{
    return f.rss_kib <= bound->rss_kib && f.vsz_kib <= bound->vsz_kib && f.maps <= bound->maps;
}

/* The burst. Without a bound, returns the figures 2 s after the last
   join; with one, the first figures within it, read every 100 ms, or
   those at DEADLINE s. */
static struct figures burst(int n, const char *who, const struct figures *bound)
{
    pthread_t *ths = calloc((size_t)n, sizeof *ths);
    CHECK(ths != NULL, "calloc");
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 << 10);
    struct figures before = measure();
    for (int i = 0; i < n; i++) {
        int err = pthread_create(&ths[i], &attr, worker, (void *)(long)n);
        CHECK(err == 0, "thread %d of %d: %s", i, n, strerror(err));
    }
    pthread_mutex_lock(&mu);
    while (up < n)
        pthread_cond_wait(&allup, &mu);
    pthread_mutex_unlock(&mu);
    struct figures peak = measure();
    pthread_mutex_lock(&mu);
    released = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < n; i++)
        CHECK_EQ(pthread_join(ths[i], NULL), 0);
    free(ths);
    double t0 = seconds(), t;
    struct figures after;
    if (bound == NULL) {
        struct timespec two = {2, 0};
        nanosleep(&two, NULL);
        after = measure();
        t = seconds() - t0;
    } else {
        for (;;) {
            after = measure();
            t = seconds() - t0;
            if (within(after, bound) || t >= DEADLINE)
                break;
            struct timespec tenth = {0, 100 * 1000 * 1000};
            nanosleep(&tenth, NULL);
        }
    }
    printf("%s, %d threads:\n", who, n);
    print("before", before);
    print("peak", peak);
    char what[32];
    snprintf(what, sizeof what, "after %.1fs", t);
    print(what, after);
    fflush(stdout);
    return after;
}

/* The native figures after a burst, from this program run again natively. */
static struct figures native_after(const char *argv0)
{
    int p[2];
    CHECK_EQ(pipe(p), 0);
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        dup2(p[1], 1);
        unsetenv("LD_PRELOAD");
        setenv("GPM_TEST_MODE", "native", 1);
        execl("/proc/self/exe", argv0, "native-child", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    CHECK(f != NULL, "fdopen");
    struct figures nat = {0, 0, 0};
    char line[256];
    int got = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        fputs(line, stdout);
        got += sscanf(line, "result %ld %ld %ld", &nat.rss_kib, &nat.vsz_kib, &nat.maps) == 3;
    }
    fclose(f);
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && got == 1, "native run: status %#x", st);
    return nat;
}

/* As many native threads as the mapping limit allows, with room to spare. */
static int native_threads(void)
{
    long n = max_map_count() / 2 - 5000;
    return n > NATIVE_MAX ? NATIVE_MAX : n < 1000 ? 1000 : (int)n;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "native-child") == 0) {
        struct figures a = burst(native_threads(), "native", NULL);
        printf("result %ld %ld %ld\n", a.rss_kib, a.vsz_kib, a.maps);
        return 0;
    }
    if (!under_gpm()) {
        burst(native_threads(), test_mode(), NULL);
        return 0;
    }
    struct figures n = native_after(argv[0]);
    /* Floors, so that a native figure that happens to be tiny does not
       make noise a failure. */
    struct figures bound = {n.rss_kib > 8192 ? n.rss_kib : 8192, 2 * n.vsz_kib, n.maps > 200 ? n.maps : 200};
    struct figures g = burst(GPM_THREADS, "gpm", &bound);
    CHECK(g.rss_kib <= bound.rss_kib, "RSS %d s after the burst: gpm %ld KiB, native %ld KiB", DEADLINE, g.rss_kib,
          n.rss_kib);
    CHECK(g.vsz_kib <= bound.vsz_kib, "mapped size %d s after the burst: gpm %ld KiB, native %ld KiB", DEADLINE,
          g.vsz_kib, n.vsz_kib);
    CHECK(g.maps <= bound.maps, "mappings %d s after the burst: gpm %ld, native %ld", DEADLINE, g.maps, n.maps);
    printf("gpm after the burst, against native: RSS %.2fx, mapped size %.2fx, mappings %.2fx\n",
           (double)g.rss_kib / n.rss_kib, (double)g.vsz_kib / n.vsz_kib, (double)g.maps / n.maps);
    return 0;
}
