/*
 * libc calls that depend on per-thread state, made from threads that yield
 * between (and inside) them, so that they interleave and, with
 * GPM_MAXPROCS=2, move between kernel threads; compiled with
 * -fstack-protector-all so that every function checks the thread's canary
 * on return. Each thread, in several rounds:
 *  - fills local arrays, yields, returns through the canary check, also
 *    from a recursion 16 deep that yields at the bottom;
 *  - setjmp/longjmp out of nested calls after yielding, and the same with
 *    sigsetjmp/siglongjmp (savesigs 0, and 1 with a signal blocked in
 *    between, which siglongjmp must unblock);
 *  - ctype (isalpha & co., toupper, tolower) on EOF and 0..255, equal to the
 *    main thread's; a C.UTF-8 locale of its own with uselocale (MB_CUR_MAX,
 *    mbrtowc, across yields) while the others stay in "C"; half the threads
 *    end in that locale, and every thread (of a second batch too) starts in
 *    the global one;
 *  - strerror/strsignal strings equal to main's, and strerror and strsignal
 *    of an unknown number (per-thread buffers) kept while the others make
 *    theirs;
 *  - strtod and printf of doubles in "C", equal to main's strings;
 *  - getaddrinfo("localhost", "80"): the same addresses as main finds (this
 *    part is skipped, with a note, if main cannot resolve localhost);
 *  - qsort of a shuffled permutation with a comparator that yields;
 *  - rand_r sequences equal to main's.
 * Last, a thread that overruns a local array must die of the stack
 * protector (SIGABRT), checked in a forked child.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wchar.h>

#include "check.h"
#include "tasks.h"

#define NT 8
#define ROUNDS 3

/* What main computed, for the threads to compare with. */
static int ctype_ref[257][8]; /* [c + 1]: EOF and 0..255 */
static const int errnums[] = {EINVAL, ENOENT, EAGAIN, ENOMEM, EPERM, EDEADLK, ESRCH, 0};
static char strerror_ref[8][128];
static char strsignal_ref[2][128];
static const char *const numbers[] = {"3.14159265358979", "1e-300", "0x1.8p3", "-2.5e+10", "inf", "1e400", "0.1"};
#define NNUM (sizeof numbers / sizeof numbers[0])
static char number_ref[NNUM][160];
static int rand_ref[100];
static int mbrtowc_c_ref; /* what mbrtowc does with "\xc3\xa9" in "C" */
static locale_t utf8;
static int have_gai;
static char gai_ref[1024];
static atomic_long migrations;

/* sched_yield, counting the moves to another kernel thread it makes. */
static __thread pid_t last_tid;
static __thread long moved;
static void yield(void)
{
    sched_yield();
    pid_t now = kernel_tid();
    if (last_tid != 0 && now != last_tid)
        moved++;
    last_tid = now;
}

static void ctype_row(int c, int *row)
{
    row[0] = !!isalpha(c);
    row[1] = !!isdigit(c);
    row[2] = !!isspace(c);
    row[3] = !!ispunct(c);
    row[4] = !!isupper(c);
    row[5] = !!isprint(c);
    row[6] = toupper(c);
    row[7] = tolower(c);
}

static void format_number(char *buf, size_t size, const char *s)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    snprintf(buf, size, "%.17g %a %e %f %g %5.1f|%td|%d", d, d, d, d, d, d, end - s, errno);
}

/* The addresses getaddrinfo gives, as text, in order. */
static int gai_text(char *buf, size_t size)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    int err = getaddrinfo("localhost", "80", &hints, &res);
    if (err != 0)
        return err;
    size_t len = 0;
    buf[0] = '\0';
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        char host[64], serv[16];
        CHECK(getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof host, serv, sizeof serv,
                          NI_NUMERICHOST | NI_NUMERICSERV) == 0,
              "getnameinfo failed");
        len += (size_t)snprintf(buf + len, size - len, "%d/%d %s port %s; ", ai->ai_family, ai->ai_protocol, host,
                                serv);
        CHECK(len < size, "getaddrinfo: too many addresses");
    }
    freeaddrinfo(res);
    return 0;
}

/* The stack protector: arrays filled, a yield, then the checks on return. */
static __attribute__((noinline)) int local_array(int id, int depth)
{
    char buf[100];
    volatile char small[7];
    for (int i = 0; i < (int)sizeof buf; i++)
        buf[i] = (char)(id + i + depth);
    for (int i = 0; i < (int)sizeof small; i++)
        small[i] = (char)(id * depth + i);
    int sum = 0;
    if (depth > 0)
        sum = local_array(id, depth - 1);
    else
        yield();
    for (int i = 0; i < (int)sizeof buf; i++)
        CHECK(buf[i] == (char)(id + i + depth), "thread %d: local array changed at depth %d", id, depth);
    for (int i = 0; i < (int)sizeof small; i++)
        sum += small[i];
    return sum + buf[depth % 100];
}

