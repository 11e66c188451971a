/*
 * Wrapped blocking calls keep libc's results exactly: return values and
 * errno on failure, partial reads, timeouts of poll and select, EPIPE, and
 * EINTR when a signal handler installed without SA_RESTART interrupts a
 * blocking read (SIGALRM, taken by the main thread, which is the one
 * blocked). The EINTR case runs while the program has one thread: under gpm
 * a process-directed signal goes to whichever kernel thread the kernel
 * picks, which need not be the one running a given G (signal delivery to
 * Gs is not done yet: docs/COMPAT.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define CHECK_ERR(call, want)                                                            \
    do {                                                                                 \
        errno = 0;                                                                       \
        long r_ = (long)(call);                                                          \
        CHECK(r_ == -1 && errno == (want), "%s: returned %ld, errno %d (want %d)", #call, r_, errno, want); \
    } while (0)

static atomic_int alarms;
static void onalarm(int sig)
{
    (void)sig;
    atomic_fetch_add(&alarms, 1);
}

static void *from_thread(void *arg)
{
    char c;
    CHECK_ERR(read(-1, &c, 1), EBADF);
    CHECK_ERR(waitpid(-1, NULL, 0), ECHILD);
    CHECK_ERR(syscall(SYS_read, -1, &c, 1), EBADF);
    return arg;
}

int main(void)
{
    char buf[16];
    CHECK_ERR(read(-1, buf, 1), EBADF);
    CHECK_ERR(write(-1, buf, 1), EBADF);
    CHECK_ERR(recv(0, buf, 1, MSG_DONTWAIT), ENOTSOCK);
    CHECK_ERR(waitpid(-1, NULL, 0), ECHILD);
    CHECK_ERR(open("/nonexistent/gpm", O_RDONLY), ENOENT);
    CHECK_ERR(syscall(SYS_read, -1, buf, 1), EBADF);
    CHECK_ERR(fcntl(-1, F_GETFL), EBADF);

    int p[2];
    CHECK_EQ(pipe(p), 0);
    CHECK_EQ(write(p[1], "abc", 3), 3);
    CHECK_EQ(read(p[0], buf, sizeof buf), 3); /* a partial read */
    struct pollfd pf = {.fd = p[0], .events = POLLIN};
    CHECK_EQ(poll(&pf, 1, 20), 0);
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    struct timeval tv = {0, 20000};
    CHECK_EQ(select(p[0] + 1, &rs, NULL, NULL, &tv), 0);
    CHECK_EQ(fcntl(p[0], F_GETFL) & O_ACCMODE, O_RDONLY);
    CHECK_EQ(syscall(SYS_getpid), getpid());

    struct sigaction sa = {.sa_handler = onalarm}; /* no SA_RESTART */
    CHECK_EQ(sigaction(SIGALRM, &sa, NULL), 0);
    alarm(1);
    CHECK_ERR(read(p[0], buf, 1), EINTR);
    CHECK_EQ(atomic_load(&alarms), 1);

    /* And the same calls from a thread. */
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, from_thread, NULL), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);

    signal(SIGPIPE, SIG_IGN);
    close(p[0]);
    CHECK_ERR(write(p[1], "x", 1), EPIPE);
    close(p[1]);
    printf("wrapped calls return what libc returns, errno and EINTR included\n");
    return 0;
}
