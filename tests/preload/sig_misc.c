/*
 * Signal delivery details a thread relies on (issue 9), one case each:
 *   pause        pause() in main returns -1/EINTR after alarm(1)'s SIGALRM
 *                handler ran (in main: the only thread that does not block
 *                SIGALRM; a helper re-arms the alarm every 3 s in case the
 *                first expired before main got into pause);
 *   sleep_eintr  nanosleep(2 s) and clock_nanosleep(CLOCK_MONOTONIC, 2 s),
 *                interrupted after about 100 ms by another thread's
 *                pthread_kill (handler without SA_RESTART), return EINTR
 *                with the remaining time (2 s minus the time asleep, give
 *                or take the timer slack);
 *   sem_eintr    sem_wait and sem_clockwait on a semaphore nobody posts
 *                return -1/EINTR when a handler installed without
 *                SA_RESTART interrupts them;
 *   altstack     two threads each set an alternate stack of their own with
 *                sigaltstack; the SA_ONSTACK handler, sent to each with
 *                pthread_kill, runs in that thread on that thread's stack
 *                (a local variable's address lies in it; sigaltstack
 *                reports SS_ONSTACK);
 *   sigqueue     pthread_sigqueue's value reaches the target thread's
 *                SA_SIGINFO handler in si_value (si_code SI_QUEUE, si_pid
 *                ours); five queued while the target blocks the real-time
 *                signal are all delivered, in order, when it unblocks it;
 *                sigqueue(getpid()) reaches the one thread not blocking it;
 *   resethand    SA_RESETHAND: the handler runs once, after which the
 *                disposition is SIG_DFL;
 *   nodefer      a handler that sends its signal to its own thread again:
 *                with SA_NODEFER the second run nests inside the first; by
 *                default it runs after the first returns.
 * "Until it returns" waits resend the signal every 20 ms (the sender cannot
 * know the target is already inside the call), so none depends on timing;
 * the watchdog (watchdog.h) names a case that hangs. Argument: one case
 * name, or none for all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "timing.h"
#include "watchdog.h"

#define MS 1000000L

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * MS};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void set_handler(int sig, void (*fn)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    CHECK_EQ(sigaction(sig, &sa, NULL), 0);
}

static void set_action(int sig, void (*fn)(int, siginfo_t *, void *), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = flags | SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    CHECK_EQ(sigaction(sig, &sa, NULL), 0);
}

static void mask(int how, int sig)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    CHECK_EQ(pthread_sigmask(how, &s, NULL), 0);
}

static pthread_t target;
static _Atomic int hits, wrong_thread, done, ready;

static void on_sig(int sig)
{
    (void)sig;
    if (!pthread_equal(pthread_self(), target))
        atomic_fetch_add(&wrong_thread, 1);
    atomic_fetch_add(&hits, 1);
}

/* Starts fn as `target`; the global is set before fn runs. */
static pthread_mutex_t start_mu = PTHREAD_MUTEX_INITIALIZER;

static void *trampoline(void *arg)
{
    pthread_mutex_lock(&start_mu);
    pthread_mutex_unlock(&start_mu);
    void *(*fn)(void) = (void *(*)(void))arg;
    return fn();
}

static void start_target(void *(*fn)(void))
{
    atomic_store(&hits, 0);
    atomic_store(&done, 0);
    atomic_store(&ready, 0);
    pthread_mutex_lock(&start_mu);
    CHECK_EQ(pthread_create(&target, NULL, trampoline, (void *)fn), 0);
    pthread_mutex_unlock(&start_mu);
}

/* Waits for the target's `ready`, then `first_ms`, then sends sig every
   20 ms until the target sets `done`. */
static void pester(int sig, long first_ms)
{
    while (!atomic_load(&ready))
        sched_yield();
    sleep_ms(first_ms);
    while (!atomic_load(&done)) {
        CHECK_EQ(pthread_kill(target, sig), 0);
        sleep_ms(20);
    }
}

/* ---- pause ---- */

static _Atomic int alarm_hits, paused_done;
static pthread_t main_thread;

static void on_alarm(int sig)
{
    (void)sig;
    if (!pthread_equal(pthread_self(), main_thread))
        atomic_fetch_add(&wrong_thread, 1);
    atomic_fetch_add(&alarm_hits, 1);
}

static void *rearm(void *arg)
{
    (void)arg;
    for (;;) {
        for (int i = 0; i < 300; i++) {
            if (atomic_load(&paused_done))
                return NULL;
            sleep_ms(10);
        }
        alarm(1);
    }
}

