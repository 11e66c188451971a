/*
 * Signal masks and pending sets are per thread (issue 9):
 *   route    4 workers and main block SIGUSR1; in each of 100 rounds one
 *            worker (a different one each round) unblocks it and main sends
 *            kill(getpid(), SIGUSR1): the handler runs in that worker, and
 *            only there, since the kernel (and POSIX) may deliver a
 *            process-directed signal only to a thread that does not block
 *            it;
 *   pending  a signal pthread_kill'ed to a thread that blocks it is in that
 *            thread's sigpending only (not in another thread's, nor
 *            main's); one sent with kill(getpid()) while every thread
 *            blocks it is pending for the process and shows in every
 *            thread's sigpending; a new thread does not inherit its
 *            creator's pending signals; sigtimedwait takes each;
 *   manymasks  90 threads with 90 different masks (more than gpm's table
 *            of mask classes holds, so that some are counted per signal):
 *            a process-directed SIGUSR1 goes to the one thread that does
 *            not block it, whether its mask has a class or not, and stays
 *            pending for the process while every thread blocks it; after
 *            the only thread not blocking SIGUSR2 exits, a SIGUSR2 stays
 *            pending too;
 *   inherit  a new thread starts with its creator's mask; a thread's
 *            pthread_sigmask changes only its own mask;
 *            pthread_attr_setsigmask_np (glibc 2.32+) gives the new thread
 *            exactly the attribute's mask, and pthread_attr_getsigmask_np
 *            returns it.
 * Handshakes (semaphores) only; the watchdog (watchdog.h) names a step that
 * hangs. Argument: one case name, or none for all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "watchdog.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void sem_wait_all(sem_t *s)
{
    while (sem_wait(s) != 0)
        CHECK_EQ(errno, EINTR);
}

static void block(int how, int sig)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    CHECK_EQ(pthread_sigmask(how, &s, NULL), 0);
}

static int blocked(int sig)
{
    sigset_t s;
    CHECK_EQ(pthread_sigmask(SIG_BLOCK, NULL, &s), 0);
    return sigismember(&s, sig);
}

static int is_pending(int sig)
{
    sigset_t s;
    CHECK_EQ(sigpending(&s), 0);
    return sigismember(&s, sig);
}

/* Takes a pending blocked sig at once; fails if it is not pending. */
static void take(int sig)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    struct timespec zero = {0, 0};
    CHECK_EQ(sigtimedwait(&s, NULL, &zero), sig);
}

/* ---- route ---- */

#define NW 4
#define ROUNDS 100

static pthread_t workers[NW];
static _Atomic pthread_t handled_by;
static _Atomic int handled;
static sem_t go[NW], unblocked, done;
static _Atomic int round_no;

static void on_usr1(int sig)
{
    (void)sig;
    atomic_store(&handled_by, pthread_self());
    atomic_fetch_add(&handled, 1);
}

/* Installs h for sig, restarting interrupted calls. */
static void handle(int sig, void (*h)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sa.sa_flags = SA_RESTART;
    CHECK_EQ(sigaction(sig, &sa, NULL), 0);
}

static void *route_worker(void *arg)
{
    int me = (int)(long)arg;
    CHECK(blocked(SIGUSR1), "worker %d: SIGUSR1 not blocked at start (the creator's mask)", me);
    for (;;) {
        sem_wait_all(&go[me]);
        if (atomic_load(&round_no) >= ROUNDS)
            return NULL;
        int before = atomic_load(&handled);
        block(SIG_UNBLOCK, SIGUSR1);
        CHECK_EQ(sem_post(&unblocked), 0);
        while (atomic_load(&handled) == before)
            sleep_ms(1);
        block(SIG_BLOCK, SIGUSR1);
        CHECK_EQ(sem_post(&done), 0);
    }
}

