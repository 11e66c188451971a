/*
 * Descriptors shared with other processes (issue 10: the netpoller must
 * never change a file's status flags, which every process sharing the
 * open file sees). One case each:
 *   shared  a blocking socketpair, then a pipe pair: a thread of ours
 *           reads one end (blocked until main writes); then a forked child
 *           reads the same end with the system call itself (the syscall
 *           instruction: no gpm, no libc), blocking until we write, and
 *           answers on the other; then a thread of the child reads once
 *           more through libc (under gpm: on a file the parent's poller
 *           already knew, which the child's new poller must learn afresh).
 *           fcntl(F_GETFL) of every end is the same in
 *           the parent before, while our reader is blocked, and after, and
 *           in the child (read with the bare system call too); a bare
 *           read that found O_NONBLOCK would get EAGAIN instead of waiting;
 *   fifo    a thread opens a FIFO for reading and blocks in open until
 *           another process (this program, forked and exec'd, told when
 *           to go through a pipe) opens it for writing; then it blocks in
 *           read until that process writes, then reads the end of the file
 *           when it closes; the reverse too: a thread blocks in open for
 *           writing until a forked child opens the FIFO for reading, and
 *           the child gets what it writes;
 *   stdin   this program, exec'd with standard input a pipe (no tty) and
 *           standard output another, reads stdin in a thread and then in
 *           main: each read blocks until we write a line, and the last
 *           returns 0 when we close the pipe; F_GETFL(0) is unchanged.
 * Each "blocks" is checked by what cannot have happened yet: the call has
 * not returned 100 ms after the thread got to it, and the other process is
 * told to go only then. The watchdog (watchdog.h) names a case that hangs;
 * each child has one of its own, so that a hung child does not outlive the
 * test. Argument: one case name, or none for all ("fifo-writer" and
 * "stdin-reader" are the exec'd helpers).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "np.h"
#include "watchdog.h"

/* The system call itself, past any interposer (x86_64; elsewhere libc's
   syscall(), which gpm passes through for these numbers). */
static long bare(long nr, long a, long b, long c)
{
#if defined(__x86_64__)
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
#else
    long r = syscall(nr, a, b, c);
    return r < 0 ? -errno : r;
#endif
}

/* A child of ours, forked or exec'd, gets a watchdog of its own: a child
   that hangs must not outlive the test. After fork the watchdog's state
   is the parent's copy, but its thread is not there: start another. */
static void child_watchdog(const char *what)
{
    WD_STORE(wd_ready, 0);
    wd_start();
    wd_step(15, "%s", what); /* before the parent's 20 s */
}

