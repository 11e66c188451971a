/*
 * Condition variables, as glibc 2.36 runs them:
 *  - wait/signal with a predicate: two threads hand a turn back and forth
 *    2000 times (static PTHREAD_COND_INITIALIZER); 4 consumers take 20000
 *    tokens each posted with a single pthread_cond_signal (a lost wake-up
 *    hangs, caught by a 10 s bound);
 *  - pthread_cond_broadcast wakes every one of 100 waiters, all known to be
 *    inside pthread_cond_wait (each counted itself under the mutex first);
 *  - 6 threads wait 2000 times each, timed or not, while another signals
 *    (with and without the mutex), broadcasts and interrupts them with a
 *    handler at random, so that waits end every way; then rounds of 1 to 16
 *    waiters, each round woken by one signal per waiter;
 *  - 500 times, a broadcast that the main thread makes the moment the
 *    waiter's wait lets go of the mutex, then pthread_cond_destroy and
 *    pthread_cond_init at once: the waiter always comes out (10 s bound);
 *  - pthread_cond_timedwait (CLOCK_REALTIME; CLOCK_MONOTONIC through
 *    pthread_condattr_setclock) and pthread_cond_clockwait (both clocks)
 *    return ETIMEDOUT no earlier than the deadline and within 2 s of it,
 *    holding the mutex again (an ERRORCHECK mutex: relock is EDEADLK), and
 *    not before a thread that held the mutex at the deadline let it go;
 *  - past deadlines and a negative tv_sec: ETIMEDOUT; tv_nsec outside
 *    [0, 1e9) and clocks other than REALTIME/MONOTONIC: EINVAL, with the
 *    mutex never released;
 *  - a signal or broadcast with no waiter is not remembered: a later wait
 *    times out;
 *  - pthread_condattr_setclock accepts only CLOCK_REALTIME and CLOCK_MONOTONIC
 *    (CLOCK_PROCESS_CPUTIME_ID EINVAL), setpshared rejects 99;
 *  - pthread_cond_destroy of an unused condition variable, and of one whose
 *    waiters have all left, returns 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "check.h"
#include "timing.h"

#define TIMEOUT_MS 50

static void check_timed_out(clockid_t clock, struct timespec deadline, struct timespec start)
{
    int64_t late = ns(now(clock)) - ns(deadline);
    int64_t took = ns(now(CLOCK_MONOTONIC)) - ns(start);
    CHECK(late >= 0, "returned %lld ns before the deadline (clock %d)", (long long)-late, (int)clock);
    CHECK(took < 2000000000LL, "a %d ms timeout took %lld ms", TIMEOUT_MS, (long long)(took / 1000000));
}

/* Waits on a condition with a 10 s bound (CLOCK_MONOTONIC condattr), for
   the checks that would otherwise hang on a lost wake-up. */
static pthread_cond_t progress;

static void init_progress(void)
{
    pthread_condattr_t a;
    CHECK_EQ(pthread_condattr_init(&a), 0);
    CHECK_EQ(pthread_condattr_setclock(&a, CLOCK_MONOTONIC), 0);
    CHECK_EQ(pthread_cond_init(&progress, &a), 0);
    CHECK_EQ(pthread_condattr_destroy(&a), 0);
}

/* With mu held: waits on progress until cond holds, failing with the
   message when it does not within 10 s. Whoever makes cond true signals
   progress under mu, so nothing is lost between the check and the wait. */
#define AWAIT_PROGRESS(mu, cond, ...)                                          \
    do {                                                                       \
        struct timespec bound_ = add_ms(now(CLOCK_MONOTONIC), 10000);          \
        while (!(cond)) {                                                      \
            int rc_ = pthread_cond_timedwait(&progress, (mu), &bound_);        \
            CHECK(rc_ == 0 || rc_ == ETIMEDOUT, "rc %d", rc_);                 \
            CHECK(rc_ == 0 || (cond), __VA_ARGS__);                            \
        }                                                                      \
    } while (0)

/* ---- ping-pong ------------------------------------------------------------------ */

#define ROUNDS 2000
static pthread_mutex_t pp_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pp_cv = PTHREAD_COND_INITIALIZER;
static int turn, pp_count;