static void case_pause(void)
{
    main_thread = pthread_self();
    set_handler(SIGALRM, on_alarm, 0);
    mask(SIG_BLOCK, SIGALRM);
    pthread_t h;
    CHECK_EQ(pthread_create(&h, NULL, rearm, NULL), 0); /* inherits the block */
    mask(SIG_UNBLOCK, SIGALRM);
    alarm(1);
    int r = pause();
    int e = errno;
    atomic_store(&paused_done, 1);
    CHECK_EQ(pthread_join(h, NULL), 0);
    CHECK_EQ(r, -1);
    CHECK_EQ(e, EINTR);
    CHECK(atomic_load(&alarm_hits) >= 1, "pause returned but the SIGALRM handler did not run");
    CHECK_EQ(atomic_load(&wrong_thread), 0);
    alarm(0);
    signal(SIGALRM, SIG_DFL);
}

/* ---- sleep_eintr ---- */

static int64_t rem_ns, elapsed_ns;
static long sleep_ret;
static int sleep_err;
static int use_clock_nanosleep;

static void *sleeper(void)
{
    struct timespec req = {2, 0}, rem = {-1, -1};
    atomic_store(&ready, 1);
    int64_t t0 = ns(now(CLOCK_MONOTONIC));
    if (use_clock_nanosleep) {
        sleep_err = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem);
        sleep_ret = sleep_err ? -1 : 0;
    } else {
        sleep_ret = nanosleep(&req, &rem);
        sleep_err = errno;
    }
    elapsed_ns = ns(now(CLOCK_MONOTONIC)) - t0;
    rem_ns = ns(rem);
    atomic_store(&done, 1);
    return NULL;
}

static void case_sleep_eintr(void)
{
    set_handler(SIGUSR1, on_sig, 0);
    for (use_clock_nanosleep = 0; use_clock_nanosleep < 2; use_clock_nanosleep++) {
        const char *what = use_clock_nanosleep ? "clock_nanosleep" : "nanosleep";
        wd_step(15, "sleep_eintr: %s", what);
        start_target(sleeper);
        pester(SIGUSR1, 100);
        CHECK_EQ(pthread_join(target, NULL), 0);
        CHECK(atomic_load(&hits) >= 1, "%s: the handler did not run", what);
        CHECK_EQ(atomic_load(&wrong_thread), 0);
        CHECK(sleep_ret == -1 && sleep_err == EINTR, "%s returned %ld, error %d, after %lld ms", what, sleep_ret,
              sleep_err, (long long)(elapsed_ns / MS));
        CHECK(rem_ns > 0 && rem_ns <= 2000 * MS + 10 * MS, "%s: remaining %lld ns", what, (long long)rem_ns);
        CHECK(rem_ns >= 2000 * MS - elapsed_ns - 50 * MS, "%s: remaining %lld ns after %lld ns asleep", what,
              (long long)rem_ns, (long long)elapsed_ns);
    }
}

/* ---- sem_eintr ---- */

static sem_t never;
static int sem_ret, sem_err, use_clockwait;

static void *sem_waiter(void)
{
    atomic_store(&ready, 1);
    if (use_clockwait) {
        struct timespec dl = add_ms(now(CLOCK_MONOTONIC), 60000);
        sem_ret = sem_clockwait(&never, CLOCK_MONOTONIC, &dl);
    } else {
        sem_ret = sem_wait(&never);
    }
    sem_err = errno;
    atomic_store(&done, 1);
    return NULL;
}

static void case_sem_eintr(void)
{
    set_handler(SIGUSR1, on_sig, 0);
    CHECK_EQ(sem_init(&never, 0, 0), 0);
    for (use_clockwait = 0; use_clockwait < 2; use_clockwait++) {
        const char *what = use_clockwait ? "sem_clockwait" : "sem_wait";
        wd_step(15, "sem_eintr: %s", what);
        start_target(sem_waiter);
        pester(SIGUSR1, 20);
        CHECK_EQ(pthread_join(target, NULL), 0);
        CHECK(atomic_load(&hits) >= 1, "%s: the handler did not run", what);
        CHECK_EQ(atomic_load(&wrong_thread), 0);
        CHECK(sem_ret == -1 && sem_err == EINTR, "%s returned %d, errno %d", what, sem_ret, sem_err);
    }
    CHECK_EQ(sem_destroy(&never), 0);
}

/* ---- altstack ---- */

#define ALT_SIZE (64 * 1024)

struct alt {
    pthread_t self;
    char *stack;
    _Atomic int ready, handled, on_it, onstack_flag, wrong;
};
static struct alt alts[2];
static __thread struct alt *my_alt;

