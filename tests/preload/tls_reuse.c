/*
 * A thread's fresh state when its memory is reused. Threads are created
 * and joined one after another, so under gpm each one runs in the block
 * of the one before (the pool keeps its DTV and libc's TLS block); natively
 * glibc reuses its cached stacks the same way. Every thread must find:
 *   - every TLS variable at its initial value: a __thread of the program
 *     (.tdata and .tbss), initial-exec and global-dynamic ones in a linked
 *     library, from the second third a global-dynamic one in a library
 *     dlopen'ed then (its block was allocated by the previous thread: it
 *     must be a fresh one, not the old one with its value), and in the
 *     last third an initial-exec one in a library dlopen'ed then (gpm
 *     copies the start-up modules' images itself until a library with
 *     static TLS comes: each third tries one of its ways);
 *   - errno 0;
 *   - NULL for a pthread key it has not set, while every thread before it
 *     set one, and the key's destructor run once per thread that set it;
 *   - the global locale (the previous thread switched to another one);
 *   - an uninitialised resolver state (the previous thread initialised its
 *     own with res_init).
 * Each thread then changes all of them.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <locale.h>
#include <pthread.h>
#include <resolv.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "check.h"

int *tls_ie_addr(void);
int *tls_gd_addr(void);

__thread int tv_data = 5;
__thread long tv_bss;

static int *(*dl_ie_addr)(void);
static char *(*dl_ie_bss_addr)(void);
static int *(*dl_gd_addr)(void);

static pthread_key_t key;
static atomic_int destructed;

#define THREADS 400

static void destr(void *v)
{
    CHECK(v == (void *)&key, "destructor got %p", v);
    atomic_fetch_add(&destructed, 1);
}

static void *body(void *arg)
{
    int i = (int)(intptr_t)arg;
    int *ie = tls_ie_addr(), *gd = tls_gd_addr();
    CHECK(tv_data == 5 && tv_bss == 0, "thread %d: program TLS starts at %d/%ld", i, tv_data, tv_bss);
    CHECK(*ie == 7 && *gd == 9, "thread %d: library TLS starts at %d/%d", i, *ie, *gd);
    CHECK(errno == 0, "thread %d: errno starts at %d", i, errno);
    CHECK(pthread_getspecific(key) == NULL, "thread %d: key starts at %p", i, pthread_getspecific(key));
    CHECK(uselocale((locale_t)0) == LC_GLOBAL_LOCALE, "thread %d: starts in another locale", i);
    CHECK(!(_res.options & RES_INIT), "thread %d: starts with an initialised resolver", i);
    if (dl_gd_addr != NULL) {
        int *dlgd = dl_gd_addr();
        CHECK(*dlgd == 4321, "thread %d: dlopen'ed global-dynamic TLS starts at %d", i, *dlgd);
        *dlgd = -2;
    }
    if (dl_ie_addr != NULL) {
        int *dlie = dl_ie_addr();
        char *dlbss = dl_ie_bss_addr();
        CHECK(*dlie == 1234, "thread %d: dlopen'ed initial-exec TLS starts at %d", i, *dlie);
        for (int k = 0; k < 64; k++)
            CHECK(dlbss[k] == 0, "thread %d: dlopen'ed .tbss byte %d is %d", i, k, dlbss[k]);
        *dlie = -1;
        dlbss[i % 64] = 1;
    }
    tv_data = -3;
    tv_bss = -4;
    *ie = -5;
    *gd = -6;
    errno = ENOENT;
    CHECK_EQ(pthread_setspecific(key, &key), 0);
    locale_t c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    CHECK(c != (locale_t)0, "newlocale failed");
    uselocale(c);
    CHECK_EQ(res_init(), 0);
    CHECK(_res.options & RES_INIT, "thread %d: res_init left the resolver uninitialised", i);
    return (void *)(intptr_t)(i + 1);
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

int main(void)
{
    CHECK_EQ(pthread_key_create(&key, destr), 0);
    for (int i = 0; i < THREADS; i++) {
        if (i == THREADS / 3) {
            void *hgd = open_lib("libtls_dl_gd.so");
            dl_gd_addr = (int *(*)(void))dlsym(hgd, "tls_dl_gd_addr");
            CHECK(dl_gd_addr != NULL, "dlsym failed");
        }
        if (i == 2 * THREADS / 3) {
            void *hie = open_lib("libtls_dl_ie.so");
            dl_ie_addr = (int *(*)(void))dlsym(hie, "tls_dl_ie_addr");
            dl_ie_bss_addr = (char *(*)(void))dlsym(hie, "tls_dl_ie_bss_addr");
            CHECK(dl_ie_addr && dl_ie_bss_addr, "dlsym failed");
        }
        pthread_t t;
        void *r;
        CHECK_EQ(pthread_create(&t, NULL, body, (void *)(intptr_t)i), 0);
        CHECK_EQ(pthread_join(t, &r), 0);
        CHECK(r == (void *)(intptr_t)(i + 1), "thread %d returned %p", i, r);
        CHECK_EQ(atomic_load(&destructed), i + 1);
    }
    printf("%d threads in turn, each with fresh TLS, errno, keys, locale and resolver\n", THREADS);
    return 0;
}
