/*
 * Process-shared objects between two processes. A shared mapping holds a
 * mutex and a condition variable (PTHREAD_PROCESS_SHARED), two semaphores
 * (sem_init(s, 1, 0)) and a barrier for two (PTHREAD_PROCESS_SHARED);
 * parent and child pass a turn 10,000 times through the mutex and the
 * condition variable, then 10,000 times through the semaphores, and wait
 * 1,000 times at the barrier (exactly one of the two gets
 * PTHREAD_BARRIER_SERIAL_THREAD each time). Three pairs:
 *  1. fork: an anonymous MAP_SHARED mapping; the child is a copy of the
 *     parent (both under gpm in the gpm run);
 *  2. fork + exec of this program: the mapping is a shm_open file in
 *     /dev/shm; the child is a fresh process that inherits LD_PRELOAD (under
 *     gpm in the gpm run, and it checks that libgpm is mapped in it exactly
 *     when it is in the parent);
 *  3. the same without LD_PRELOAD in the child's environment: the child runs
 *     glibc's objects natively (it checks libgpm is not mapped) against a
 *     parent under gpm.
 * The parent checks the child's exit status, the sums both sides wrote and
 * the barrier count. A 60 s alarm turns a hang (a child that died before
 * the first barrier) into a failure with a message.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define ROUNDS 10000
#define BARRIER_ROUNDS 1000

struct shared {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_barrier_t bar;
    sem_t ping, pong;
    int turn;
    long sum;             /* under mu: the parent adds 1 a turn, the child 2 */
    atomic_int serials;   /* PTHREAD_BARRIER_SERIAL_THREAD results */
    atomic_long semsum;   /* the parent adds 1 a round, the child 2 */
};

static void barrier(struct shared *s)
{
    int r = pthread_barrier_wait(&s->bar);
    CHECK(r == 0 || r == PTHREAD_BARRIER_SERIAL_THREAD, "pthread_barrier_wait: %d", r);
    if (r == PTHREAD_BARRIER_SERIAL_THREAD)
        atomic_fetch_add(&s->serials, 1);
}

/* One side of the game: me is 0 in the parent, 1 in the child. Once both
   have met, the shm file (if any) has served: it is unlinked. */
static void play(struct shared *s, int me, const char *unlink_name)
{
    barrier(s);
    if (unlink_name != NULL)
        CHECK_EQ(shm_unlink(unlink_name), 0);
    for (int i = 0; i < ROUNDS; i++) {
        CHECK_EQ(pthread_mutex_lock(&s->mu), 0);
        while (s->turn != me)
            CHECK_EQ(pthread_cond_wait(&s->cv, &s->mu), 0);
        s->sum += me + 1;
        s->turn = !me;
        CHECK_EQ(pthread_cond_signal(&s->cv), 0);
        CHECK_EQ(pthread_mutex_unlock(&s->mu), 0);
    }
    for (int i = 0; i < ROUNDS; i++) {
        if (me == 0) {
            CHECK_EQ(sem_post(&s->ping), 0);
            CHECK_EQ(sem_wait(&s->pong), 0);
        } else {
            CHECK_EQ(sem_wait(&s->ping), 0);
            CHECK_EQ(sem_post(&s->pong), 0);
        }
        atomic_fetch_add(&s->semsum, me + 1);
    }
    for (int i = 0; i < BARRIER_ROUNDS; i++)
        barrier(s);
}

static void setup(struct shared *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutexattr_t ma;
    CHECK_EQ(pthread_mutexattr_init(&ma), 0);
    CHECK_EQ(pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED), 0);
    CHECK_EQ(pthread_mutex_init(&s->mu, &ma), 0);
    pthread_condattr_t ca;
    CHECK_EQ(pthread_condattr_init(&ca), 0);
    CHECK_EQ(pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED), 0);
    CHECK_EQ(pthread_cond_init(&s->cv, &ca), 0);
    pthread_barrierattr_t ba;
    CHECK_EQ(pthread_barrierattr_init(&ba), 0);
    CHECK_EQ(pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED), 0);
    CHECK_EQ(pthread_barrier_init(&s->bar, &ba, 2), 0);
    CHECK_EQ(sem_init(&s->ping, 1, 0), 0);
    CHECK_EQ(sem_init(&s->pong, 1, 0), 0);
    pthread_mutexattr_destroy(&ma);
    pthread_condattr_destroy(&ca);
    pthread_barrierattr_destroy(&ba);
}