static void *ping(void *arg)
{
    int me = (int)(intptr_t)arg;
    for (int i = 0; i < ROUNDS; i++) {
        CHECK_EQ(pthread_mutex_lock(&pp_mu), 0);
        while (turn != me)
            CHECK_EQ(pthread_cond_wait(&pp_cv, &pp_mu), 0);
        CHECK_EQ(pp_count % 2, me);
        pp_count++;
        turn = 1 - me;
        CHECK_EQ(pthread_cond_signal(&pp_cv), 0);
        CHECK_EQ(pthread_mutex_unlock(&pp_mu), 0);
    }
    return NULL;
}

static void ping_pong(void)
{
    pthread_t a, b;
    CHECK_EQ(pthread_create(&a, NULL, ping, (void *)0), 0);
    CHECK_EQ(pthread_create(&b, NULL, ping, (void *)1), 0);
    CHECK_EQ(pthread_join(a, NULL), 0);
    CHECK_EQ(pthread_join(b, NULL), 0);
    CHECK_EQ(pp_count, 2 * ROUNDS);
}

/* ---- tokens, each with one signal ------------------------------------------------ */

#define CONSUMERS 4
#define TOKENS 20000
static pthread_mutex_t tk_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tk_cv;
static int tokens, consumed, tk_done;

static void *consumer(void *arg)
{
    for (int mine = 1;; mine++) {
        CHECK_EQ(pthread_mutex_lock(&tk_mu), 0);
        while (tokens == 0 && !tk_done)
            CHECK_EQ(pthread_cond_wait(&tk_cv, &tk_mu), 0);
        if (tokens == 0) {
            CHECK_EQ(pthread_mutex_unlock(&tk_mu), 0);
            return NULL;
        }
        tokens--;
        consumed++;
        if (consumed == TOKENS)
            CHECK_EQ(pthread_cond_signal(&progress), 0);
        CHECK_EQ(pthread_mutex_unlock(&tk_mu), 0);
        if ((mine & 15) == 0)
            sched_yield();
    }
}

static void signal_tokens(void)
{
    CHECK_EQ(pthread_cond_init(&tk_cv, NULL), 0);
    pthread_t t[CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, consumer, NULL), 0);
    for (int i = 0; i < TOKENS; i++) {
        CHECK_EQ(pthread_mutex_lock(&tk_mu), 0);
        tokens++;
        CHECK_EQ(pthread_cond_signal(&tk_cv), 0);
        CHECK_EQ(pthread_mutex_unlock(&tk_mu), 0);
        if ((i & 7) == 0)
            sched_yield();
    }
    /* Every token must be taken with no further signal (progress is
       signalled under tk_mu, so waiting for it under tk_mu loses nothing). */
    CHECK_EQ(pthread_mutex_lock(&tk_mu), 0);
    AWAIT_PROGRESS(&tk_mu, consumed == TOKENS, "lost wake-up: %d of %d tokens taken after 10 s", consumed,
                   TOKENS);
    tk_done = 1;
    CHECK_EQ(pthread_cond_broadcast(&tk_cv), 0);
    CHECK_EQ(pthread_mutex_unlock(&tk_mu), 0);
    for (int i = 0; i < CONSUMERS; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    CHECK_EQ(tokens, 0);
    CHECK_EQ(pthread_cond_destroy(&tk_cv), 0);
}

/* ---- broadcast to 100 ------------------------------------------------------------- */

#define WAITERS 100
static pthread_mutex_t bc_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bc_cv = PTHREAD_COND_INITIALIZER;
static int generation, waiting, woken;

static void *bc_waiter(void *arg)
{
    CHECK_EQ(pthread_mutex_lock(&bc_mu), 0);
    int gen = generation;
    waiting++;
    CHECK_EQ(pthread_cond_signal(&progress), 0);
    while (generation == gen)
        CHECK_EQ(pthread_cond_wait(&bc_cv, &bc_mu), 0);
    woken++;
    CHECK_EQ(pthread_cond_signal(&progress), 0);
    CHECK_EQ(pthread_mutex_unlock(&bc_mu), 0);
    return NULL;
}

static void broadcast_all(void)
{
    static pthread_t t[WAITERS];
    for (int i = 0; i < WAITERS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, bc_waiter, NULL), 0);
    CHECK_EQ(pthread_mutex_lock(&bc_mu), 0);
    AWAIT_PROGRESS(&bc_mu, waiting == WAITERS, "only %d waiters after 10 s", waiting);
    /* All 100 are in pthread_cond_wait: each counted itself and waited
       without letting go of bc_mu in between. One broadcast. */
    generation++;
    CHECK_EQ(pthread_cond_broadcast(&bc_cv), 0);
    AWAIT_PROGRESS(&bc_mu, woken == WAITERS, "broadcast woke %d of %d waiters", woken, WAITERS);
    CHECK_EQ(pthread_mutex_unlock(&bc_mu), 0);
    for (int i = 0; i < WAITERS; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    CHECK_EQ(pthread_cond_destroy(&bc_cv), 0);
}

