/*
 * src/core/tools.c: the checkers that may be running the program
 * (valgrind's tools, the compilers' sanitizers), and what gpm does under
 * each.
 *
 * Two kinds of checker
 * --------------------
 * Memcheck (and valgrind's other tools that do not model threads) follow
 * whatever the program's code does to memory and the stack pointer: a
 * switch between Gs is a stack change, which gpm announces by registering
 * every G stack (valgrind.h), and gpm's kernel threads are glibc threads
 * valgrind knows. gpm runs as usual under them, with one change: no
 * asynchronous preemption (preempt.c). Valgrind runs one thread at a time
 * anyway and delivers a signal only between its translated blocks, so the
 * signal would buy no fairness and cost every computing G a trip through
 * valgrind's signal machinery; sysmon still takes the P of a G that
 * computes too long, as with GPM_PREEMPT_SIGNAL=0.
 *
 * Helgrind, DRD, ThreadSanitizer and AddressSanitizer keep a model of each
 * thread: its identity, its stack range, the happens-before edges made by
 * its locks. They learn about threads from pthread_create and about
 * stacks from the kernel thread they see running; a G that moves between
 * kernel threads, or a kernel thread that runs one G after another, is
 * beyond that model (helgrind then reports hundreds of races between Gs
 * that merely ran on the same M, DRD fails an assertion of its own, ASan
 * takes a G's stack for a stack overflow). So under them gpm passes
 * through, as with GPM_DISABLE=1, and says so in one line: the checker
 * then sees the program's own native threads and reports what it would
 * report without gpm.
 *
 * How each is recognised: valgrind's tools by the preload object valgrind
 * puts first in LD_PRELOAD for the tool (vgpreload_helgrind-*.so,
 * vgpreload_drd-*.so), loaded before any constructor runs; the sanitizers
 * by their runtime's entry point, which the instrumented program links
 * (dynamically or statically) and exports.
 */
#define _GNU_SOURCE
#include "tools.h"

#include <dlfcn.h>
#include <link.h>
#include <string.h>

#include "valgrind.h"

struct vgsearch {
    bool core;           /* valgrind's own preload object is loaded */
    const char *tool;    /* the thread checker's name, or NULL */
};

/* Valgrind's preload objects, by the start of their file name. */
static const struct {
    const char *prefix, *name;
} vgtools[] = {
    {"vgpreload_helgrind", "helgrind"},
    {"vgpreload_drd", "drd"},
};

static int findvg(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct vgsearch *s = arg;
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    if (strncmp(base, "vgpreload_core", 14) == 0)
        s->core = true;
    for (size_t i = 0; i < sizeof vgtools / sizeof vgtools[0]; i++)
        if (strncmp(base, vgtools[i].prefix, strlen(vgtools[i].prefix)) == 0)
            s->tool = vgtools[i].name;
    return 0;
}

static struct vgsearch vgsearch(void)
{
    struct vgsearch s = {false, NULL};
    dl_iterate_phdr(findvg, &s);
    return s;
}

bool gpm_on_valgrind(void)
{
    /* The client request answers for valgrind itself; the preload object
       answers for a build without valgrind's headers. */
    return gpm_running_on_valgrind() || vgsearch().core;
}

const char *gpm_thread_checker(void)
{
    static const struct {
        const char *symbol, *name;
    } sanitizers[] = {
        {"__tsan_init", "ThreadSanitizer"},
        {"__asan_init", "AddressSanitizer"},
    };
    for (size_t i = 0; i < sizeof sanitizers / sizeof sanitizers[0]; i++)
        if (dlsym(RTLD_DEFAULT, sanitizers[i].symbol) != NULL)
            return sanitizers[i].name;
    return vgsearch().tool;
}