static void finish(struct shared *s, pid_t child, const char *how)
{
    int status;
    CHECK_EQ(waitpid(child, &status, 0), child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s child failed (status %#x)", how, status);
    CHECK(s->sum == (long)ROUNDS * 3, "%s: mutex+cond sum %ld, want %ld", how, s->sum, (long)ROUNDS * 3);
    CHECK(atomic_load(&s->semsum) == (long)ROUNDS * 3, "%s: semaphore sum %ld", how, atomic_load(&s->semsum));
    CHECK(atomic_load(&s->serials) == BARRIER_ROUNDS + 1, "%s: %d serial barrier waits, want %d", how,
          atomic_load(&s->serials), BARRIER_ROUNDS + 1);
    int v = -1;
    CHECK(sem_getvalue(&s->ping, &v) == 0 && v == 0, "%s: ping left at %d", how, v);
    CHECK(sem_getvalue(&s->pong, &v) == 0 && v == 0, "%s: pong left at %d", how, v);
    CHECK_EQ(pthread_mutex_destroy(&s->mu), 0);
    CHECK_EQ(pthread_cond_destroy(&s->cv), 0);
    CHECK_EQ(pthread_barrier_destroy(&s->bar), 0);
    CHECK_EQ(sem_destroy(&s->ping), 0);
    CHECK_EQ(sem_destroy(&s->pong), 0);
}

/* Whether libgpm.so is mapped in this process. */
static int gpm_mapped(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    CHECK(f != NULL, "cannot open /proc/self/maps");
    char line[4096];
    int found = 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (strstr(line, "libgpm") != NULL)
            found = 1;
    fclose(f);
    return found;
}

static void on_alarm(int sig)
{
    static const char msg[] = "FAIL pshared: no progress in 60 s (did a child die early?)\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
    }
    _exit(1);
}

/* The exec'd child: argv = {prog, "child", shm name, "gpm"|"nogpm"}. */
static int child_main(char **argv)
{
    int want_gpm = strcmp(argv[3], "gpm") == 0;
    CHECK(gpm_mapped() == want_gpm, "libgpm %s in the exec'd child", want_gpm ? "missing" : "present");
    int fd = shm_open(argv[2], O_RDWR, 0);
    CHECK(fd >= 0, "child shm_open %s", argv[2]);
    struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(s != MAP_FAILED, "child mmap");
    close(fd);
    play(s, 1, NULL);
    return 0;
}

extern char **environ;

/* Variants 2 and 3: fork, exec this program as the child, play. */
static void exec_pair(const char *self, int keep_preload)
{
    char name[64];
    snprintf(name, sizeof name, "/gpm-pshared-%d-%d", (int)getpid(), keep_preload);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0, "shm_open %s", name);
    CHECK_EQ(ftruncate(fd, sizeof(struct shared)), 0);
    struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(s != MAP_FAILED, "mmap %s", name);
    close(fd);
    setup(s);

    /* The child's environment, built before fork. */
    size_t n = 0;
    while (environ[n] != NULL)
        n++;
    char **env = calloc(n + 1, sizeof *env);
    CHECK(env != NULL, "calloc");
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (keep_preload || strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
            env[k++] = environ[i];
    char *args[] = {(char *)self, "child", name, (keep_preload && gpm_mapped()) ? "gpm" : "nogpm", NULL};

    fflush(NULL);
    pid_t child = fork();
    CHECK(child >= 0, "fork");
    if (child == 0) {
        execve("/proc/self/exe", args, env);
        _exit(127);
    }
    play(s, 0, name);
    finish(s, child, keep_preload ? "exec'd (LD_PRELOAD kept)" : "exec'd (without LD_PRELOAD)");
    munmap(s, sizeof *s);
    free(env);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "child") == 0)
        return child_main(argv);
    signal(SIGALRM, on_alarm);
    alarm(60);

    /* 1. A forked child. */
    struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(s != MAP_FAILED, "mmap");
    setup(s);
    fflush(NULL);
    pid_t child = fork();
    CHECK(child >= 0, "fork");
    if (child == 0) {
        play(s, 1, NULL);
        _exit(0);
    }
    play(s, 0, NULL);
    finish(s, child, "forked");
    munmap(s, sizeof *s);

    /* 2. and 3. A fresh program, with and without LD_PRELOAD. */
    exec_pair(argv[0], 1);
    exec_pair(argv[0], 0);
    alarm(0);
    printf("parent and child passed %d turns through a shared mutex+cond, %d through shared semaphores and met %d "
           "times at a shared barrier: forked, exec'd, exec'd without LD_PRELOAD (parent %s libgpm, %s)\n",
           ROUNDS, ROUNDS, BARRIER_ROUNDS + 1, gpm_mapped() ? "with" : "without", test_mode());
    return 0;
}
