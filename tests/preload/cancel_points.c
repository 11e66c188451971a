/*
 * Deferred cancellation of a thread blocked in a cancellation point (issue
 * 9), one case each: read on an empty pipe, accept on a listening TCP
 * socket on 127.0.0.1, pthread_cond_wait, pthread_cond_timedwait (60 s),
 * sleep(60), sem_wait, pthread_join of a thread that does not exit, and
 * sigwait. In each the target pushes three cleanup handlers, says it is
 * about to block, and blocks; main waits 50 ms (so that the cancel most
 * likely finds it blocked; if it comes earlier the call acts on it at
 * entry, and every check still holds), calls pthread_cancel (0), and joins:
 * the join returns PTHREAD_CANCELED, the handlers ran innermost first, the
 * code after the call never ran. For the condition variables, the mutex
 * (error-checking) is held again by the thread when its cleanup handler
 * runs: the handler's unlock succeeds, and main can lock it after the join.
 * The watchdog (watchdog.h) names a case that hangs (a cancel never acted
 * on). Argument: one case name, or none for all.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "timing.h"
#include "watchdog.h"

static char order[8];
static _Atomic int norder, ready, after_call, unlock_rc;
static pthread_mutex_t mu;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int pfd[2], lfd;
static sem_t never;
static pthread_t forever;

static void cleanup(void *arg)
{
    int n = atomic_fetch_add(&norder, 1);
    if (n < (int)sizeof order - 1)
        order[n] = (char)(long)arg;
}

static void cleanup_unlock(void *arg)
{
    (void)arg;
    atomic_store(&unlock_rc, pthread_mutex_unlock(&mu));
    cleanup((void *)'M');
}

static void *forever_thread(void *arg)
{
    (void)arg;
    while (sem_wait(&never) != 0)
        ;
    return NULL;
}

static void block_in(const char *what)
{
    char buf[4];
    if (strcmp(what, "read") == 0) {
        atomic_store(&ready, 1);
        read(pfd[0], buf, sizeof buf);
    } else if (strcmp(what, "accept") == 0) {
        atomic_store(&ready, 1);
        accept(lfd, NULL, NULL);
    } else if (strcmp(what, "cond_wait") == 0 || strcmp(what, "cond_timedwait") == 0) {
        CHECK_EQ(pthread_mutex_lock(&mu), 0);
        pthread_cleanup_push(cleanup_unlock, NULL);
        atomic_store(&ready, 1);
        if (what[4] == 't') {
            struct timespec dl = add_ms(now(CLOCK_REALTIME), 60000);
            for (;;)
                pthread_cond_timedwait(&cv, &mu, &dl);
        } else {
            for (;;)
                pthread_cond_wait(&cv, &mu);
        }
        pthread_cleanup_pop(1);
    } else if (strcmp(what, "sleep") == 0) {
        atomic_store(&ready, 1);
        sleep(60);
    } else if (strcmp(what, "sem_wait") == 0) {
        atomic_store(&ready, 1);
        sem_wait(&never);
    } else if (strcmp(what, "join") == 0) {
        atomic_store(&ready, 1);
        pthread_join(forever, NULL);
    } else if (strcmp(what, "sigwait") == 0) {
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGUSR2);
        CHECK_EQ(pthread_sigmask(SIG_BLOCK, &s, NULL), 0);
        int sig;
        atomic_store(&ready, 1);
        sigwait(&s, &sig);
    }
}

static void *target(void *arg)
{
    const char *what = arg;
    pthread_cleanup_push(cleanup, (void *)'1');
    pthread_cleanup_push(cleanup, (void *)'2');
    pthread_cleanup_push(cleanup, (void *)'3');
    block_in(what);
    atomic_store(&after_call, 1);
    pthread_cleanup_pop(0);
    pthread_cleanup_pop(0);
    pthread_cleanup_pop(0);
    return NULL;
}

static void run_case(const char *what)
{
    memset(order, 0, sizeof order);
    atomic_store(&norder, 0);
    atomic_store(&ready, 0);
    atomic_store(&after_call, 0);
    atomic_store(&unlock_rc, -1);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, target, (void *)what), 0);
    while (!atomic_load(&ready))
        sched_yield();
    struct timespec ts = {0, 50000000};
    nanosleep(&ts, NULL);
    CHECK_EQ(pthread_cancel(t), 0);
    void *ret;
    CHECK_EQ(pthread_join(t, &ret), 0);
    CHECK(ret == PTHREAD_CANCELED, "%s: join returned %p, not PTHREAD_CANCELED", what, ret);
    CHECK(!atomic_load(&after_call), "%s: the code after the call ran", what);
    int cond = strncmp(what, "cond_", 5) == 0;
    const char *want = cond ? "M321" : "321";
    CHECK(strcmp(order, want) == 0, "%s: cleanup handlers ran as \"%s\", not \"%s\"", what, order, want);
    if (cond) {
        CHECK(atomic_load(&unlock_rc) == 0,
              "%s: the mutex was not held again when the cleanup handler ran (unlock: %d)", what,
              atomic_load(&unlock_rc));
        struct timespec dl = add_ms(now(CLOCK_REALTIME), 10000);
        CHECK_EQ(pthread_mutex_timedlock(&mu, &dl), 0);
        CHECK_EQ(pthread_mutex_unlock(&mu), 0);
    }
}

static const char *const cases[] = {"read",     "accept", "cond_wait", "cond_timedwait",
                                    "sleep",    "sem_wait", "join",    "sigwait"};

int main(int argc, char **argv)
{
    wd_start();
    pthread_mutexattr_t ma;
    CHECK_EQ(pthread_mutexattr_init(&ma), 0);
    CHECK_EQ(pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK), 0);
    CHECK_EQ(pthread_mutex_init(&mu, &ma), 0);
    CHECK_EQ(pipe(pfd), 0);
    CHECK_EQ(sem_init(&never, 0, 0), 0);
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(lfd >= 0, "socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK_EQ(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    CHECK_EQ(listen(lfd, 4), 0);
    CHECK_EQ(pthread_create(&forever, NULL, forever_thread, NULL), 0);

    const char *only = argc > 1 ? argv[1] : NULL;
    int ran = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (only != NULL && strcmp(only, cases[i]) != 0)
            continue;
        wd_step(15, "cancel a thread blocked in %s", cases[i]);
        run_case(cases[i]);
        ran++;
    }
    CHECK(ran > 0, "no case named %s", only);
    wd_step(15, "cancel the thread that never exits (in sem_wait)");
    CHECK_EQ(pthread_cancel(forever), 0);
    void *ret;
    CHECK_EQ(pthread_join(forever, &ret), 0);
    CHECK(ret == PTHREAD_CANCELED, "sem_wait thread: join returned %p", ret);
    printf("deferred cancellation in %d blocking call(s): cleanup handlers in reverse order, join gives "
           "PTHREAD_CANCELED (%s)\n",
           ran, test_mode());
    return 0;
}