/* ---- every way out of a wait, then one signal ------------------------------------ */

/* Waiters leave their waits every way a wait ends (woken by a signal or a
   broadcast, timed out, interrupted by a handler: a spurious 0) while a
   thread signals, broadcasts and sends SIGUSR1 at random. Afterwards,
   rounds of n waiters get one signal each: an implementation whose count
   of waiters drifted by -n on some path would skip a signal in round n (a
   hang, caught by the 10 s bound). */
#define CHURN_THREADS 6
#define CHURN_WAITS 2000
#define CHURN_ROUNDS 16
static pthread_mutex_t ch_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ch_cv = PTHREAD_COND_INITIALIZER;
static atomic_int ch_finished;
static int ch_timedout;

static void on_usr1(int sig)
{
    (void)sig;
}

static unsigned nextrand(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return *seed >> 16;
}

static void *ch_waiter(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < CHURN_WAITS; i++) {
        CHECK_EQ(pthread_mutex_lock(&ch_mu), 0);
        if (nextrand(&seed) & 1) {
            struct timespec d = now(CLOCK_REALTIME);
            d.tv_nsec += (long)(nextrand(&seed) % 50000);
            if (d.tv_nsec >= 1000000000) {
                d.tv_sec++;
                d.tv_nsec -= 1000000000;
            }
            int rc = pthread_cond_timedwait(&ch_cv, &ch_mu, &d);
            CHECK(rc == 0 || rc == ETIMEDOUT, "rc %d", rc);
            ch_timedout += rc == ETIMEDOUT;
        } else {
            CHECK_EQ(pthread_cond_wait(&ch_cv, &ch_mu), 0);
        }
        CHECK_EQ(pthread_mutex_unlock(&ch_mu), 0);
    }
    atomic_fetch_add(&ch_finished, 1);
    return NULL;
}

/* A round after the churn: ch_n waiters each take one token, and each
   token comes with one signal. */
static int ch_n, ch_in, ch_tokens, ch_out;

static void *ch_taker(void *arg)
{
    (void)arg;
    CHECK_EQ(pthread_mutex_lock(&ch_mu), 0);
    ch_in++;
    CHECK_EQ(pthread_cond_signal(&progress), 0);
    while (ch_tokens == 0)
        CHECK_EQ(pthread_cond_wait(&ch_cv, &ch_mu), 0);
    ch_tokens--;
    ch_out++;
    CHECK_EQ(pthread_cond_signal(&progress), 0);
    CHECK_EQ(pthread_mutex_unlock(&ch_mu), 0);
    return NULL;
}

static void churn(void)
{
    struct sigaction sa = {.sa_handler = on_usr1}; /* no SA_RESTART */
    CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    pthread_t t[CHURN_THREADS];
    for (int i = 0; i < CHURN_THREADS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, ch_waiter, (void *)(uintptr_t)(i * 7919 + 1)), 0);
    unsigned seed = 42;
    while (atomic_load(&ch_finished) < CHURN_THREADS) {
        unsigned r = nextrand(&seed);
        switch (r % 8) {
        case 0:
            CHECK_EQ(pthread_cond_broadcast(&ch_cv), 0);
            break;
        case 1: /* exited but not joined: still a valid pthread_t */
            CHECK_EQ(pthread_kill(t[(r >> 3) % CHURN_THREADS], SIGUSR1), 0);
            break;
        case 2:
            sched_yield();
            break;
        default:
            if (r & 64) {
                CHECK_EQ(pthread_mutex_lock(&ch_mu), 0);
                CHECK_EQ(pthread_cond_signal(&ch_cv), 0);
                CHECK_EQ(pthread_mutex_unlock(&ch_mu), 0);
            } else {
                CHECK_EQ(pthread_cond_signal(&ch_cv), 0);
            }
        }
    }
    for (int i = 0; i < CHURN_THREADS; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    signal(SIGUSR1, SIG_DFL);

    /* Rounds of 1 to CHURN_ROUNDS waiters, all inside pthread_cond_wait
       (each counted itself and waited without letting go of ch_mu), then
       one token and one signal per waiter: a count of waiters off by -n
       would skip a signal in the round of n. */
    for (ch_n = 1; ch_n <= CHURN_ROUNDS; ch_n++) {
        pthread_t w[CHURN_ROUNDS];
        ch_in = ch_out = 0;
        for (int i = 0; i < ch_n; i++)
            CHECK_EQ(pthread_create(&w[i], NULL, ch_taker, NULL), 0);
        CHECK_EQ(pthread_mutex_lock(&ch_mu), 0);
        AWAIT_PROGRESS(&ch_mu, ch_in == ch_n, "%d of %d waiters started in 10 s", ch_in, ch_n);
        for (int i = 0; i < ch_n; i++) {
            ch_tokens++;
            CHECK_EQ(pthread_cond_signal(&ch_cv), 0);
        }
        AWAIT_PROGRESS(&ch_mu, ch_out == ch_n, "%d signals woke %d of %d waiters after %d churned waits", ch_n,
                       ch_out, ch_n, CHURN_THREADS * CHURN_WAITS);
        CHECK_EQ(pthread_mutex_unlock(&ch_mu), 0);
        for (int i = 0; i < ch_n; i++)
            CHECK_EQ(pthread_join(w[i], NULL), 0);
    }
    CHECK_EQ(pthread_cond_destroy(&ch_cv), 0);
}

