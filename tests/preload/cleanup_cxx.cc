/*
 * C++ and thread exit: glibc implements pthread_exit by forced unwinding
 * (abi::__forced_unwind), so in a C++ thread
 *  - pthread_exit called deep inside runs the destructors of the local
 *    objects of every frame on the way, innermost first, then the TSD
 *    destructors, and join gets the exit value;
 *  - catch (abi::__forced_unwind &) that rethrows, and catch (...) that
 *    rethrows, see the unwind and let it continue (destructors of outer
 *    frames still run); code after the catch never runs;
 *  - pthread_cleanup_push handlers (the C++ form, run by the unwinder)
 *    interleave with destructors in frame order;
 *  - a thread_local object's destructor runs at thread exit, after the
 *    unwinding and before the TSD destructors (glibc's order), once per
 *    thread that constructed it;
 *  - an ordinary C++ exception thrown and caught inside a thread, across
 *    frames with destructors and yields, works, and after it the thread
 *    can still pthread_exit;
 *  - 16 threads do this at once, yielding in between.
 */
#include <cxxabi.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "check.h"

namespace {

const int NT = 16;

struct Log {
    std::string ev;
};

Log logs[NT];
pthread_key_t key;
std::atomic<int> after_exit{0};
std::atomic<int> forced_seen{0};
std::atomic<int> any_seen{0};

Log &mylog()
{
    Log *lg = static_cast<Log *>(pthread_getspecific(key));
    CHECK(lg != nullptr, "no log for this thread");
    return *lg;
}

struct Note {
    char c;
    explicit Note(char c_) : c(c_) {}
    ~Note() { mylog().ev += c; }
};

void yields(int n)
{
    for (int i = 0; i < n; i++)
        sched_yield();
}

void handler(void *arg)
{
    mylog().ev += static_cast<char>(reinterpret_cast<uintptr_t>(arg));
}

void dtor(void *v)
{
    static_cast<Log *>(v)->ev += 'D';
}

/* Constructed on first use in a thread. */
thread_local Note tl_note('T');

__attribute__((noinline)) void deepest(uintptr_t id)
{
    Note n('4');
    yields(2);
    pthread_exit(reinterpret_cast<void *>(id * 10 + 3));
}

__attribute__((noinline)) void catch_any(uintptr_t id)
{
    Note n('3');
    try {
        deepest(id);
    } catch (...) {
        any_seen++;
        mylog().ev += 'a';
        throw;
    }
    after_exit++;
}

__attribute__((noinline)) void catch_forced(uintptr_t id)
{
    Note n('2');
    pthread_cleanup_push(handler, reinterpret_cast<void *>('h'));
    try {
        catch_any(id);
    } catch (abi::__forced_unwind &) {
        forced_seen++;
        mylog().ev += 'f';
        throw;
    } catch (...) {
        CHECK(false, "pthread_exit's unwind caught as something other than abi::__forced_unwind");
    }
    pthread_cleanup_pop(0);
    after_exit++;
}

__attribute__((noinline)) void thrower(int depth)
{
    Note n('t');
    yields(1);
    if (depth == 0)
        throw std::runtime_error("boom");
    thrower(depth - 1);
}

void *thread(void *arg)
{
    uintptr_t id = reinterpret_cast<uintptr_t>(arg);
    CHECK_EQ(pthread_setspecific(key, &logs[id]), 0);

    /* An ordinary exception, thrown three frames down and caught. */
    try {
        Note n('e');
        thrower(2);
        after_exit++;
    } catch (std::runtime_error &e) {
        CHECK(std::string(e.what()) == "boom", "caught '%s'", e.what());
        mylog().ev += 'c';
    }
    yields(1);

    CHECK(tl_note.c == 'T', "thread_local object not constructed");
    Note n('1');
    catch_forced(id);
    after_exit++;
    return nullptr;
}

} // namespace

int main()
{
    CHECK_EQ(pthread_key_create(&key, dtor), 0);
    pthread_t t[NT];
    for (uintptr_t i = 0; i < NT; i++)
        CHECK_EQ(pthread_create(&t[i], nullptr, thread, reinterpret_cast<void *>(i)), 0);
    for (uintptr_t i = 0; i < NT; i++) {
        void *r;
        CHECK_EQ(pthread_join(t[i], &r), 0);
        CHECK_EQ(reinterpret_cast<uintptr_t>(r), i * 10 + 3);
    }
    /* The exception: t t t (innermost first), e (the try block's local),
       then c (the catch). pthread_exit: 4; a (catch (...), which runs
       before the destructors of its own function's locals), 3; f (catch
       __forced_unwind), h (the cleanup handler, pushed after Note 2 in
       the same frame), 2; 1; then the thread_local's destructor T and
       the TSD destructor D. */
    const std::string want = "tttec4a3fh21TD";
    for (int i = 0; i < NT; i++)
        CHECK(logs[i].ev == want, "thread %d ran '%s', expected '%s'", i, logs[i].ev.c_str(), want.c_str());
    CHECK_EQ(after_exit.load(), 0);
    CHECK_EQ(forced_seen.load(), NT);
    CHECK_EQ(any_seen.load(), NT);
    printf("%d C++ threads: pthread_exit unwound through destructors, catch blocks, cleanup handlers, thread_local (%s)\n",
           NT, want.c_str());
    return 0;
}