static void on_alt(int sig)
{
    (void)sig;
    volatile char local = 0;
    struct alt *a = my_alt;
    if (a == NULL || !pthread_equal(pthread_self(), a->self)) {
        if (a != NULL)
            atomic_store(&a->wrong, 1);
        return;
    }
    uintptr_t p = (uintptr_t)&local, lo = (uintptr_t)a->stack;
    atomic_store(&a->on_it, p >= lo && p < lo + ALT_SIZE);
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0)
        atomic_store(&a->onstack_flag, (cur.ss_flags & SS_ONSTACK) != 0);
    atomic_store(&a->handled, 1);
}

static void *alt_thread(void *arg)
{
    struct alt *a = arg;
    my_alt = a;
    stack_t ss = {.ss_sp = a->stack, .ss_size = ALT_SIZE, .ss_flags = 0};
    CHECK_EQ(sigaltstack(&ss, NULL), 0);
    stack_t back;
    CHECK_EQ(sigaltstack(NULL, &back), 0);
    CHECK(back.ss_sp == a->stack && back.ss_size == ALT_SIZE && !(back.ss_flags & SS_ONSTACK),
          "sigaltstack reads back sp %p size %zu flags %d", back.ss_sp, back.ss_size, back.ss_flags);
    atomic_store(&a->ready, 1);
    while (!atomic_load(&a->handled))
        sleep_ms(1);
    return NULL;
}

static void case_altstack(void)
{
    set_handler(SIGUSR2, on_alt, SA_ONSTACK | SA_RESTART);
    for (int i = 0; i < 2; i++) {
        alts[i].stack = malloc(ALT_SIZE);
        CHECK(alts[i].stack != NULL, "malloc");
    }
    pthread_mutex_lock(&start_mu);
    for (int i = 0; i < 2; i++)
        CHECK_EQ(pthread_create(&alts[i].self, NULL, alt_thread, &alts[i]), 0);
    pthread_mutex_unlock(&start_mu);
    for (int i = 0; i < 2; i++) {
        while (!atomic_load(&alts[i].ready))
            sched_yield();
        CHECK_EQ(pthread_kill(alts[i].self, SIGUSR2), 0);
    }
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(pthread_join(alts[i].self, NULL), 0);
        CHECK(!atomic_load(&alts[i].wrong), "thread %d's handler ran in another thread", i);
        CHECK(atomic_load(&alts[i].on_it), "thread %d's handler did not run on its own alternate stack", i);
        CHECK(atomic_load(&alts[i].onstack_flag), "thread %d: sigaltstack in the handler does not say SS_ONSTACK",
              i);
        free(alts[i].stack);
    }
}

/* ---- sigqueue ---- */

static _Atomic int q_vals[16], q_n, q_bad;

static void on_queued(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    if (!pthread_equal(pthread_self(), target) || si->si_code != SI_QUEUE || si->si_pid != getpid())
        atomic_fetch_add(&q_bad, 1);
    int n = atomic_fetch_add(&q_n, 1);
    if (n < 16)
        atomic_store(&q_vals[n], si->si_value.sival_int);
}

static sem_t q_go;

static void *queue_target(void)
{
    atomic_store(&ready, 1);
    while (sem_wait(&q_go) != 0)
        CHECK_EQ(errno, EINTR);
    mask(SIG_UNBLOCK, SIGRTMIN); /* the five queued ones are delivered now */
    while (sem_wait(&q_go) != 0)
        CHECK_EQ(errno, EINTR);
    mask(SIG_UNBLOCK, SIGRTMIN + 1);
    while (atomic_load(&q_n) < 6)
        sleep_ms(1);
    atomic_store(&done, 1);
    return NULL;
}