/* ---- destroyed and made anew right after a broadcast ------------------------------ */

/* A waiter takes the mutex and waits for `dr_done`; the main thread takes
   the mutex the moment the waiter's pthread_cond_wait lets go of it, sets
   the flag, broadcasts, unlocks, and at once destroys the condition
   variable and initialises it again, which POSIX allows: no thread is
   blocked on it after the broadcast. A waiter that the broadcast caught on
   its way into the wait must still come out; and the next round's waiter,
   on the memory made anew, must be woken by its broadcast. A hang is
   caught by a 10 s pthread_timedjoin_np. */
#define DR_ROUNDS 500
static pthread_mutex_t dr_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t dr_cv;
static atomic_int dr_ready, dr_done;

static void *dr_waiter(void *arg)
{
    (void)arg;
    CHECK_EQ(pthread_mutex_lock(&dr_mu), 0);
    atomic_store(&dr_ready, 1);
    while (!atomic_load(&dr_done))
        CHECK_EQ(pthread_cond_wait(&dr_cv, &dr_mu), 0);
    CHECK_EQ(pthread_mutex_unlock(&dr_mu), 0);
    return NULL;
}

/* Spins up to 200 us at a time, then yields. */
static void spin_pause(struct timespec *since)
{
    struct timespec t = now(CLOCK_MONOTONIC);
    if ((t.tv_sec - since->tv_sec) * 1000000000L + (t.tv_nsec - since->tv_nsec) > 200000) {
        sched_yield();
        *since = now(CLOCK_MONOTONIC);
    }
}

static void spin_until_ready(void)
{
    struct timespec since = now(CLOCK_MONOTONIC);
    while (!atomic_load(&dr_ready))
        spin_pause(&since);
}

static void spin_lock(pthread_mutex_t *m)
{
    struct timespec since = now(CLOCK_MONOTONIC);
    while (pthread_mutex_trylock(m) != 0)
        spin_pause(&since);
}

static void destroy_reinit(void)
{
    CHECK_EQ(pthread_cond_init(&dr_cv, NULL), 0);
    for (int i = 0; i < DR_ROUNDS; i++) {
        atomic_store(&dr_ready, 0);
        atomic_store(&dr_done, 0);
        pthread_t t;
        CHECK_EQ(pthread_create(&t, NULL, dr_waiter, NULL), 0);
        /* Spinning, so that with two CPUs the waiter runs on the other
           and the mutex is taken the moment its wait lets go of it
           (yielding every 200 us: with one CPU, the waiter needs it). */
        spin_until_ready();
        spin_lock(&dr_mu);
        atomic_store(&dr_done, 1);
        CHECK_EQ(pthread_cond_broadcast(&dr_cv), 0);
        CHECK_EQ(pthread_mutex_unlock(&dr_mu), 0);
        CHECK_EQ(pthread_cond_destroy(&dr_cv), 0);
        CHECK_EQ(pthread_cond_init(&dr_cv, NULL), 0);
        struct timespec bound = add_ms(now(CLOCK_REALTIME), 10000);
        int rc = pthread_timedjoin_np(t, NULL, &bound);
        CHECK(rc == 0, "round %d: the waiter did not come out of its wait in 10 s (%d)", i, rc);
    }
    CHECK_EQ(pthread_cond_destroy(&dr_cv), 0);
}