static __attribute__((noinline)) void jump_from_deep(jmp_buf env, int depth, int val)
{
    char pad[32];
    memset(pad, depth, sizeof pad);
    __asm__ volatile("" : : "r"(pad) : "memory");
    if (depth == 0) {
        yield();
        longjmp(env, val);
    }
    /* Through a volatile pointer: gcc takes a recursion that only ends in
       a noreturn call for an infinite one. */
    void (*volatile again)(jmp_buf, int, int) = jump_from_deep;
    again(env, depth - 1, val);
}

static __attribute__((noinline)) void sigjump_from_deep(sigjmp_buf env, int depth, int val)
{
    char pad[32];
    memset(pad, depth, sizeof pad);
    __asm__ volatile("" : : "r"(pad) : "memory");
    if (depth == 0) {
        yield();
        siglongjmp(env, val);
    }
    /* Through a volatile pointer: gcc takes a recursion that only ends in
       a noreturn call for an infinite one. */
    void (*volatile again)(sigjmp_buf, int, int) = sigjump_from_deep;
    again(env, depth - 1, val);
}

static void jumps(int id)
{
    jmp_buf env;
    volatile int hits = 0;
    volatile int marker = id * 1000;
    int r = setjmp(env);
    if (r != 0) {
        CHECK(r == hits + 1, "thread %d: setjmp returned %d, expected %d", id, r, hits + 1);
        CHECK(marker == id * 1000 + hits, "thread %d: a volatile local lost its value", id);
        hits++;
        marker++;
    }
    if (hits < 5) {
        /* Yield between setjmp and longjmp, and again just before it. */
        yield();
        jump_from_deep(env, 3 + hits, hits + 1);
    }
    CHECK_EQ(hits, 5);

    /* longjmp with 0 makes setjmp return 1. */
    volatile int zero_seen = 0;
    switch (setjmp(env)) {
    case 0:
        jump_from_deep(env, 1, 0);
        break;
    case 1:
        zero_seen = 1;
        break;
    default:
        CHECK(0, "thread %d: longjmp(env, 0) made setjmp return neither 0 nor 1", id);
    }
    CHECK(zero_seen, "thread %d: longjmp(env, 0)", id);

    /* sigsetjmp without the mask. */
    sigjmp_buf senv;
    volatile int shits = 0;
    if (sigsetjmp(senv, 0) != 0)
        shits++;
    if (shits < 3)
        sigjump_from_deep(senv, 2, 7);
    CHECK_EQ(shits, 3);

    /* sigsetjmp with the mask: a signal blocked after it is unblocked by
       siglongjmp. The mask is changed and restored without a yield in
       between (masks belong to kernel threads under gpm). */
    sigset_t before, blocked, after;
    volatile int restored = 0;
    if (sigsetjmp(senv, 1) == 0) {
        yield();
        CHECK(pthread_sigmask(SIG_SETMASK, NULL, &before) == 0, "pthread_sigmask");
        CHECK(!sigismember(&before, SIGUSR2), "thread %d: SIGUSR2 blocked to begin with", id);
        sigemptyset(&blocked);
        sigaddset(&blocked, SIGUSR2);
        CHECK(pthread_sigmask(SIG_BLOCK, &blocked, NULL) == 0, "pthread_sigmask");
        siglongjmp(senv, 1);
    } else {
        restored = 1;
    }
    CHECK(pthread_sigmask(SIG_SETMASK, NULL, &after) == 0, "pthread_sigmask");
    CHECK(restored && !sigismember(&after, SIGUSR2), "thread %d: siglongjmp left SIGUSR2 blocked", id);
}

static void ctype_check(int id)
{
    for (int c = -1; c < 256; c++) {
        int row[8];
        ctype_row(c, row);
        CHECK(memcmp(row, ctype_ref[c + 1], sizeof row) == 0, "thread %d: ctype of %d differs from main's", id, c);
        if (c % 64 == 0)
            yield();
    }
    /* A locale of this thread's own. */
    const char e_acute[] = "\xc3\xa9";
    locale_t old = uselocale(utf8);
    CHECK(old == LC_GLOBAL_LOCALE, "thread %d: uselocale did not start from the global locale", id);
    for (int k = 0; k < 3; k++) {
        yield();
        CHECK(MB_CUR_MAX == 6, "thread %d: MB_CUR_MAX is %zu in C.UTF-8", id, MB_CUR_MAX);
        wchar_t wc = 0;
        mbstate_t st;
        memset(&st, 0, sizeof st);
        CHECK(mbrtowc(&wc, e_acute, 2, &st) == 2 && wc == 0xe9, "thread %d: mbrtowc in C.UTF-8", id);
        CHECK(uselocale(NULL) == utf8, "thread %d: uselocale(NULL) is not its own locale", id);
    }
    uselocale(LC_GLOBAL_LOCALE);
    CHECK(MB_CUR_MAX == 1, "thread %d: MB_CUR_MAX is %zu back in C", id, MB_CUR_MAX);
    wchar_t wc = 0;
    mbstate_t st;
    memset(&st, 0, sizeof st);
    CHECK((int)mbrtowc(&wc, e_acute, 2, &st) == mbrtowc_c_ref, "thread %d: mbrtowc in C differs from main", id);
}