static void wait_child(pid_t pid, const char *what)
{
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: child status %#x (exit %d)", what, st,
          WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* ---- shared ---- */

struct reader {
    int fd;
    char buf[16];
    ssize_t ret;
    atomic_int entering;
};

static void *read_once(void *arg)
{
    struct reader *r = arg;
    atomic_store(&r->entering, 1);
    r->ret = read(r->fd, r->buf, sizeof r->buf);
    return NULL;
}

/* A thread reads fd once; returns what it read, which must be want. */
static void thread_reads(int fd, const char *want, void (*meanwhile)(void))
{
    struct reader r = {.fd = fd};
    pthread_t t = spawn(read_once, &r);
    await_at_least(&r.entering, 1);
    sleep_ms(100);
    if (meanwhile != NULL)
        meanwhile();
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK(r.ret == (ssize_t)strlen(want) && memcmp(r.buf, want, strlen(want)) == 0,
          "a thread's read returned %zd (%.*s), wanted %s", r.ret, r.ret > 0 ? (int)r.ret : 0, r.buf, want);
}

/* The ends: the child reads `data` and answers on `ack`; we write `dataw`
   and read `ackr` (for a socketpair, data == ack and dataw == ackr). */
static int data, ack, dataw, ackr;
static int fl[4]; /* F_GETFL of data, ack, dataw, ackr at the start */

static void check_flags(const char *when)
{
    int fds[4] = {data, ack, dataw, ackr};
    for (int i = 0; i < 4; i++) {
        int now_fl = fl_of(fds[i]);
        CHECK(now_fl == fl[i], "%s: F_GETFL of fd %d is %#x, was %#x", when, fds[i], now_fl, fl[i]);
    }
}

static void check_flags_blocked(void)
{
    check_flags("while a thread of ours is blocked reading it");
}

static void write_data_one(void)
{
    check_flags_blocked();
    CHECK_EQ(write(dataw, "one", 3), 3);
}

/* The forked child: bare system calls first, then libc. Exit codes say
   which step failed. */
static void child(void)
{
    int fds[4] = {data, ack, dataw, ackr};
    for (int i = 0; i < 4; i++)
        if (bare(SYS_fcntl, fds[i], F_GETFL, 0) != fl[i])
            _exit(10 + i);
    child_watchdog("shared: the forked child");
    /* The parent's ends: closed, so that the parent's end is the end of
       our stream. */
    close(dataw);
    if (ackr != dataw)
        close(ackr);
    if (bare(SYS_write, ack, (long)"R", 1) != 1)
        _exit(20);
    char buf[16];
    long n = bare(SYS_read, data, (long)buf, sizeof buf);
    if (n == -EAGAIN)
        _exit(21); /* the file was made non-blocking */
    if (n != 3 || memcmp(buf, "two", 3) != 0)
        _exit(22);
    if (bare(SYS_write, ack, (long)"A", 1) != 1)
        _exit(23);
    struct reader r = {.fd = data};
    pthread_t t;
    if (pthread_create(&t, NULL, read_once, &r) != 0 || pthread_join(t, NULL) != 0)
        _exit(24);
    if (r.ret != 3 || memcmp(r.buf, "six", 3) != 0)
        _exit(25);
    if (write(ack, "B", 1) != 1)
        _exit(26);
    if (bare(SYS_fcntl, data, F_GETFL, 0) != fl[0] || bare(SYS_fcntl, ack, F_GETFL, 0) != fl[1])
        _exit(30);
    _exit(0);
}

static void shared(const char *what)
{
    wd_step(20, "shared %s", what);
    int fds[4] = {data, ack, dataw, ackr};
    for (int i = 0; i < 4; i++) {
        fl[i] = fl_of(fds[i]);
        CHECK(!(fl[i] & O_NONBLOCK), "%s: fd %d starts non-blocking", what, fds[i]);
    }
    /* Our own blocked reader first, on the end the child will read. */
    wd_step(20, "shared %s: a thread of ours reads it", what);
    thread_reads(data, "one", write_data_one);
    check_flags("after our reader returned");
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0)
        child();
    wd_step(20, "shared %s: the forked child says it is ready", what);
    thread_reads(ackr, "R", NULL);
    sleep_ms(100); /* the child gets into its bare read (or not: it must wait either way) */
    check_flags("while the child reads");
    wd_step(20, "shared %s: the child's bare read gets what we write", what);
    CHECK_EQ(write(dataw, "two", 3), 3);
    char c = 0;
    CHECK(read(ackr, &c, 1) == 1 && c == 'A', "%s: the child's bare read did not answer (got %d)", what, c);
    sleep_ms(50);
    wd_step(20, "shared %s: a thread of the child reads what we write", what);
    CHECK_EQ(write(dataw, "six", 3), 3);
    CHECK(read(ackr, &c, 1) == 1 && c == 'B', "%s: the child's thread did not answer (got %d)", what, c);
    wd_step(20, "shared %s: the child exits", what);
    wait_child(pid, what);
    check_flags("after the child exited");
    CHECK_EQ(close(data), 0);
    CHECK_EQ(close(dataw), 0);
    if (ack != data)
        CHECK_EQ(close(ack), 0);
    if (ackr != dataw)
        CHECK_EQ(close(ackr), 0);
}

static void case_shared(void)
{
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    data = ack = sv[0];
    dataw = ackr = sv[1];
    shared("socketpair");
    int d[2], a[2];
    CHECK_EQ(pipe(d), 0);
    CHECK_EQ(pipe(a), 0);
    data = d[0];
    dataw = d[1];
    ack = a[1];
    ackr = a[0];
    shared("pipes");
}

/* ---- fifo ---- */

static char fifo_dir[64], fifo_path[96];
static const char fifo_msg[] = "through the fifo\n";

/* Exec'd: fifo-writer PATH GOFD. Each byte read from GOFD is the word for
   the next step: open for writing, write, close. */
static int fifo_writer(const char *path, int go)
{
    child_watchdog("fifo-writer");
    char c;
    if (read(go, &c, 1) != 1)
        return 2;
    int fd = open(path, O_WRONLY);
    if (fd < 0)
        return 3;
    if (read(go, &c, 1) != 1)
        return 4;
    if (write(fd, fifo_msg, sizeof fifo_msg - 1) != (ssize_t)sizeof fifo_msg - 1)
        return 5;
    if (read(go, &c, 1) != 1)
        return 6;
    return close(fd) == 0 ? 0 : 7;
}

