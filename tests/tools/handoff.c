/*
 * tests/tools/handoff.c: a small correct threaded program for the thread
 * checkers (helgrind, drd, ThreadSanitizer, AddressSanitizer), which must
 * report nothing on it: workers add to a counter under a mutex, hand a
 * token round a ring with a condition variable, and are joined. It prints
 * nothing; its exit status says whether the sums came out right.
 */
#include <pthread.h>
#include <stdio.h>

enum { NTHREADS = 4, ROUNDS = 50 };

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long counter; /* protected by mu */
static int turn;     /* protected by mu: whose turn in the ring */

static void *worker(void *arg)
{
    int id = (int)(long)arg;
    for (int r = 0; r < ROUNDS; r++) {
        pthread_mutex_lock(&mu);
        while (turn != id)
            pthread_cond_wait(&cv, &mu);
        counter += id + 1;
        turn = (turn + 1) % NTHREADS;
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

int main(void)
{
    pthread_t th[NTHREADS];
    for (long i = 0; i < NTHREADS; i++)
        if (pthread_create(&th[i], NULL, worker, (void *)i) != 0)
            return 1;
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    long want = (long)ROUNDS * NTHREADS * (NTHREADS + 1) / 2;
    if (counter != want) {
        fprintf(stderr, "handoff: counter %ld, expected %ld\n", counter, want);
        return 1;
    }
    return 0;
}
