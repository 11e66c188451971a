/*
 * C++ and cancellation (issue 9): glibc acts on a cancel by forced unwinding
 * (abi::__forced_unwind), so a thread cancelled while blocked in read (an
 * empty pipe), deep in nested frames:
 *  - runs the destructors of the local objects of every frame, innermost
 *    first, interleaved in frame order with pthread_cleanup_push handlers
 *    (the C++ form, run by the unwinder);
 *  - a catch (abi::__forced_unwind &) that rethrows, and a catch (...)
 *    that rethrows, see the unwind go by; code after them never runs;
 *  - a RAII guard holding a mutex around pthread_cond_wait unlocks it when
 *    the wait is cancelled (the wait re-acquired it first);
 * and the join returns PTHREAD_CANCELED. 8 threads, half in read, half in
 * pthread_cond_wait. The watchdog (watchdog.h) names a hang.
 */
#include <cxxabi.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "check.h"
#include "watchdog.h"

namespace {

const int NT = 8;

std::string logs[NT];
std::atomic<int> ready{0};
int pfd[2];
pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
std::atomic<int> guard_unlocked{0};

struct Obj {
    int t;
    char c;
    Obj(int t_, char c_) : t(t_), c(c_) {}
    ~Obj() { logs[t] += c; }
};

struct Guard {
    Guard() { pthread_mutex_lock(&mu); }
    ~Guard()
    {
        if (pthread_mutex_unlock(&mu) == 0)
            guard_unlocked++;
    }
};

void cleanup(void *arg)
{
    long v = reinterpret_cast<long>(arg);
    logs[v / 256] += static_cast<char>(v % 256);
}

void block(int t)
{
    Obj inner(t, 'a');
    if (t % 2 == 0) {
        char buf[4];
        ready++;
        for (;;)
            read(pfd[0], buf, sizeof buf);
    } else {
        Guard g;
        ready++;
        for (;;)
            pthread_cond_wait(&cv, &mu);
    }
}

void middle(int t)
{
    Obj o(t, 'b');
    pthread_cleanup_push(cleanup, reinterpret_cast<void *>(static_cast<long>(t * 256 + 'c')));
    try {
        Obj o2(t, 'd');
        block(t);
    } catch (abi::__forced_unwind &) {
        logs[t] += 'F';
        throw;
    }
    logs[t] += 'X'; // never
    pthread_cleanup_pop(0);
}

void *thread_main(void *arg)
{
    int t = static_cast<int>(reinterpret_cast<long>(arg));
    Obj outer(t, 'g');
    try {
        Obj o(t, 'e');
        middle(t);
    } catch (...) {
        logs[t] += 'A';
        throw;
    }
    logs[t] += 'Y'; // never
    return nullptr;
}

} // namespace

int main()
{
    wd_start();
    CHECK_EQ(pipe(pfd), 0);
    pthread_t th[NT];
    for (int t = 0; t < NT; t++)
        CHECK_EQ(pthread_create(&th[t], nullptr, thread_main, reinterpret_cast<void *>(static_cast<long>(t))), 0);
    wd_step(15, "threads blocking");
    while (ready.load() < NT)
        sched_yield();
    usleep(50000); /* most likely blocked by now; the checks hold either way */
    for (int t = 0; t < NT; t++) {
        wd_step(15, "cancelling thread %d (%s)", t, t % 2 == 0 ? "read" : "pthread_cond_wait");
        CHECK_EQ(pthread_cancel(th[t]), 0);
        void *ret;
        CHECK_EQ(pthread_join(th[t], &ret), 0);
        CHECK(ret == PTHREAD_CANCELED, "thread %d: join returned %p", t, ret);
        /* inner a, (guard), d, F (catch and rethrow), cleanup c, b, e, A (catch (...)), g */
        CHECK(logs[t] == "adFcbeAg", "thread %d: unwinding ran \"%s\", not \"adFcbeAg\"", t, logs[t].c_str());
    }
    CHECK_EQ(guard_unlocked.load(), NT / 2);
    CHECK_EQ(pthread_mutex_trylock(&mu), 0);
    CHECK_EQ(pthread_mutex_unlock(&mu), 0);
    printf("cancelled C++ threads unwound: destructors, catch-rethrow and cleanup handlers in frame order "
           "(%s)\n",
           test_mode());
    return 0;
}