struct fifo_end {
    int flags;
    int fd;
    char buf[64];
    ssize_t got;
    atomic_int step; /* 1: in open, 2: in read, 3: in the read for the end, 4: done */
};

static void *fifo_reader(void *arg)
{
    struct fifo_end *e = arg;
    atomic_store(&e->step, 1);
    e->fd = open(fifo_path, O_RDONLY);
    CHECK(e->fd >= 0, "open %s for reading: %s", fifo_path, strerror(errno));
    atomic_store(&e->step, 2);
    e->got = read(e->fd, e->buf, sizeof e->buf);
    atomic_store(&e->step, 3);
    char c;
    ssize_t r = read(e->fd, &c, 1);
    CHECK(r == 0, "fifo: read after the writer closed returned %zd", r);
    CHECK_EQ(close(e->fd), 0);
    atomic_store(&e->step, 4);
    return NULL;
}

/* The thread has got to `step` and stays there 100 ms. */
static void stays(struct fifo_end *e, int step, const char *where)
{
    wd_step(20, "fifo: the reader gets to %s", where);
    await_at_least(&e->step, step);
    sleep_ms(100);
    CHECK(atomic_load(&e->step) == step, "fifo: the reader got past %s before the other process let it", where);
}

static void *fifo_opener_w(void *arg)
{
    struct fifo_end *e = arg;
    atomic_store(&e->step, 1);
    e->fd = open(fifo_path, O_WRONLY);
    CHECK(e->fd >= 0, "open %s for writing: %s", fifo_path, strerror(errno));
    atomic_store(&e->step, 2);
    CHECK_EQ(write(e->fd, fifo_msg, sizeof fifo_msg - 1), (ssize_t)sizeof fifo_msg - 1);
    CHECK_EQ(close(e->fd), 0);
    return NULL;
}

static void case_fifo(void)
{
    strcpy(fifo_dir, "/tmp/gpm-np-fifo-XXXXXX");
    CHECK(mkdtemp(fifo_dir) != NULL, "mkdtemp: %s", strerror(errno));
    snprintf(fifo_path, sizeof fifo_path, "%s/fifo", fifo_dir);
    CHECK(mkfifo(fifo_path, 0600) == 0, "mkfifo: %s", strerror(errno));

    /* Our thread reads; an exec'd writer. */
    int go[2];
    CHECK_EQ(pipe(go), 0);
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        char fd[16];
        snprintf(fd, sizeof fd, "%d", go[0]);
        close(go[1]);
        execl("/proc/self/exe", "np_fork_fifo", "fifo-writer", fifo_path, fd, (char *)NULL);
        _exit(127);
    }
    CHECK_EQ(close(go[0]), 0);
    struct fifo_end e = {0};
    pthread_t t = spawn(fifo_reader, &e);
    stays(&e, 1, "open");
    CHECK_EQ(write(go[1], "o", 1), 1);
    stays(&e, 2, "read");
    CHECK_EQ(write(go[1], "w", 1), 1);
    stays(&e, 3, "the read for the end of the file");
    CHECK(e.got == (ssize_t)sizeof fifo_msg - 1 && memcmp(e.buf, fifo_msg, sizeof fifo_msg - 1) == 0,
          "fifo: read returned %zd", e.got);
    CHECK_EQ(write(go[1], "c", 1), 1);
    CHECK_EQ(pthread_join(t, NULL), 0);
    wait_child(pid, "fifo writer");
    CHECK_EQ(close(go[1]), 0);

    /* Our thread writes; a forked reader. */
    wd_step(20, "fifo: a thread opens it for writing");
    CHECK_EQ(pipe(go), 0);
    pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        child_watchdog("fifo: the forked reader");
        close(go[1]);
        char c, buf[64];
        if (read(go[0], &c, 1) != 1)
            _exit(2);
        int fd = open(fifo_path, O_RDONLY);
        if (fd < 0)
            _exit(3);
        size_t got = 0;
        for (;;) {
            ssize_t r = read(fd, buf + got, sizeof buf - got);
            if (r < 0)
                _exit(4);
            if (r == 0)
                break;
            got += (size_t)r;
        }
        _exit(got == sizeof fifo_msg - 1 && memcmp(buf, fifo_msg, got) == 0 ? 0 : 5);
    }
    struct fifo_end w = {0};
    t = spawn(fifo_opener_w, &w);
    await_at_least(&w.step, 1);
    sleep_ms(100);
    CHECK(atomic_load(&w.step) == 1, "fifo: open for writing returned before any reader opened it");
    CHECK_EQ(write(go[1], "o", 1), 1);
    CHECK_EQ(pthread_join(t, NULL), 0);
    wait_child(pid, "fifo reader");
    close(go[0]);
    close(go[1]);
    CHECK_EQ(unlink(fifo_path), 0);
    CHECK_EQ(rmdir(fifo_dir), 0);
}

