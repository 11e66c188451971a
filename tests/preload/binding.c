/*
 * The binding test: a program's pthread_create resolves to libgpm.so under
 * gpm (and in pass-through, where gpm forwards), to libc natively.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>

#include "check.h"

static const char *owner(const char *sym)
{
    void *p = dlsym(RTLD_DEFAULT, sym);
    CHECK(p != NULL, "%s not found", sym);
    Dl_info info;
    CHECK(dladdr(p, &info) != 0, "dladdr(%s) failed", sym);
    return info.dli_fname;
}

int main(void)
{
    const char *syms[] = {"pthread_create", "pthread_join", "pthread_exit", "pthread_key_create", "thrd_create"};
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        const char *lib = owner(syms[i]);
        int gpm = strstr(lib, "libgpm.so") != NULL;
        printf("%s -> %s\n", syms[i], lib);
        if (strcmp(test_mode(), "native") == 0)
            CHECK(!gpm && strstr(lib, "libc.so") != NULL, "%s bound to %s natively", syms[i], lib);
        else
            CHECK(gpm, "%s bound to %s under LD_PRELOAD", syms[i], lib);
    }
    /* A versioned reference (what programs linked against glibc 2.34+
       import) binds to gpm too. */
    void *v = dlvsym(RTLD_DEFAULT, "pthread_create", "GLIBC_2.34");
    Dl_info info;
    CHECK(v != NULL && dladdr(v, &info) != 0, "pthread_create@GLIBC_2.34 not found");
    printf("pthread_create@GLIBC_2.34 -> %s\n", info.dli_fname);
    return 0;
}
