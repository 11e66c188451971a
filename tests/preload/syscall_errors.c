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
#include <mqueue.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/uio.h>
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
    struct iovec iov = {buf, 1};
    CHECK_ERR(readv(-1, &iov, 1), EBADF);
    CHECK_ERR(writev(-1, &iov, 1), EBADF);
    CHECK_ERR(pread(-1, buf, 1, 0), EBADF);
    CHECK_ERR(pwrite(-1, buf, 1, 0), EBADF);
    CHECK_ERR(preadv(-1, &iov, 1, 0), EBADF);
    CHECK_ERR(pwritev(-1, &iov, 1, 0), EBADF);
    CHECK_ERR(recvfrom(0, buf, 1, MSG_DONTWAIT, NULL, NULL), ENOTSOCK);
    CHECK_ERR(sendto(0, buf, 1, 0, NULL, 0), ENOTSOCK);
    CHECK_ERR(send(0, buf, 1, 0), ENOTSOCK);
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    CHECK_ERR(recvmsg(0, &mh, MSG_DONTWAIT), ENOTSOCK);
    CHECK_ERR(sendmsg(0, &mh, 0), ENOTSOCK);
    CHECK_ERR(accept(0, NULL, NULL), ENOTSOCK);
    CHECK_ERR(accept4(0, NULL, NULL, 0), ENOTSOCK);
    struct sockaddr sa0 = {.sa_family = AF_UNIX};
    CHECK_ERR(connect(0, &sa0, sizeof sa0), ENOTSOCK);
    struct epoll_event ev;
    CHECK_ERR(epoll_wait(-1, &ev, 1, 0), EBADF);
    CHECK_ERR(wait(NULL), ECHILD);
    CHECK_ERR(wait3(NULL, WNOHANG, NULL), ECHILD);
    CHECK_ERR(wait4(-1, NULL, WNOHANG, NULL), ECHILD);
    siginfo_t si;
    CHECK_ERR(waitid(P_ALL, 0, &si, WEXITED | WNOHANG), ECHILD);
    CHECK_ERR(fsync(-1), EBADF);
    CHECK_ERR(fdatasync(-1), EBADF);
    CHECK_ERR(flock(-1, LOCK_EX), EBADF);
    CHECK_ERR(lockf(-1, F_LOCK, 0), EBADF);
    CHECK_ERR(openat(AT_FDCWD, "/nonexistent/gpm", O_RDONLY), ENOENT);
    struct flock fl = {.l_type = F_WRLCK};
    CHECK_ERR(fcntl(-1, F_SETLKW, &fl), EBADF);
    CHECK_ERR(msgrcv(-1, buf, 1, 0, IPC_NOWAIT), EINVAL);
    CHECK_ERR(mq_receive((mqd_t)-1, buf, sizeof buf, NULL), EBADF);
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    struct timespec zero = {0, 0};
    CHECK_ERR(sigtimedwait(&usr2, NULL, &zero), EAGAIN);
    CHECK_EQ(ppoll(NULL, 0, &zero, NULL), 0);
    CHECK_EQ(pselect(0, NULL, NULL, NULL, &zero, NULL), 0);

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