static void strings_check(int id)
{
    for (int i = 0; errnums[i] != 0; i++) {
        CHECK(strcmp(strerror(errnums[i]), strerror_ref[i]) == 0, "thread %d: strerror(%d) is \"%s\"", id,
              errnums[i], strerror(errnums[i]));
        char buf[128];
        CHECK(strcmp(strerror_r(errnums[i], buf, sizeof buf), strerror_ref[i]) == 0, "thread %d: strerror_r(%d)",
              id, errnums[i]);
    }
    CHECK(strcmp(strsignal(SIGINT), strsignal_ref[0]) == 0, "thread %d: strsignal(SIGINT)", id);
    CHECK(strcmp(strsignal(SIGSEGV), strsignal_ref[1]) == 0, "thread %d: strsignal(SIGSEGV)", id);
    /* An unknown number: the string is built in a buffer of this thread's,
       which the others' calls must not overwrite. */
    char want[64];
    snprintf(want, sizeof want, "Unknown error %d", 100000 + id);
    char *mine = strerror(100000 + id);
    CHECK(strcmp(mine, want) == 0, "thread %d: strerror(%d) is \"%s\"", id, 100000 + id, mine);
    for (int k = 0; k < 4; k++)
        yield();
    CHECK(strcmp(mine, want) == 0, "thread %d: its strerror buffer now says \"%s\"", id, mine);
    /* The same for strsignal's buffer. */
    snprintf(want, sizeof want, "Unknown signal %d", 200 + id);
    mine = strsignal(200 + id);
    CHECK(strcmp(mine, want) == 0, "thread %d: strsignal(%d) is \"%s\"", id, 200 + id, mine);
    yield();
    CHECK(strcmp(mine, want) == 0, "thread %d: its strsignal buffer now says \"%s\"", id, mine);
    for (int i = 0; i < (int)NNUM; i++) {
        char buf[160];
        format_number(buf, sizeof buf, numbers[i]);
        CHECK(strcmp(buf, number_ref[i]) == 0, "thread %d: \"%s\" reads as \"%s\", main made \"%s\"", id,
              numbers[i], buf, number_ref[i]);
        yield();
    }
}

struct qctx {
    int id;
    long compares;
};

static int cmp_int(const void *a, const void *b, void *arg)
{
    struct qctx *q = arg;
    if (++q->compares % 64 == 0)
        yield();
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static void sort_check(int id)
{
    enum { N = 3000 };
    int *a = malloc(N * sizeof *a);
    CHECK(a != NULL, "malloc");
    unsigned seed = 12345u + (unsigned)id;
    for (int i = 0; i < N; i++)
        a[i] = i;
    for (int i = N - 1; i > 0; i--) {
        int j = rand_r(&seed) % (i + 1), t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
    struct qctx q = {id, 0};
    qsort_r(a, N, sizeof *a, cmp_int, &q);
    for (int i = 0; i < N; i++)
        CHECK(a[i] == i, "thread %d: qsort_r left %d at %d", id, a[i], i);
    CHECK(q.compares > N, "thread %d: only %ld compares", id, q.compares);
    free(a);

    /* rand_r: the same sequence as main's. */
    seed = 42;
    for (int i = 0; i < 100; i++) {
        CHECK(rand_r(&seed) == rand_ref[i], "thread %d: rand_r value %d differs", id, i);
        if (i % 25 == 0)
            yield();
    }
}

static void gai_check(int id)
{
    if (!have_gai)
        return;
    char buf[sizeof gai_ref];
    int err = gai_text(buf, sizeof buf);
    CHECK(err == 0, "thread %d: getaddrinfo(localhost): %s", id, gai_strerror(err));
    CHECK(strcmp(buf, gai_ref) == 0, "thread %d: getaddrinfo gave %s, main %s", id, buf, gai_ref);
}

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    last_tid = kernel_tid();
    /* A thread starts in the global locale, whatever the last thread that
       ended did. */
    CHECK(uselocale((locale_t)0) == LC_GLOBAL_LOCALE && MB_CUR_MAX == 1, "thread %d: starts in another locale",
          id);
    for (int round = 0; round < ROUNDS; round++) {
        void (*steps[])(int) = {jumps, ctype_check, strings_check, sort_check, gai_check};
        for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
            /* Each thread starts at a different step. */
            steps[(s + (size_t)id) % (sizeof steps / sizeof steps[0])](id);
            (void)local_array(id, 16);
            yield();
        }
    }
    atomic_fetch_add(&migrations, moved);
    /* Half of them end in a locale of their own. */
    if (id % 2)
        uselocale(utf8);
    return NULL;
}