static void case_route(void)
{
    handle(SIGUSR1, on_usr1);
    block(SIG_BLOCK, SIGUSR1);
    CHECK_EQ(sem_init(&unblocked, 0, 0), 0);
    CHECK_EQ(sem_init(&done, 0, 0), 0);
    atomic_store(&round_no, 0);
    for (int i = 0; i < NW; i++) {
        CHECK_EQ(sem_init(&go[i], 0, 0), 0);
        CHECK_EQ(pthread_create(&workers[i], NULL, route_worker, (void *)(long)i), 0);
    }
    for (int r = 0; r < ROUNDS; r++) {
        int w = (r * 3 + r / NW) % NW; /* every worker, in changing order */
        wd_step(15, "route: round %d, worker %d", r, w);
        atomic_store(&round_no, r);
        CHECK_EQ(sem_post(&go[w]), 0);
        sem_wait_all(&unblocked);
        CHECK_EQ(kill(getpid(), SIGUSR1), 0);
        sem_wait_all(&done);
        CHECK(pthread_equal(atomic_load(&handled_by), workers[w]),
              "round %d: SIGUSR1 was handled by another thread than worker %d, the only one not blocking it", r, w);
        CHECK(!is_pending(SIGUSR1), "round %d: SIGUSR1 still pending", r);
    }
    CHECK_EQ(atomic_load(&handled), ROUNDS);
    atomic_store(&round_no, ROUNDS);
    for (int i = 0; i < NW; i++) {
        CHECK_EQ(sem_post(&go[i]), 0);
        CHECK_EQ(pthread_join(workers[i], NULL), 0);
    }
    block(SIG_UNBLOCK, SIGUSR1);
}

/* ---- manymasks ---- */

#define NM 90
#define NRT 8 /* SIGRTMIN+1.. SIGRTMIN+NRT: bits of the thread's number */

static pthread_t mm[NM];
static sem_t mmready, mmgo[NM], mmack;
static _Atomic int mmexit;

static void *mm_worker(void *arg)
{
    int me = (int)(long)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    if (me != NM - 1)
        sigaddset(&s, SIGUSR2); /* the last thread alone takes SIGUSR2 */
    for (int b = 0; b < NRT; b++)
        if (me & (1 << b))
            sigaddset(&s, SIGRTMIN + 1 + b);
    CHECK_EQ(pthread_sigmask(SIG_SETMASK, &s, NULL), 0);
    CHECK_EQ(sem_post(&mmready), 0);
    for (;;) {
        sem_wait_all(&mmgo[me]);
        if (atomic_load(&mmexit))
            return NULL;
        /* Unblock SIGUSR1 until main has seen it handled, then block it. */
        block(SIG_UNBLOCK, SIGUSR1);
        CHECK_EQ(sem_post(&mmack), 0);
        sem_wait_all(&mmgo[me]);
        block(SIG_BLOCK, SIGUSR1);
        CHECK_EQ(sem_post(&mmack), 0);
    }
}

static void case_manymasks(void)
{
    handle(SIGUSR1, on_usr1);
    handle(SIGUSR2, on_usr1);
    sigset_t orig, s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigaddset(&s, SIGUSR2);
    CHECK_EQ(pthread_sigmask(SIG_BLOCK, &s, &orig), 0);
    CHECK_EQ(sem_init(&mmready, 0, 0), 0);
    CHECK_EQ(sem_init(&mmack, 0, 0), 0);
    atomic_store(&mmexit, 0);
    for (int i = 0; i < NM; i++) {
        CHECK_EQ(sem_init(&mmgo[i], 0, 0), 0);
        CHECK_EQ(pthread_create(&mm[i], NULL, mm_worker, (void *)(long)i), 0);
    }
    for (int i = 0; i < NM; i++)
        sem_wait_all(&mmready);
    /* Threads early and late in creation order: with classes given out in
       order of first use, the late ones are past a table of 64. */
    const int open[] = {3, 40, 70, 88, 7, 89};
    for (size_t k = 0; k < sizeof open / sizeof open[0]; k++) {
        int w = open[k];
        wd_step(15, "manymasks: SIGUSR1 to the process, thread %d alone not blocking it", w);
        int before = atomic_load(&handled);
        CHECK_EQ(sem_post(&mmgo[w]), 0);
        sem_wait_all(&mmack);
        CHECK_EQ(kill(getpid(), SIGUSR1), 0);
        while (atomic_load(&handled) == before)
            sleep_ms(1);
        CHECK(pthread_equal(atomic_load(&handled_by), mm[w]), "SIGUSR1 was handled by another thread than %d", w);
        CHECK_EQ(sem_post(&mmgo[w]), 0);
        sem_wait_all(&mmack);
        /* Every thread blocks it again: pending for the process. */
        wd_step(15, "manymasks: SIGUSR1 blocked by all after thread %d", w);
        CHECK_EQ(kill(getpid(), SIGUSR1), 0);
        CHECK(is_pending(SIGUSR1), "SIGUSR1 blocked by every thread is not pending");
        take(SIGUSR1);
        CHECK_EQ(atomic_load(&handled), before + 1);
    }
    /* The one thread that does not block SIGUSR2 exits: then all do. */
    wd_step(15, "manymasks: SIGUSR2 after its only taker exited");
    atomic_store(&mmexit, 1);
    CHECK_EQ(sem_post(&mmgo[NM - 1]), 0);
    CHECK_EQ(pthread_join(mm[NM - 1], NULL), 0);
    int before = atomic_load(&handled);
    CHECK_EQ(kill(getpid(), SIGUSR2), 0);
    sleep_ms(20);
    CHECK_EQ(atomic_load(&handled), before);
    CHECK(is_pending(SIGUSR2), "SIGUSR2 blocked by every thread left is not pending");
    take(SIGUSR2);
    for (int i = 0; i < NM - 1; i++) {
        CHECK_EQ(sem_post(&mmgo[i]), 0);
        CHECK_EQ(pthread_join(mm[i], NULL), 0);
    }
    CHECK_EQ(pthread_sigmask(SIG_SETMASK, &orig, NULL), 0);
    handle(SIGUSR2, SIG_DFL);
}

