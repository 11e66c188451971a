/*
 * src/core/netpoll.h: Gs wait for file readiness on one epoll instance
 * (Go's netpoll.go and netpoll_epoll.go; the design is the essay at the
 * top of netpoll.c).
 */
#ifndef GPM_CORE_NETPOLL_H
#define GPM_CORE_NETPOLL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime.h"

/* What a call waits for. */
enum { GPM_NETIO_READ = 1, GPM_NETIO_WRITE = 2 };

/* How an attempt makes its call: the plain (blocking) form; the socket
   form with MSG_DONTWAIT (or the call's zero timeout); RWF_NOWAIT on a
   pipe or FIFO. */
enum { GPM_NETIO_BLOCK, GPM_NETIO_SOCKNOWAIT, GPM_NETIO_FILENOWAIT };

/* gpm_netio's "not mine": the caller runs the call the old way, between
   entersyscall and exitsyscall. */
#define GPM_NETIO_FALLBACK LONG_MIN

/*
 * A blocking call on one file. attempt(op, fd, how) makes the call once
 * and returns its result, or -errno; but for GPM_NETIO_BLOCK it uses a
 * non-blocking form and returns -EAGAIN where the call would block. fd is
 * the file the call works on (after a close by another thread it is a
 * duplicate gpm keeps for the call, as the kernel keeps the file of a call
 * in progress).
 */
struct gpm_netop {
    long (*attempt)(struct gpm_netop *op, int fd, int how);
    uint8_t dir;        /* GPM_NETIO_READ or GPM_NETIO_WRITE */
    bool socknowait;    /* attempt(nowait) exists on sockets (MSG_DONTWAIT) */
    bool anynowait;     /* attempt(nowait) exists on every file (a zero timeout) */
    bool filenowait;    /* attempt(GPM_NETIO_FILENOWAIT) exists (read, write, readv, writev) */
    bool datacall;      /* moves data: O_NONBLOCK and SO_RCVTIMEO/SO_SNDTIMEO apply */
    bool sotimeo;       /* SO_RCVTIMEO/SO_SNDTIMEO apply (by dir), ending it with ontimeout */
    bool norestart;     /* EINTR even after an SA_RESTART handler (poll, epoll_wait) */
    bool cancelpoint;   /* a pending cancellation ends the wait */
    int64_t deadline;   /* the call's own timeout (monotonic ns), 0: none */
    long ontimeout;     /* what the call returns when deadline passes */
    uint16_t reason;    /* wait reason while parked */
    bool moved;         /* set by attempt: part of the data went (a send goes on) */
};

/*
 * Runs op on fd: parks the calling G while the call would block. Returns
 * the call's result or -errno, or GPM_NETIO_FALLBACK when fd is not for
 * the poller (a regular file, an fd epoll refuses, a G that is not an
 * ordinary one): then the caller makes the call itself.
 * Runs on a G's stack.
 */
long gpm_netio(int fd, struct gpm_netop *op);

/* Whether a data call on fd from the calling G is the program's own call
   and nothing more: fd is a pollable file the program made non-blocking
   (as far as gpm knows, see nonblockingattempt), and the caller a G that
   runs on an M. The shim then makes the call directly, without
   entersyscall, and ends it with gpm_afterwrapped_keeperrno and a
   preemption point. */
bool gpm_netio_isnonblocking(int fd);

/*
 * Waits, as poll(2) with a timeout, for readiness of several files.
 * attempt(op, -1, GPM_NETIO_SOCKNOWAIT) makes the whole call with a zero timeout and
 * returns its result (0: nothing ready) or -errno. fds[i] < 0 are skipped;
 * dirs[i] is what fds[i] waits for (GPM_NETIO_READ | GPM_NETIO_WRITE).
 * Returns as gpm_netio.
 */
long gpm_netio_many(const int *fds, const uint8_t *dirs, int n, struct gpm_netop *op);

/* The most descriptors gpm_netio_many parks on; more: FALLBACK. */
#define GPM_NETIO_MANY_MAX 64

/* The fd shim: what the program does to its descriptors. */
/* close(fd) is about to run: false if fd is gpm's own (EBADF for the
   program). A G waiting on fd keeps waiting on its file (netpoll.c). */
bool gpm_netfd_closing(int fd);
/* fds [lo, hi] are about to be closed (close_range): hands Gs waiting on
   them their own duplicates. gpm's own fds must be skipped by the caller:
   gpm_netfd_isown. */
void gpm_netfd_closingrange(unsigned lo, unsigned hi);
bool gpm_netfd_isown(int fd);
/* gpm's own descriptors in [lo, hi], ascending, into out (at most max);
   returns how many. */
int gpm_netfd_ownin(unsigned lo, unsigned hi, int *out, int max);
#define GPM_NETFD_OWNMAX 256
/* dup2/dup3 onto newfd is about to run: false if newfd is gpm's own, which
   then moves out of the way; call again. */
bool gpm_netfd_replacing(int newfd);
/* fd is a new socket of the program (socket, socketpair, accept): its
   kind is known, and nonblocking as given. Its SO_RCVTIMEO and SO_SNDTIMEO
   are known too: none for a socket just made (parent -1); an accepted one
   has its listener's (parent), when gpm knows them. */
void gpm_netfd_newsocket(int fd, bool nonblocking, int parent);
/* fd was just made (open, pipe, dup, ...): what gpm knew of the number
   is stale. */
void gpm_netfd_new(int fd);
/* fd is a socket this process made (socket, socketpair, accept) since its
   last fork or spawn: no other process can have its file description. */
bool gpm_netfd_private(int fd);
/* A fork or a spawn: a child now shares the file descriptions, and may
   change their flags. */
void gpm_netfd_sharing(void);
/* The status flags of some file description changed (F_SETFL, FIONBIO):
   cached O_NONBLOCK knowledge is stale everywhere (a description may be
   shared by several fds). */
void gpm_netfd_flagschanged(void);
/* SO_RCVTIMEO or SO_SNDTIMEO of socket fd was set. */
void gpm_netfd_timeochanged(int fd);

/* Grows the descriptor table to cover where the poller's descriptors will
   go, at start-up, while the process has one thread ("The scheduler's
   side" in netpoll.c). Leaves no descriptor open. */
void gpm_netpoll_reservefds(void);

/* The scheduler's side (sched.c, sysmon.c). */
/* Whether any G waits in the poller (one load). */
bool gpm_netpoll_waiting(void);
/*
 * Polls for ready files: waits up to delay ns (0: not at all, < 0:
 * forever, until gpm_netpoll_break). Returns the Gs made runnable (status
 * G_RUNNABLE), linked through schedlink, and their number in *n.
 * No thread-local state (runs on g0 and sysmon).
 */
struct gpm_g *gpm_netpoll(int64_t delay, int32_t *n);
/* Becomes the one M that blocks in the poller (false: another does or
   did not long ago) / is done with it. The blocking M publishes when it
   will wake, so that an earlier timer interrupts it (gpm_wake_timerm). */
bool gpm_netpoll_claim(int64_t until);
void gpm_netpoll_unclaim(int64_t now);
int64_t gpm_netpoll_until(void);
/* The time of the last poll, 0 while an M blocks in one. */
int64_t gpm_netpoll_last(void);
bool gpm_netpoll_claimnb(int64_t last);
/* Makes a blocked gpm_netpoll return now. */
void gpm_netpoll_break(void);
/* fork.c, in the child: a poller of its own, made on first use. */
void gpm_netpoll_forkchild(void);

#endif
