/*
 * Thread-local variables and errno keep per-thread values while threads
 * move between kernel threads: a __thread in the program, initial-exec and
 * global-dynamic ones in a linked library, and both kinds in libraries
 * dlopen'ed after the threads exist (which must read their initial values
 * first). &errno and every &var stay the same inside a thread. Run with
 * GPM_MAXPROCS=2: threads of uneven lengths yield constantly, so Ps run
 * dry at different times and steal each other's threads. Under gpm the test
 * also requires that migrations did happen (kernel_tid() changing inside a
 * thread), repeating rounds until they have.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"
#include "tasks.h"

int *tls_ie_addr(void);
int *tls_gd_addr(void);

__thread int tv_exe = 5;
__thread long tv_exe_bss;

static int *(*dl_ie_addr)(void);
static char *(*dl_ie_bss_addr)(void);
static int *(*dl_gd_addr)(void);
static atomic_int phase;        /* 1: dlopen done */
static atomic_int started;      /* workers that reached their loop */
static atomic_long migrations;

#define NT 8

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    int *ie = tls_ie_addr(), *gd = tls_gd_addr();
    CHECK(tv_exe == 5 && tv_exe_bss == 0, "thread %d: exe TLS starts at %d/%ld", id, tv_exe, tv_exe_bss);
    CHECK(*ie == 7 && *gd == 9, "thread %d: library TLS starts at %d/%d", id, *ie, *gd);
    CHECK(errno == 0, "thread %d: errno starts at %d", id, errno);
    int *perrno = &errno;
    int *pexe = &tv_exe;
    tv_exe = id * 10 + 1;
    tv_exe_bss = id * 10 + 2;
    *ie = id * 10 + 3;
    *gd = id * 10 + 4;
    int *dlie = NULL, *dlgd = NULL;
    char *dlbss = NULL;
    pid_t tid = kernel_tid();
    long moved = 0;
    atomic_fetch_add(&started, 1);
    int iters = 300 + id * 150;
    for (int i = 0; i < iters; i++) {
        errno = 1000 + id + i;
        if (dlie == NULL && atomic_load(&phase) == 1) {
            dlie = dl_ie_addr();
            dlgd = dl_gd_addr();
            dlbss = dl_ie_bss_addr();
            CHECK(*dlie == 1234, "thread %d: dlopen'ed initial-exec TLS reads %d, not 1234", id, *dlie);
            CHECK(*dlgd == 4321, "thread %d: dlopen'ed global-dynamic TLS reads %d, not 4321", id, *dlgd);
            for (int k = 0; k < 64; k++)
                CHECK(dlbss[k] == 0, "thread %d: dlopen'ed .tbss byte %d is %d", id, k, dlbss[k]);
            *dlie = id * 10 + 5;
            *dlgd = id * 10 + 6;
            dlbss[id] = (char)id;
        }
        sched_yield();
        pid_t now = kernel_tid();
        if (now != tid) {
            moved++;
            tid = now;
        }
        CHECK(&errno == perrno, "thread %d: &errno changed", id);
        CHECK(errno == 1000 + id + i, "thread %d: errno is %d, expected %d", id, errno, 1000 + id + i);
        CHECK(&tv_exe == pexe, "thread %d: &tv_exe changed", id);
        CHECK(tv_exe == id * 10 + 1 && tv_exe_bss == id * 10 + 2, "thread %d: exe TLS %d/%ld", id, tv_exe,
              tv_exe_bss);
        CHECK(*ie == id * 10 + 3 && *gd == id * 10 + 4, "thread %d: library TLS %d/%d", id, *ie, *gd);
        CHECK(tls_ie_addr() == ie && tls_gd_addr() == gd, "thread %d: library TLS moved", id);
        if (dlie != NULL) {
            CHECK(*dlie == id * 10 + 5 && *dlgd == id * 10 + 6, "thread %d: dlopen'ed TLS %d/%d", id, *dlie,
                  *dlgd);
            CHECK(dl_ie_addr() == dlie && dl_gd_addr() == dlgd, "thread %d: dlopen'ed TLS moved", id);
            CHECK(dlbss[id] == (char)id, "thread %d: dlopen'ed .tbss lost its value", id);
        }
        /* A libc call that sets errno, in between. */
        if (i % 16 == 0) {
            CHECK(close(-1) == -1 && errno == EBADF, "thread %d: close(-1) errno %d", id, errno);
        }
    }
    atomic_fetch_add(&migrations, moved);
    return NULL;
}

static void *open_lib(const char *name)
{
    char path[4096];
    const char *dir = getenv("TEST_LIBDIR");
    snprintf(path, sizeof path, "%s/%s", dir ? dir : ".", name);
    void *h = dlopen(path, RTLD_NOW);
    CHECK(h != NULL, "dlopen %s: %s", path, dlerror());
    return h;
}

static void round_(int round)
{
    pthread_t t[NT];
    atomic_store(&started, 0);
    for (int i = 0; i < NT; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i), 0);
    /* The main thread's errno, across switches to the workers. */
    int *perrno = &errno;
    errno = 77;
    for (int k = 0; k < 50; k++) {
        sched_yield();
        CHECK(&errno == perrno && errno == 77, "main: errno %d", errno);
    }
    if (round == 0) {
        /* dlopen once the threads exist and run. */
        while (atomic_load(&started) < NT)
            sched_yield();
        void *hie = open_lib("libtls_dl_ie.so"), *hgd = open_lib("libtls_dl_gd.so");
        dl_ie_addr = (int *(*)(void))dlsym(hie, "tls_dl_ie_addr");
        dl_ie_bss_addr = (char *(*)(void))dlsym(hie, "tls_dl_ie_bss_addr");
        dl_gd_addr = (int *(*)(void))dlsym(hgd, "tls_dl_gd_addr");
        CHECK(dl_ie_addr && dl_gd_addr && dl_ie_bss_addr, "dlsym failed");
        /* The main thread's own copies. */
        CHECK(*dl_ie_addr() == 1234 && *dl_gd_addr() == 4321, "main: dlopen'ed TLS %d/%d", *dl_ie_addr(),
              *dl_gd_addr());
        atomic_store(&phase, 1);
    }
    for (int i = 0; i < NT; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
}

int main(void)
{
    int rounds = 0;
    /* Under gpm, repeat until threads have moved between kernel threads
       (one or two rounds in practice); at most 200 rounds. */
    do {
        round_(rounds++);
    } while (under_gpm() && atomic_load(&migrations) < 50 && rounds < 200);
    printf("%d rounds of %d threads; %ld migrations between kernel threads\n", rounds, NT,
           atomic_load(&migrations));
    if (under_gpm())
        CHECK(atomic_load(&migrations) > 0, "no thread ever moved to another kernel thread");
    return 0;
}
