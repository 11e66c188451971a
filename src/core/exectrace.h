/*
 * src/core/exectrace.h: the execution trace (GPM_TRACE, docs/TRACE.md).
 *
 * The scheduler records what it does as fixed-size binary events, each M
 * into a chunk of its own; a writer thread turns them into the Chrome
 * trace-event JSON that docs/TRACE.md describes. Recording sites call
 * GPM_TRACE_EV, which costs one predictable branch when tracing is off.
 */
#ifndef GPM_CORE_EXECTRACE_H
#define GPM_CORE_EXECTRACE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime.h"
#include "sys.h"

/* Event types. The comment gives what g, x, p and arg hold (p is a P's
   id + 1, 0 for none; goids are 0 for none). */
enum gpm_traceevtype {
    TEV_GSTART = 1, /* g starts running on the recording M, with P p */
    TEV_GSTOP,      /* g stops: why (TSTOP_*); park: x waitreason, arg object */
    TEV_SYSCALL,    /* g enters a wrapped blocking system call */
    TEV_SYSRET,     /* g leaves it */
    TEV_CREATE,     /* g created by G x (low 32 bits of its goid), arg start function */
    TEV_READY,      /* g made runnable by G arg (0: no G) */
    TEV_NAME,       /* g's name, bytes 8x..8x+7 in arg (x 0 or 1) */
    TEV_PREEMPT,    /* sysmon asks g, on M arg, to yield */
    TEV_RETAKE,     /* P p taken from M arg (sysmon, or an M back from a system call) */
    TEV_HANDOFF,    /* the recording M gives P p away, in a system call */
    TEV_STEAL,      /* the recording M took Gs from P p's run queue */
    TEV_TIMER,      /* a timer fired arg ns after it was due */
    TEV_NETPOLL,    /* a poll found x Gs ready */
    TEV_PCHANGE,    /* g, running on the recording M, now holds P p */
    TEV_GSWITCH,    /* G arg stops (why: yield, preempt) and g starts, with P p */
    TEV_NTYPES
};

/* Why a G stopped running (TEV_GSTOP's why). */
enum gpm_tracestop {
    TSTOP_PARK = 1,
    TSTOP_YIELD,
    TSTOP_PREEMPT,
    TSTOP_EXIT,
    TSTOP_REQUEUE, /* back from a system call (or running) without a P */
};

/* One event: 32 bytes. ts is the cycle counter (rdtsc) where it ticks at
   a constant rate, else CLOCK_MONOTONIC read by a raw system call: not
   through libc's vDSO, which the preemption signal treats as the
   program's code (preempt.c), and recording sites run unpinned. */
struct gpm_traceev {
    uint64_t ts;
    uint8_t type;
    uint8_t why;
    uint16_t p;
    uint32_t x;
    uint64_t g;
    uint64_t arg;
};

/* A chunk of events of one track ("Recording" in exectrace.c). */
#define GPM_TRACECHUNK_BYTES 16384
#define GPM_TRACECHUNK_EVENTS (GPM_TRACECHUNK_BYTES / sizeof(struct gpm_traceev) - 1)

struct gpm_tracechunk {
    struct gpm_tracechunk *next; /* trace.full; trace.lock */
    uint64_t seq;                /* order of the chunks of a track; trace.lock */
    uint32_t track;              /* 0: the shared track; M id + 1 */
    uint32_t pins;               /* renders reading it; trace.lock */
    /* Events written: store-release by the track's recorder after the
       event, load-acquire by a render. */
    _Atomic uint32_t n;
    uint32_t pad;
    struct gpm_traceev ev[GPM_TRACECHUNK_EVENTS];
};

/* Whether tracing is on: set once at start-up, cleared in a forked child. */
extern bool gpm_tracing;
/* Whether timestamps are the cycle counter (else gpm_tracets_slow). */
extern bool gpm_tracetsc;

/* CLOCK_MONOTONIC by a raw system call, for hosts without a constant TSC. */
uint64_t gpm_tracets_slow(void);

/* The slow path of gpm_traceev: the shared track, or a new chunk. */
void gpm_traceev_slow(struct gpm_m *mp, uint8_t type, uint8_t why, uint16_t p, uint32_t x, uint64_t g,
                      uint64_t arg);

/* Writes event n of chunk c (n < GPM_TRACECHUNK_EVENTS), whose only
   writer the caller is, and publishes it. */
static inline void gpm_traceput(struct gpm_tracechunk *c, uint32_t n, uint8_t type, uint8_t why, uint16_t p,
                                uint32_t x, uint64_t g, uint64_t arg)
{
    struct gpm_traceev *e = &c->ev[n];
    e->ts = __builtin_expect(gpm_tracetsc, 1) ? __builtin_ia32_rdtsc() : gpm_tracets_slow();
    e->type = type;
    e->why = why;
    e->p = p;
    e->x = x;
    e->g = g;
    e->arg = arg;
    /* release: the event is complete for a render that sees the count. */
    atomic_store_explicit(&c->n, n + 1, memory_order_release);
}

/* Records an event for mp's track, or the shared track ("sysmon & other
   threads") when mp is NULL. mp must be the calling kernel thread's M. */
static inline void gpm_traceev(struct gpm_m *mp, uint8_t type, uint8_t why, uint16_t p, uint32_t x, uint64_t g,
                               uint64_t arg)
{
    struct gpm_tracechunk *c = mp != NULL ? mp->tracechunk : NULL;
    uint32_t n;
    if (__builtin_expect(c == NULL || (n = atomic_load_explicit(&c->n, memory_order_relaxed)) ==
                                          GPM_TRACECHUNK_EVENTS, 0)) {
        gpm_traceev_slow(mp, type, why, p, x, g, arg);
        return;
    }
    gpm_traceput(c, n, type, why, p, x, g, arg);
}

/* Whether to record: the one branch a recording site costs when tracing
   is off. Built with -DGPM_NO_EXECTRACE (the benchmarks' libgpm-notrace,
   which measures that branch), constant false. */
#ifdef GPM_NO_EXECTRACE
#define GPM_TRACING() false
#else
#define GPM_TRACING() __builtin_expect(gpm_tracing, 0)
#endif

#define GPM_TRACE_EV(mp, type, why, p, x, g, arg)                                                   \
    do {                                                                                            \
        if (GPM_TRACING())                                                                          \
            gpm_traceev((mp), (type), (why), (uint16_t)(p), (uint32_t)(x), (uint64_t)(g), (uint64_t)(arg)); \
    } while (0)

/* The id + 1 of pp, 0 for NULL: the p of an event. */
#define GPM_TRACE_P(pp) ((pp) != NULL ? (uint16_t)((pp)->id + 1) : (uint16_t)0)
/* A G's id, 0 for NULL. */
#define GPM_TRACE_GOID(gp) ((gp) != NULL ? (gp)->goid : (uint64_t)0)

/* mp is about to park idle (stopm): gives its chunk back to be recycled
   when Ms are many for the arena. Called by mp. */
void gpm_trace_mpark(struct gpm_m *mp);

/* Records gp's name (two TEV_NAME events). */
void gpm_trace_name(struct gpm_m *mp, struct gpm_g *gp);

/* Starts tracing when GPM_TRACE is set: the chunks, G1's creation, the
   writer thread, the final render at exit. Runs once, at start-up, with
   G1 running on M0. */
void gpm_exectrace_start(struct gpm_g *g1);

/* In a forked child: stop recording and never write the parent's file. */
void gpm_exectrace_forkchild(void);

#endif