/* Runs in a forked child's thread: overruns buf past the canary. */
static volatile int overrun_len = 48;
static __attribute__((noinline)) void smash(void)
{
    char buf[16];
    sched_yield();
    for (int i = 0; i < overrun_len; i++)
        ((volatile char *)buf)[i] = 'x';
}

static void *smasher(void *arg)
{
    smash();
    return arg;
}

static void stack_protector_fires(void)
{
    fflush(stdout); /* the child must not print it again */
    pid_t pid = fork();
    CHECK(pid >= 0, "fork failed");
    if (pid == 0) {
        /* Quiet "*** stack smashing detected ***". */
        setenv("LIBC_FATAL_STDERR_", "1", 1);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 2);
        pthread_t t;
        if (pthread_create(&t, NULL, smasher, NULL) != 0)
            _exit(3);
        pthread_join(t, NULL);
        _exit(4); /* the canary was not checked */
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
          "the thread that overran its stack array did not abort (status %#x)", status);
}

int main(void)
{
    CHECK(setlocale(LC_ALL, "C") != NULL, "setlocale");
    for (int c = -1; c < 256; c++)
        ctype_row(c, ctype_ref[c + 1]);
    for (int i = 0; errnums[i] != 0; i++)
        snprintf(strerror_ref[i], sizeof strerror_ref[i], "%s", strerror(errnums[i]));
    snprintf(strsignal_ref[0], sizeof strsignal_ref[0], "%s", strsignal(SIGINT));
    snprintf(strsignal_ref[1], sizeof strsignal_ref[1], "%s", strsignal(SIGSEGV));
    for (size_t i = 0; i < NNUM; i++)
        format_number(number_ref[i], sizeof number_ref[i], numbers[i]);
    const char *pi = "3.14159265358979 0x1.921fb54442d11p+1 3.141593e+00 3.141593 3.14159   3.1|16|0";
    CHECK(strcmp(number_ref[0], pi) == 0, "strtod/printf in main: %s", number_ref[0]);
    unsigned seed = 42;
    for (int i = 0; i < 100; i++)
        rand_ref[i] = rand_r(&seed);
    {
        wchar_t wc;
        mbstate_t st;
        memset(&st, 0, sizeof st);
        mbrtowc_c_ref = (int)mbrtowc(&wc, "\xc3\xa9", 2, &st);
    }
    utf8 = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
    CHECK(utf8 != (locale_t)0, "newlocale(C.UTF-8) failed");
    int err = gai_text(gai_ref, sizeof gai_ref);
    have_gai = err == 0;
    if (have_gai)
        CHECK(gai_ref[0] != '\0', "getaddrinfo(localhost) succeeded with no address");
    if (!have_gai)
        printf("note: getaddrinfo(localhost) fails in main (%s): not checked in threads\n", gai_strerror(err));

    /* Two batches of threads (the second may reuse what the first left:
       stacks, TLS, buffers); under gpm with several Ps, more until threads
       have moved between kernel threads, at most 100. */
    const char *procs = getenv("GPM_MAXPROCS");
    int want_moves = under_gpm() && procs != NULL && atoi(procs) > 1;
    int batches = 0;
    do {
        pthread_t t[NT];
        for (int i = 0; i < NT; i++)
            CHECK_EQ(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i), 0);
        /* main meanwhile: its own strerror buffer and locale. */
        char *mine = strerror(99999);
        for (int k = 0; k < 20; k++) {
            sched_yield();
            CHECK(MB_CUR_MAX == 1, "main: MB_CUR_MAX is %zu", MB_CUR_MAX);
        }
        CHECK(strcmp(mine, "Unknown error 99999") == 0, "main: its strerror buffer now says \"%s\"", mine);
        for (int i = 0; i < NT; i++)
            CHECK_EQ(pthread_join(t[i], NULL), 0);
        batches++;
    } while (batches < 2 || (want_moves && atomic_load(&migrations) < 20 && batches < 100));
    if (want_moves)
        CHECK(atomic_load(&migrations) > 0, "no thread ever moved to another kernel thread");
    freelocale(utf8);

    stack_protector_fires();
    printf("%d x %d threads x %d rounds: canaries, setjmp/longjmp, sigsetjmp, ctype, locales, strerror, "
           "strtod/printf, %sqsort_r, rand_r as in main (%ld migrations); an overrun aborts\n",
           batches, NT, ROUNDS, have_gai ? "getaddrinfo, " : "", atomic_load(&migrations));
    return 0;
}