static void case_sigqueue(void)
{
    set_action(SIGRTMIN, on_queued, SA_RESTART);
    set_action(SIGRTMIN + 1, on_queued, SA_RESTART);
    CHECK_EQ(sem_init(&q_go, 0, 0), 0);
    mask(SIG_BLOCK, SIGRTMIN);
    mask(SIG_BLOCK, SIGRTMIN + 1);
    start_target(queue_target); /* starts with both blocked */
    while (!atomic_load(&ready))
        sched_yield();
    for (int i = 1; i <= 5; i++)
        CHECK_EQ(pthread_sigqueue(target, SIGRTMIN, (union sigval){.sival_int = 100 + i}), 0);
    CHECK_EQ(sem_post(&q_go), 0);
    while (atomic_load(&q_n) < 5)
        sleep_ms(1);
    CHECK_EQ(sem_post(&q_go), 0);
    CHECK_EQ(sigqueue(getpid(), SIGRTMIN + 1, (union sigval){.sival_int = 4242}), 0);
    CHECK_EQ(pthread_join(target, NULL), 0);
    CHECK_EQ(atomic_load(&q_bad), 0);
    CHECK_EQ(atomic_load(&q_n), 6);
    for (int i = 0; i < 5; i++)
        CHECK_EQ(atomic_load(&q_vals[i]), 101 + i);
    CHECK_EQ(atomic_load(&q_vals[5]), 4242);
    mask(SIG_UNBLOCK, SIGRTMIN);
    mask(SIG_UNBLOCK, SIGRTMIN + 1);
}

/* ---- resethand, nodefer ---- */

static _Atomic int depth, max_depth, runs;

static void on_reset(int sig)
{
    (void)sig;
    if (!pthread_equal(pthread_self(), target))
        atomic_fetch_add(&wrong_thread, 1);
    atomic_fetch_add(&runs, 1);
}

static void *wait_one_run(void)
{
    atomic_store(&ready, 1);
    while (atomic_load(&runs) == 0)
        sleep_ms(1);
    struct sigaction now_sa;
    CHECK_EQ(sigaction(SIGUSR2, NULL, &now_sa), 0);
    atomic_store(&done, 1);
    return (void *)(now_sa.sa_handler == SIG_DFL ? 1L : 0L);
}

static void case_resethand(void)
{
    atomic_store(&runs, 0);
    set_handler(SIGUSR2, on_reset, SA_RESETHAND);
    start_target(wait_one_run);
    while (!atomic_load(&ready))
        sched_yield();
    CHECK_EQ(pthread_kill(target, SIGUSR2), 0);
    void *dfl;
    CHECK_EQ(pthread_join(target, &dfl), 0);
    CHECK_EQ(atomic_load(&runs), 1);
    CHECK_EQ(atomic_load(&wrong_thread), 0);
    CHECK((long)dfl == 1, "SA_RESETHAND: the disposition is not SIG_DFL after the handler ran");
    signal(SIGUSR2, SIG_IGN);
}

static void on_nest(int sig)
{
    if (!pthread_equal(pthread_self(), target))
        atomic_fetch_add(&wrong_thread, 1);
    int d = atomic_fetch_add(&depth, 1) + 1;
    if (d > atomic_load(&max_depth))
        atomic_store(&max_depth, d);
    if (atomic_fetch_add(&runs, 1) == 0)
        pthread_kill(pthread_self(), sig); /* with SA_NODEFER, taken here and now */
    atomic_fetch_sub(&depth, 1);
}

static void *wait_two_runs(void)
{
    atomic_store(&ready, 1);
    while (atomic_load(&runs) < 2)
        sleep_ms(1);
    atomic_store(&done, 1);
    return NULL;
}

static void case_nodefer(void)
{
    for (int nodefer = 0; nodefer < 2; nodefer++) {
        wd_step(15, "nodefer: %s", nodefer ? "SA_NODEFER" : "default");
        atomic_store(&runs, 0);
        atomic_store(&depth, 0);
        atomic_store(&max_depth, 0);
        set_handler(SIGUSR2, on_nest, nodefer ? SA_NODEFER : 0);
        start_target(wait_two_runs);
        while (!atomic_load(&ready))
            sched_yield();
        CHECK_EQ(pthread_kill(target, SIGUSR2), 0);
        CHECK_EQ(pthread_join(target, NULL), 0);
        CHECK_EQ(atomic_load(&runs), 2);
        CHECK_EQ(atomic_load(&wrong_thread), 0);
        CHECK_EQ(atomic_load(&max_depth), nodefer ? 2 : 1);
    }
    signal(SIGUSR2, SIG_IGN);
}

static const struct wd_case cases[] = {
    {"pause", case_pause},       {"sleep_eintr", case_sleep_eintr}, {"sem_eintr", case_sem_eintr},
    {"altstack", case_altstack}, {"sigqueue", case_sigqueue},       {"resethand", case_resethand},
    {"nodefer", case_nodefer},
};

int main(int argc, char **argv)
{
    wd_start();
    int ran = wd_run_cases(cases, sizeof cases / sizeof cases[0], argc, argv, 15, "signal details");
    CHECK(ran > 0, "no case named %s", argv[1]);
    printf("signal delivery details: %d case(s) (%s)\n", ran, test_mode());
    return 0;
}