/* ---- timeouts ---------------------------------------------------------------------- */

static pthread_mutex_t ec_mu;

/* Holds ec_mu from inside the waiter's wait until after its deadline. */
static struct timespec holder_deadline;
static clockid_t holder_clock;
static atomic_int holder_locked, holder_released;

static void *holder(void *arg)
{
    CHECK_EQ(pthread_mutex_lock(&ec_mu), 0);    /* only once the waiter waits */
    atomic_store(&holder_locked, 1);
    while (ns(now(holder_clock)) < ns(holder_deadline) + 20000000)
        sched_yield();
    atomic_store(&holder_released, 1);
    CHECK_EQ(pthread_mutex_unlock(&ec_mu), 0);
    return NULL;
}

/* One timed wait that must time out. api: 0 timedwait, 1 clockwait. With
   hold, another thread holds the mutex across the deadline: the wait must
   not return before that thread lets go. On a loaded machine the holder
   may not get to run before the waiter has timed out and taken the mutex
   back; the waiter then sees it never locked, and the round is run again
   (up to 20 times), since it tested nothing. */
static void timed(pthread_cond_t *cv, clockid_t clock, int api, int hold)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        CHECK_EQ(pthread_mutex_lock(&ec_mu), 0);
        struct timespec start = now(CLOCK_MONOTONIC);
        struct timespec deadline = add_ms(now(clock), TIMEOUT_MS);
        pthread_t h;
        if (hold) {
            holder_deadline = deadline;
            holder_clock = clock;
            atomic_store(&holder_locked, 0);
            atomic_store(&holder_released, 0);
            CHECK_EQ(pthread_create(&h, NULL, holder, NULL), 0);
        }
        int rc = api == 0 ? pthread_cond_timedwait(cv, &ec_mu, &deadline)
                          : pthread_cond_clockwait(cv, &ec_mu, clock, &deadline);
        CHECK_EQ(rc, ETIMEDOUT);
        check_timed_out(clock, deadline, start);
        CHECK_EQ(pthread_mutex_lock(&ec_mu), EDEADLK); /* we hold it again */
        bool tested = !hold || atomic_load(&holder_locked);
        if (hold && tested)
            CHECK(atomic_load(&holder_released), "timed wait returned while another thread held the mutex");
        CHECK_EQ(pthread_mutex_unlock(&ec_mu), 0);
        if (hold)
            CHECK_EQ(pthread_join(h, NULL), 0);
        if (tested)
            return;
    }
    CHECK(0, "in 20 rounds the holder never took the mutex during the wait");
}