/* ---- pending ---- */

static sem_t step_a, step_b, ack;

static void *pend_a(void *arg)
{
    (void)arg;
    sem_wait_all(&step_a); /* main has pthread_kill'ed us SIGUSR2 */
    CHECK(is_pending(SIGUSR2), "the target does not see the SIGUSR2 sent to it as pending");
    take(SIGUSR2);
    CHECK(!is_pending(SIGUSR2), "SIGUSR2 still pending after sigtimedwait");
    CHECK_EQ(sem_post(&ack), 0);
    sem_wait_all(&step_a); /* main has sent SIGUSR2 to the process */
    CHECK(is_pending(SIGUSR2), "a process-pending SIGUSR2 does not show in thread A's sigpending");
    CHECK_EQ(sem_post(&ack), 0);
    return NULL;
}

static void *pend_b(void *arg)
{
    (void)arg;
    sem_wait_all(&step_b); /* main has pthread_kill'ed A SIGUSR2 */
    CHECK(!is_pending(SIGUSR2), "SIGUSR2 sent to thread A shows as pending in thread B");
    CHECK_EQ(sem_post(&ack), 0);
    sem_wait_all(&step_b); /* main has sent SIGUSR2 to the process */
    CHECK(is_pending(SIGUSR2), "a process-pending SIGUSR2 does not show in thread B's sigpending");
    CHECK_EQ(sem_post(&ack), 0);
    return NULL;
}

static void *pend_new(void *arg)
{
    (void)arg;
    CHECK(blocked(SIGUSR2), "new thread: SIGUSR2 not blocked (the creator's mask)");
    return (void *)(long)is_pending(SIGUSR2);
}

static void case_pending(void)
{
    block(SIG_BLOCK, SIGUSR2);
    CHECK(!is_pending(SIGUSR2), "SIGUSR2 pending to begin with");
    CHECK_EQ(sem_init(&step_a, 0, 0), 0);
    CHECK_EQ(sem_init(&step_b, 0, 0), 0);
    CHECK_EQ(sem_init(&ack, 0, 0), 0);
    pthread_t a, b, c;
    CHECK_EQ(pthread_create(&a, NULL, pend_a, NULL), 0);
    CHECK_EQ(pthread_create(&b, NULL, pend_b, NULL), 0);

    wd_step(15, "pending: thread-directed SIGUSR2 to A");
    CHECK_EQ(pthread_kill(a, SIGUSR2), 0);
    CHECK(!is_pending(SIGUSR2), "SIGUSR2 sent to thread A shows as pending in main");
    CHECK_EQ(sem_post(&step_b), 0);
    sem_wait_all(&ack);
    CHECK_EQ(sem_post(&step_a), 0);
    sem_wait_all(&ack);

    wd_step(15, "pending: process-directed SIGUSR2, blocked everywhere");
    CHECK_EQ(kill(getpid(), SIGUSR2), 0);
    CHECK(is_pending(SIGUSR2), "a process-pending SIGUSR2 does not show in main's sigpending");
    CHECK_EQ(sem_post(&step_a), 0);
    sem_wait_all(&ack);
    CHECK_EQ(sem_post(&step_b), 0);
    sem_wait_all(&ack);
    take(SIGUSR2);
    CHECK(!is_pending(SIGUSR2), "SIGUSR2 still pending after main took it");
    CHECK_EQ(pthread_join(a, NULL), 0);
    CHECK_EQ(pthread_join(b, NULL), 0);

    wd_step(15, "pending: a new thread does not inherit its creator's pending SIGUSR2");
    CHECK_EQ(pthread_kill(pthread_self(), SIGUSR2), 0);
    CHECK(is_pending(SIGUSR2), "SIGUSR2 sent to self is not pending");
    void *inherited;
    CHECK_EQ(pthread_create(&c, NULL, pend_new, NULL), 0);
    CHECK_EQ(pthread_join(c, &inherited), 0);
    CHECK((long)inherited == 0, "the new thread started with its creator's pending SIGUSR2");
    take(SIGUSR2);
    block(SIG_UNBLOCK, SIGUSR2);
}

