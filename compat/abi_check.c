/*
 * compat/abi_check.c: refuse rather than guess (DESIGN.md section 5).
 */
#define _GNU_SOURCE
#include "abi_check.h"

#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "glibc_abi.h"

/* libc's descriptors for libthread_db: {bits, elements, offset}. */
static const uint32_t *desc(const char *name)
{
    return dlvsym(RTLD_DEFAULT, name, GLIBC_PRIVATE_VERSION);
}

const char *gpm_abi_check(char *why, unsigned long whylen)
{
    const char *v = gnu_get_libc_version();
    if (strcmp(v, GLIBC_ABI_VERSION_STRING) != 0) {
        snprintf(why, whylen, "glibc %s, but gpm knows the layout of %s only", v, GLIBC_ABI_VERSION_STRING);
        return why;
    }
    static const struct {
        const char *sym;
        uint32_t offset;
    } fields[] = {
        {"_thread_db_pthread_list", TCB_OFF_LIST},
        {"_thread_db_pthread_tid", TCB_OFF_TID},
        {"_thread_db_pthread_cancelhandling", TCB_OFF_CANCELHANDLING},
        {"_thread_db_pthread_specific", TCB_OFF_SPECIFIC},
        {"_thread_db_pthread_report_events", TCB_OFF_SPECIFIC_USED + 1},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const uint32_t *d = desc(fields[i].sym);
        if (d == NULL || d[2] != fields[i].offset) {
            snprintf(why, whylen, "%s is %d, expected %u", fields[i].sym, d ? (int)d[2] : -1, fields[i].offset);
            return why;
        }
    }
    const uint32_t *size = desc("_thread_db_sizeof_pthread");
    if (size == NULL || *size != TCB_SIZE) {
        snprintf(why, whylen, "sizeof(struct pthread) is %d, expected %d", size ? (int)*size : -1, TCB_SIZE);
        return why;
    }
    const ptrdiff_t *rseq_offset = dlsym(RTLD_DEFAULT, "__rseq_offset");
    if (rseq_offset == NULL || *rseq_offset != GLIBC_RSEQ_OFFSET) {
        snprintf(why, whylen, "__rseq_offset is %ld, expected %d", rseq_offset ? (long)*rseq_offset : -1L,
                 GLIBC_RSEQ_OFFSET);
        return why;
    }

    /* The live thread. */
    char *tp;
    __asm__("mov %%fs:0, %0" : "=r"(tp));
    if (TCB_FIELD(tp, TCB_OFF_TCB, char *) != tp || TCB_FIELD(tp, TCB_OFF_SELF, char *) != tp) {
        snprintf(why, whylen, "the thread pointer is not its own tcb/self");
        return why;
    }
    if (TCB_FIELD(tp, TCB_OFF_TID, int) != (int)syscall(SYS_gettid)) {
        snprintf(why, whylen, "struct pthread's tid is not the kernel's");
        return why;
    }
    if (TCB_FIELD(tp, TCB_OFF_SPECIFIC, char *) != tp + TCB_OFF_SPECIFIC_1STBLOCK) {
        snprintf(why, whylen, "specific[0] does not point at specific_1stblock");
        return why;
    }
    if (TCB_FIELD(tp, TCB_OFF_ROBUST_LIST, char *) != tp + TCB_OFF_ROBUST_LIST) {
        snprintf(why, whylen, "the robust list head is not where expected");
        return why;
    }
    if (TCB_FIELD(tp, TCB_OFF_STACK_GUARD, uintptr_t) == 0) {
        snprintf(why, whylen, "no stack protector canary at %%fs:0x28");
        return why;
    }

    /* pthread_attr_t's flags: set by the scheduling setters only. */
    pthread_attr_t attr;
    struct sched_param param = {.sched_priority = 0};
    pthread_attr_init(&attr);
    int before = TCB_FIELD(&attr, GLIBC_ATTR_OFF_FLAGS, int);
    pthread_attr_setschedpolicy(&attr, SCHED_OTHER);
    pthread_attr_setschedparam(&attr, &param);
    int after = TCB_FIELD(&attr, GLIBC_ATTR_OFF_FLAGS, int);
    pthread_attr_destroy(&attr);
    int both = GLIBC_ATTR_FLAG_SCHED_SET | GLIBC_ATTR_FLAG_POLICY_SET;
    if ((before & both) != 0 || (after & both) != both || (before | both) != after) {
        snprintf(why, whylen, "pthread_attr_t's flags are not where expected (%#x, then %#x)", before, after);
        return why;
    }
    return NULL;
}