static void timeouts(void)
{
    pthread_mutexattr_t ma;
    CHECK_EQ(pthread_mutexattr_init(&ma), 0);
    CHECK_EQ(pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK), 0);
    CHECK_EQ(pthread_mutex_init(&ec_mu, &ma), 0);
    CHECK_EQ(pthread_mutexattr_destroy(&ma), 0);

    pthread_cond_t real = PTHREAD_COND_INITIALIZER, mono;
    pthread_condattr_t ca;
    clockid_t c;
    int v;
    CHECK_EQ(pthread_condattr_init(&ca), 0);
    CHECK_EQ(pthread_condattr_getclock(&ca, &c), 0);
    CHECK_EQ(c, CLOCK_REALTIME);
    CHECK_EQ(pthread_condattr_getpshared(&ca, &v), 0);
    CHECK_EQ(v, PTHREAD_PROCESS_PRIVATE);
    CHECK_EQ(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC), 0);
    CHECK_EQ(pthread_condattr_setclock(&ca, CLOCK_PROCESS_CPUTIME_ID), EINVAL);
    CHECK_EQ(pthread_condattr_setclock(&ca, CLOCK_THREAD_CPUTIME_ID), EINVAL);
    CHECK_EQ(pthread_condattr_setclock(&ca, 12345), EINVAL);
    CHECK_EQ(pthread_condattr_getclock(&ca, &c), 0);
    CHECK_EQ(c, CLOCK_MONOTONIC);
    CHECK_EQ(pthread_condattr_setpshared(&ca, 99), EINVAL);
    CHECK_EQ(pthread_condattr_getpshared(&ca, &v), 0);
    CHECK_EQ(v, PTHREAD_PROCESS_PRIVATE);
    CHECK_EQ(pthread_cond_init(&mono, &ca), 0);
    CHECK_EQ(pthread_condattr_destroy(&ca), 0);

    timed(&real, CLOCK_REALTIME, 0, 0);
    timed(&mono, CLOCK_MONOTONIC, 0, 0);
    timed(&real, CLOCK_REALTIME, 0, 1);
    timed(&mono, CLOCK_MONOTONIC, 0, 1);
    /* clockwait ignores the condition variable's own clock. */
    timed(&real, CLOCK_MONOTONIC, 1, 0);
    timed(&real, CLOCK_REALTIME, 1, 0);
    timed(&mono, CLOCK_REALTIME, 1, 1);
    timed(&mono, CLOCK_MONOTONIC, 1, 1);

    /* Deadlines already past, and bad arguments: the mutex stays ours. */
    struct timespec past = {0, 0}, negative = {-1, 0};
    struct timespec bad = add_ms(now(CLOCK_REALTIME), 1000);
    bad.tv_nsec = 1000000000L;
    struct timespec bad_neg = bad;
    bad_neg.tv_nsec = -1;
    struct timespec fine = add_ms(now(CLOCK_MONOTONIC), 1000);
    CHECK_EQ(pthread_mutex_lock(&ec_mu), 0);
    CHECK_EQ(pthread_cond_timedwait(&real, &ec_mu, &past), ETIMEDOUT);
    CHECK_EQ(pthread_cond_timedwait(&real, &ec_mu, &negative), ETIMEDOUT);
    CHECK_EQ(pthread_cond_timedwait(&mono, &ec_mu, &past), ETIMEDOUT);
    CHECK_EQ(pthread_cond_clockwait(&real, &ec_mu, CLOCK_MONOTONIC, &past), ETIMEDOUT);
    CHECK_EQ(pthread_cond_timedwait(&real, &ec_mu, &bad), EINVAL);
    CHECK_EQ(pthread_cond_timedwait(&real, &ec_mu, &bad_neg), EINVAL);
    CHECK_EQ(pthread_cond_clockwait(&real, &ec_mu, CLOCK_MONOTONIC, &bad), EINVAL);
    CHECK_EQ(pthread_cond_clockwait(&real, &ec_mu, CLOCK_PROCESS_CPUTIME_ID, &fine), EINVAL);
    CHECK_EQ(pthread_cond_clockwait(&real, &ec_mu, 12345, &fine), EINVAL);
    CHECK_EQ(pthread_mutex_lock(&ec_mu), EDEADLK);

    /* Nothing remembered from a signal or broadcast without waiters. */
    CHECK_EQ(pthread_cond_signal(&real), 0);
    CHECK_EQ(pthread_cond_broadcast(&real), 0);
    CHECK_EQ(pthread_cond_signal(&mono), 0);
    CHECK_EQ(pthread_mutex_unlock(&ec_mu), 0);
    timed(&real, CLOCK_REALTIME, 0, 0);
    timed(&mono, CLOCK_MONOTONIC, 0, 0);

    CHECK_EQ(pthread_cond_destroy(&real), 0);
    CHECK_EQ(pthread_cond_destroy(&mono), 0);
    CHECK_EQ(pthread_mutex_destroy(&ec_mu), 0);

    pthread_cond_t unused = PTHREAD_COND_INITIALIZER, unused2;
    CHECK_EQ(pthread_cond_destroy(&unused), 0);
    CHECK_EQ(pthread_cond_init(&unused2, NULL), 0);
    CHECK_EQ(pthread_cond_destroy(&unused2), 0);
}

int main(void)
{
    init_progress();
    ping_pong();
    signal_tokens();
    broadcast_all();
    churn();
    destroy_reinit();
    timeouts();
    printf("cond: %d-round ping-pong, %d tokens by signal, broadcast woke %d of %d, "
           "%d churned waits (%s timed out) then 1 to %d waiters woken one signal each, "
           "%d destroys and inits right after a broadcast, "
           "timed/clock waits never early and with the mutex, EINVAL/ETIMEDOUT as glibc\n",
           ROUNDS, TOKENS, woken, WAITERS, CHURN_THREADS * CHURN_WAITS, ch_timedout > 0 ? "some" : "none", CHURN_ROUNDS, DR_ROUNDS);
    return 0;
}