/* ---- inherit ---- */

static sigset_t seen;

static void *report_mask(void *arg)
{
    (void)arg;
    CHECK_EQ(pthread_sigmask(SIG_BLOCK, NULL, &seen), 0);
    /* this thread's change is its own */
    block(SIG_BLOCK, SIGRTMIN + 5);
    CHECK(blocked(SIGRTMIN + 5), "pthread_sigmask did not block SIGRTMIN+5 in the thread");
    return NULL;
}

/* The signals a program can block (not SIGKILL/SIGSTOP, not glibc's two
   internal ones, which pthread_sigmask never reports). */
static int user_signal(int s)
{
    return s != SIGKILL && s != SIGSTOP && (s < 32 || s >= SIGRTMIN);
}

static void same_mask(const sigset_t *want, const sigset_t *got, const char *what)
{
    for (int s = 1; s < NSIG; s++)
        if (user_signal(s))
            CHECK(sigismember(want, s) == sigismember(got, s), "%s: signal %d is %s", what, s,
                  sigismember(got, s) ? "blocked" : "not blocked");
}

static void case_inherit(void)
{
    sigset_t orig, m;
    CHECK_EQ(pthread_sigmask(SIG_BLOCK, NULL, &orig), 0);
    sigemptyset(&m);
    sigaddset(&m, SIGUSR2);
    sigaddset(&m, SIGHUP);
    sigaddset(&m, SIGRTMIN + 1);
    CHECK_EQ(pthread_sigmask(SIG_SETMASK, &m, NULL), 0);
    pthread_t t;
    wd_step(15, "inherit: mask at pthread_create");
    CHECK_EQ(pthread_create(&t, NULL, report_mask, NULL), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    same_mask(&m, &seen, "new thread's mask (creator's)");
    CHECK(!blocked(SIGRTMIN + 5), "the thread's pthread_sigmask changed main's mask");

    wd_step(15, "inherit: pthread_attr_setsigmask_np");
    pthread_attr_t attr;
    sigset_t am, back;
    sigemptyset(&am);
    sigaddset(&am, SIGUSR1);
    sigaddset(&am, SIGRTMIN + 2);
    CHECK_EQ(pthread_attr_init(&attr), 0);
    CHECK_EQ(pthread_attr_getsigmask_np(&attr, &back), PTHREAD_ATTR_NO_SIGMASK_NP);
    CHECK_EQ(pthread_attr_setsigmask_np(&attr, &am), 0);
    CHECK_EQ(pthread_attr_getsigmask_np(&attr, &back), 0);
    same_mask(&am, &back, "pthread_attr_getsigmask_np");
    CHECK_EQ(pthread_create(&t, &attr, report_mask, NULL), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(pthread_attr_destroy(&attr), 0);
    same_mask(&am, &seen, "new thread's mask (the attribute's)");
    CHECK_EQ(pthread_sigmask(SIG_SETMASK, &orig, NULL), 0);
}

static const struct wd_case cases[] = {
    {"route", case_route}, {"pending", case_pending}, {"manymasks", case_manymasks}, {"inherit", case_inherit}};

int main(int argc, char **argv)
{
    wd_start();
    int ran = wd_run_cases(cases, sizeof cases / sizeof cases[0], argc, argv, 15, "signal masks");
    CHECK(ran > 0, "no case named %s", argv[1]);
    printf("per-thread signal masks and pending sets: %d case(s) (%s)\n", ran, test_mode());
    return 0;
}