/* ---- stdin ---- */

static const char *const lines[2] = {"line one\n", "line two, a little longer\n"};

static void *stdin_thread(void *arg)
{
    (void)arg;
    char buf[64];
    ssize_t r = read(0, buf, sizeof buf);
    CHECK(r == (ssize_t)strlen(lines[0]) && memcmp(buf, lines[0], (size_t)r) == 0,
          "stdin-reader: a thread's read returned %zd", r);
    write_full(1, buf, (size_t)r);
    return NULL;
}

/* Exec'd with stdin and stdout pipes to the test. */
static int stdin_reader(void)
{
    child_watchdog("stdin-reader");
    CHECK(!isatty(0), "stdin-reader: stdin is a tty");
    int f0 = fl_of(0);
    write_full(1, "ready\n", 6);
    pthread_t t = spawn(stdin_thread, NULL);
    CHECK_EQ(pthread_join(t, NULL), 0);
    char buf[64];
    ssize_t r = read(0, buf, sizeof buf);
    CHECK(r == (ssize_t)strlen(lines[1]) && memcmp(buf, lines[1], (size_t)r) == 0, "stdin-reader: main's read returned %zd",
          r);
    write_full(1, buf, (size_t)r);
    r = read(0, buf, sizeof buf);
    CHECK(r == 0, "stdin-reader: read after the writer closed returned %zd", r);
    CHECK(fl_of(0) == f0, "stdin-reader: F_GETFL(0) went from %#x to %#x", f0, fl_of(0));
    write_full(1, "eof\n", 4);
    return 0;
}

static void expect_output(int fd, const char *want)
{
    char buf[64];
    size_t n = strlen(want);
    size_t got = read_full(fd, buf, n);
    CHECK(got == n && memcmp(buf, want, n) == 0, "stdin: the child wrote %.*s, wanted %s", (int)got, buf, want);
}

static void case_stdin(void)
{
    int in[2], out[2];
    CHECK_EQ(pipe(in), 0);
    CHECK_EQ(pipe(out), 0);
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execl("/proc/self/exe", "np_fork_fifo", "stdin-reader", (char *)NULL);
        _exit(127);
    }
    CHECK_EQ(close(in[0]), 0);
    CHECK_EQ(close(out[1]), 0);
    expect_output(out[0], "ready\n");
    for (int i = 0; i < 2; i++) {
        sleep_ms(100); /* the child waits in read (if not yet, it must wait all the same) */
        write_full(in[1], lines[i], strlen(lines[i]));
        expect_output(out[0], lines[i]);
    }
    CHECK_EQ(close(in[1]), 0);
    expect_output(out[0], "eof\n");
    char c;
    CHECK_EQ(read(out[0], &c, 1), 0);
    CHECK_EQ(close(out[0]), 0);
    wait_child(pid, "stdin-reader");
}

static const struct wd_case cases[] = {
    {"shared", case_shared},
    {"fifo", case_fifo},
    {"stdin", case_stdin},
};

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "fifo-writer") == 0)
        return fifo_writer(argv[2], atoi(argv[3]));
    if (argc == 2 && strcmp(argv[1], "stdin-reader") == 0)
        return stdin_reader();
    signal(SIGPIPE, SIG_IGN);
    wd_start();
    struct timespec t0 = now(CLOCK_MONOTONIC);
    int ran = wd_run_cases(cases, sizeof cases / sizeof cases[0], argc, argv, 20, "shared descriptors");
    CHECK(ran > 0, "no case named %s", argv[1]);
    printf("descriptors shared with other processes: %d case(s) in %ld ms (%s)\n", ran, ms_since(t0), test_mode());
    return 0;
}
