/*
 * Blocking calls do not stall the other threads of a P. Run with
 * GPM_MAXPROCS=1 under gpm (one P): a thread blocked in read on an empty
 * pipe, in accept, in waitpid, in syscall(SYS_read) and in fgets (libc's
 * own internal read, which gpm cannot wrap) each waits for a
 * byte (or a connection, or a child's exit) that only another thread,
 * which must therefore get to run, provides. Then 1,000 threads block in
 * read on pipes of their own and are released one by one: under gpm they
 * park in the poller, on at most GPM_MAXPROCS + a few kernel threads (with
 * GPM_NETPOLL=0, kernel threads grow to carry the blocked calls instead),
 * the work completes, and the kernel threads then park (none keeps
 * running).
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tasks.h"

static int pfd[2];

/* The provider: runs only if the blocked thread's P was handed on. */
static void *write_byte(void *arg)
{
    (void)arg;
    usleep(20000);
    CHECK_EQ(write(pfd[1], "x", 1), 1);
    return NULL;
}

enum { VIA_READ, VIA_SYSCALL, VIA_FGETS };

static void blocked_read(int via)
{
    CHECK_EQ(pipe(pfd), 0);
    FILE *f = via == VIA_FGETS ? fdopen(pfd[0], "r") : NULL;
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, write_byte, NULL), 0);
    char buf[4] = {0};
    long n;
    if (via == VIA_FGETS)
        n = fgets(buf, 2, f) != NULL ? (long)strlen(buf) : -1;
    else
        n = via == VIA_SYSCALL ? syscall(SYS_read, pfd[0], buf, 1) : read(pfd[0], buf, 1);
    CHECK(n == 1 && buf[0] == 'x', "read %d returned %ld", via, n);
    CHECK_EQ(pthread_join(t, NULL), 0);
    if (f != NULL)
        fclose(f);
    else
        close(pfd[0]);
    close(pfd[1]);
}

static int lport;

static void *connector(void *arg)
{
    (void)arg;
    usleep(20000);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)lport),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK_EQ(connect(s, (struct sockaddr *)&a, sizeof a), 0);
    CHECK_EQ(write(s, "y", 1), 1);
    close(s);
    return NULL;
}

static void blocked_accept(void)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    CHECK_EQ(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    CHECK_EQ(listen(l, 4), 0);
    CHECK_EQ(getsockname(l, (struct sockaddr *)&a, &al), 0);
    lport = ntohs(a.sin_port);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, connector, NULL), 0);
    int c = accept(l, NULL, NULL);
    CHECK(c >= 0, "accept");
    char b = 0;
    CHECK_EQ(read(c, &b, 1), 1);
    CHECK_EQ(b, 'y');
    CHECK_EQ(pthread_join(t, NULL), 0);
    close(c);
    close(l);
}

/* waitpid for a child that exits only when a thread of ours tells it to. */
static void *release_child(void *arg)
{
    usleep(20000);
    CHECK_EQ(write((int)(intptr_t)arg, "z", 1), 1);
    return NULL;
}

static void blocked_waitpid(void)
{
    int go[2];
    CHECK_EQ(pipe(go), 0);
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        char c;
        _exit(read(go[0], &c, 1) == 1 ? 7 : 1);
    }
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, release_child, (void *)(intptr_t)go[1]), 0);
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7, "child status %#x", st);
    CHECK_EQ(pthread_join(t, NULL), 0);
    close(go[0]);
    close(go[1]);
}

enum { NREADERS = 1000 };
static int rp[NREADERS][2];
static atomic_int nread;

static void *reader(void *arg)
{
    int i = (int)(intptr_t)arg;
    char c;
    CHECK_EQ(read(rp[i][0], &c, 1), 1);
    CHECK_EQ(c, (char)i);
    atomic_fetch_add(&nread, 1);
    return NULL;
}

int main(void)
{
    blocked_read(VIA_READ);
    blocked_read(VIA_SYSCALL);
    blocked_read(VIA_FGETS);
    blocked_accept();
    blocked_waitpid();

    static pthread_t t[NREADERS];
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    for (int i = 0; i < NREADERS; i++) {
        CHECK_EQ(pipe(rp[i]), 0);
        CHECK_EQ(pthread_create(&t[i], &attr, reader, (void *)(intptr_t)i), 0);
    }
    /* Let them all reach their read and block there. */
    for (int i = 0; i < 50; i++)
        usleep(10000);
    int tasks = count_tasks();
    const char *np = getenv("GPM_NETPOLL");
    if (under_gpm() && np != NULL && strcmp(np, "0") == 0)
        CHECK(tasks > 10, "%d kernel threads for %d blocked readers: the blocked calls kept their Ps", tasks, NREADERS);
    else if (under_gpm())
        CHECK(tasks <= max_tasks_under_gpm(), "%d kernel threads for %d readers parked in the poller", tasks,
              NREADERS);
    for (int i = 0; i < NREADERS; i++) {
        char c = (char)i;
        CHECK_EQ(write(rp[i][1], &c, 1), 1);
    }
    for (int i = 0; i < NREADERS; i++) {
        CHECK_EQ(pthread_join(t[i], NULL), 0);
        close(rp[i][0]);
        close(rp[i][1]);
    }
    CHECK_EQ(atomic_load(&nread), NREADERS);
    /* Afterwards the extra kernel threads are parked, not spinning: only
       this one runs (allow one more caught between steps). The Ms that
       woke this thread from its sleep may still be on their way back to
       sleep when it looks, so it looks a few times: an M that spins is
       seen every time. */
    usleep(100000);
    int running = 0;
    for (int i = 0; i < 10 && (running = count_running_tasks()) > 2; i++)
        usleep(20000);
    CHECK(running <= 2, "%d kernel threads still running after the readers finished", running);
    printf("read, syscall(SYS_read), fgets, accept and waitpid let other threads run; %d blocked readers (on %d kernel "
           "threads) released\n", NREADERS, tasks);
    return 0;
}
