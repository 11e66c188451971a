/*
 * src/core/exectrace.c: the execution trace (GPM_TRACE; the file's format
 * is docs/TRACE.md's).
 *
 * Recording
 * ---------
 * Events are 32-byte records (exectrace.h) written into chunks of 16 KiB.
 * A track is who records: each M into its own chunk (mp->tracechunk),
 * written by that M's kernel thread alone, so the common case takes no
 * lock and no atomic read-modify-write: a cycle-counter read, the stores,
 * and a store-release of the chunk's count. Everything that is not an M
 * (sysmon, foreign threads, timer functions sysmon runs) shares one track,
 * whose chunk is taken with a try-lock: a thread that finds it busy a
 * hundred times drops its event rather than wait (a program's signal
 * handler on a foreign thread may interrupt a recording on that thread).
 * An M's recording is never interrupted by another recording on the same
 * M: the program's signal handlers do not run inside gpm ("Delivery" in
 * signal.c), and gpm's code is never preempted asynchronously.
 *
 * A full chunk goes on the FIFO of full chunks (trace.full). A track that
 * needs a chunk carves one from the arena (GPM_TRACE_MB/2 MiB, reserved
 * up front, touched as used); when the arena is spent, it takes the oldest
 * full chunk that no render is reading, and counts its events as dropped:
 * the newest events are the ones kept. droppedts is the newest timestamp
 * of any dropped event: the render skips everything at or before it, so
 * that every track it shows is complete from there on. When every full
 * chunk is being read, a chunk is mapped beyond the arena (at most as many
 * again); past that, the event is lost (counted as dropped). A chunk
 * that is not full is recycled only once its M retires it: an M that
 * parks idle does (gpm_trace_mpark) when there are many Ms for the arena,
 * so that idle Ms do not keep most of it.
 *
 * Rendering
 * ---------
 * A writer thread renders about once a second, less often when a render
 * takes long (every 20 render times at least, so it uses at most 5% of a
 * CPU), and the exit renders a last time. A render pins the chunks it will
 * read under trace.lock, together with each chunk's count (load-acquire,
 * pairing with the recorder's store-release: the events below the count
 * are complete), then works without the lock: events ordered by time (the
 * order within a track kept, timestamps clamped not to go backwards
 * there), run through a model of each M's and P's state (which G runs,
 * whether it is in a system call) that turns them into balanced begin/end
 * spans and instants. The first pass only counts bytes; when the file would
 * exceed GPM_TRACE_MB, the second pass starts emitting later, with the
 * spans open at that point begun there. The file is written to FILE.tmp
 * and renamed over FILE.
 *
 * Lock order: trace.sharedlock, then trace.lock; both below every other
 * lock of gpm (lock.h): events are recorded with scheduler, timer and
 * semtable locks held. trace.renderlock is taken with no other lock held.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "env.h"
#include "exectrace.h"
#include "gsig.h"
#include "lock.h"
#include "print.h"
#include "runtime.h"
#include "sys.h"

bool gpm_tracing;

#define CHUNK_BYTES GPM_TRACECHUNK_BYTES
#define CHUNK_EVENTS GPM_TRACECHUNK_EVENTS
_Static_assert(sizeof(struct gpm_tracechunk) == CHUNK_BYTES, "a chunk is 16 KiB");
bool gpm_tracetsc;

static struct {
    struct gpm_mutex lock; /* everything below to droppedts */
    char *arena;
    size_t narena, ncarved; /* chunks in the arena, chunks carved */
    size_t nextra;          /* chunks mapped beyond it */
    struct gpm_tracechunk *fullhead, *fulltail;
    size_t nfull;
    uint64_t seq;
    uint64_t dropped;   /* events in recycled chunks */
    uint64_t droppedts; /* the newest timestamp among them */
    struct gpm_tracechunk *shared; /* the shared track's chunk; set under both locks */

    struct gpm_mutex sharedlock;
    _Atomic uint64_t lost; /* events not recorded: no chunk, or the shared track busy */

    uint64_t ts0; /* timestamp and CLOCK_MONOTONIC at the start */
    int64_t ns0;

    struct gpm_mutex renderlock;
    bool finished; /* the exit's render was written; renderlock */
    char path[4096], tmppath[4100];
    size_t maxbytes;
} trace;

/* ---- Recording ------------------------------------------------------------ */

uint64_t gpm_tracets_slow(void)
{
    struct timespec ts;
    gpm_syscall2(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&ts);
    return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static inline uint64_t tracets(void)
{
    return gpm_tracetsc ? __builtin_ia32_rdtsc() : gpm_tracets_slow();
}

/* A chunk for track, or NULL: carved, recycled, or mapped. trace.lock held. */
static struct gpm_tracechunk *takechunk(uint32_t track)
{
    struct gpm_tracechunk *c = NULL;
    if (trace.ncarved < trace.narena) {
        c = (struct gpm_tracechunk *)(trace.arena + trace.ncarved++ * CHUNK_BYTES);
    } else {
        struct gpm_tracechunk **pc = &trace.fullhead, *prev = NULL;
        for (; *pc != NULL; prev = *pc, pc = &(*pc)->next) {
            if ((*pc)->pins != 0)
                continue;
            c = *pc;
            *pc = c->next;
            if (trace.fulltail == c)
                trace.fulltail = prev;
            trace.nfull--;
            uint32_t n = atomic_load_explicit(&c->n, memory_order_relaxed);
            trace.dropped += n;
            if (n > 0 && c->ev[n - 1].ts > trace.droppedts)
                trace.droppedts = c->ev[n - 1].ts;
            break;
        }
    }
    if (c == NULL && trace.nextra < trace.narena) {
        void *m = gpm_mmap(NULL, CHUNK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (gpm_mmap_failed(m))
            return NULL;
        trace.nextra++;
        c = m;
    }
    if (c == NULL)
        return NULL;
    c->next = NULL;
    c->seq = ++trace.seq;
    c->track = track;
    c->pins = 0;
    atomic_store_explicit(&c->n, 0, memory_order_relaxed);
    return c;
}

/* Puts a full chunk at the FIFO's tail. trace.lock held. */
static void retirechunk(struct gpm_tracechunk *c)
{
    if (c == NULL)
        return;
    if (trace.fulltail != NULL)
        trace.fulltail->next = c;
    else
        trace.fullhead = c;
    trace.fulltail = c;
    trace.nfull++;
}

static bool trylock(struct gpm_mutex *l)
{
    uint32_t v = 0;
    return atomic_compare_exchange_strong_explicit(&l->key, &v, 1, memory_order_acquire, memory_order_relaxed);
}

static void sharedev(uint8_t type, uint8_t why, uint16_t p, uint32_t x, uint64_t g, uint64_t arg)
{
    for (int i = 0; !trylock(&trace.sharedlock); i++) {
        if (i == 100) {
            atomic_fetch_add_explicit(&trace.lost, 1, memory_order_relaxed);
            return;
        }
        gpm_cpu_relax();
    }
    struct gpm_tracechunk *c = trace.shared;
    uint32_t n = c != NULL ? atomic_load_explicit(&c->n, memory_order_relaxed) : CHUNK_EVENTS;
    if (n == CHUNK_EVENTS) {
        gpm_lock(&trace.lock);
        retirechunk(c);
        c = trace.shared = takechunk(0);
        gpm_unlock(&trace.lock);
        n = 0;
    }
    if (c != NULL)
        gpm_traceput(c, n, type, why, p, x, g, arg);
    else
        atomic_fetch_add_explicit(&trace.lost, 1, memory_order_relaxed);
    gpm_unlock(&trace.sharedlock);
}

void gpm_traceev_slow(struct gpm_m *mp, uint8_t type, uint8_t why, uint16_t p, uint32_t x, uint64_t g,
                      uint64_t arg)
{
    if (mp == NULL) {
        sharedev(type, why, p, x, g, arg);
        return;
    }
    struct gpm_tracechunk *c = mp->tracechunk;
    gpm_lock(&trace.lock);
    if (c != NULL)
        retirechunk(c);
    c = mp->tracechunk = takechunk((uint32_t)mp->id + 1);
    gpm_unlock(&trace.lock);
    if (c == NULL) {
        atomic_fetch_add_explicit(&trace.lost, 1, memory_order_relaxed);
        return;
    }
    gpm_traceput(c, 0, type, why, p, x, g, arg);
}

void gpm_trace_mpark(struct gpm_m *mp)
{
    struct gpm_tracechunk *c = mp->tracechunk;
    if (c == NULL || atomic_load_explicit(&c->n, memory_order_relaxed) == 0)
        return;
    /* Only when the Ms' current chunks could hold a large share of the
       arena: a chunk retired part full wastes the rest of it. */
    if ((size_t)gpm_sched.mnext * 4 < trace.narena)
        return;
    gpm_lock(&trace.lock);
    retirechunk(c);
    mp->tracechunk = NULL;
    gpm_unlock(&trace.lock);
}

void gpm_trace_name(struct gpm_m *mp, struct gpm_g *gp)
{
    uint64_t w[2];
    memcpy(w, gp->name, sizeof w);
    gpm_traceev(mp, TEV_NAME, 0, 0, 0, gp->goid, w[0]);
    gpm_traceev(mp, TEV_NAME, 0, 0, 1, gp->goid, w[1]);
}

/* ---- Output buffer ---------------------------------------------------------- */

/* Where a render writes: a growing buffer, or nowhere (counting, or muted
   before the cut-off, when only the length or nothing advances). */
struct out {
    char *buf;
    size_t len, cap;
    bool counting;
    bool muted;
    bool failed; /* out of memory */
};

static void outn(struct out *o, const char *s, size_t n)
{
    if (o->muted)
        return;
    if (!o->counting) {
        if (o->len + n > o->cap) {
            size_t cap = o->cap < 65536 ? 65536 : o->cap;
            while (cap < o->len + n)
                cap *= 2;
            char *b = realloc(o->buf, cap);
            if (b == NULL) {
                o->failed = true;
                o->muted = true;
                return;
            }
            o->buf = b;
            o->cap = cap;
        }
        memcpy(o->buf + o->len, s, n);
    }
    o->len += n;
}

static void outs(struct out *o, const char *s)
{
    outn(o, s, strlen(s));
}

static void outu(struct out *o, uint64_t v)
{
    char b[24];
    int i = sizeof b;
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    outn(o, b + i, sizeof b - (size_t)i);
}

static void outhex(struct out *o, uint64_t v)
{
    char b[24];
    int i = sizeof b;
    do {
        b[--i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v != 0);
    b[--i] = 'x';
    b[--i] = '0';
    outn(o, b + i, sizeof b - (size_t)i);
}

/* ns as microseconds with three decimals. */
static void outts(struct out *o, uint64_t ns)
{
    outu(o, ns / 1000);
    char b[4] = {'.', (char)('0' + ns / 100 % 10), (char)('0' + ns / 10 % 10), (char)('0' + ns % 10)};
    outn(o, b, 4);
}

/* s[0..n) (up to a NUL) as a JSON string's contents. */
static void outjson(struct out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n && s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char b[2] = {'\\', (char)c};
            outn(o, b, 2);
        } else if (c < 0x20 || c >= 0x7f) {
            /* Not valid UTF-8 byte by byte in general: escape as a code point. */
            char b[6] = {'\\', 'u', '0', '0', "0123456789abcdef"[c >> 4], "0123456789abcdef"[c & 15]};
            outn(o, b, 6);
        } else {
            outn(o, (const char *)&c, 1);
        }
    }
}

/* ---- Rendering: tables ---------------------------------------------------- */

/* G names, by goid: open addressing, grown at half full. */
struct gname {
    uint64_t goid; /* 0: empty slot */
    char name[16];
};

struct nametab {
    struct gname *slots;
    size_t cap, n;
};

static uint64_t hash64(uint64_t v)
{
    v ^= v >> 33;
    v *= 0xff51afd7ed558ccdULL;
    v ^= v >> 33;
    return v;
}

static struct gname *nameslot(struct nametab *t, uint64_t goid, bool add)
{
    if (add && (t->n + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        struct gname *s = calloc(cap, sizeof *s);
        if (s == NULL)
            return NULL;
        for (size_t i = 0; i < t->cap; i++)
            if (t->slots[i].goid != 0) {
                size_t j = hash64(t->slots[i].goid) & (cap - 1);
                while (s[j].goid != 0)
                    j = (j + 1) & (cap - 1);
                s[j] = t->slots[i];
            }
        free(t->slots);
        t->slots = s;
        t->cap = cap;
    }
    if (t->cap == 0)
        return NULL;
    size_t j = hash64(goid) & (t->cap - 1);
    while (t->slots[j].goid != 0 && t->slots[j].goid != goid)
        j = (j + 1) & (t->cap - 1);
    if (t->slots[j].goid == 0) {
        if (!add)
            return NULL;
        t->slots[j].goid = goid;
        memset(t->slots[j].name, 0, sizeof t->slots[j].name);
        t->n++;
    }
    return &t->slots[j];
}

/* Start functions' symbols, by address (few distinct ones). */
struct fnsym {
    uint64_t addr;
    char *name;
};

static struct {
    struct fnsym *slots;
    size_t cap, n;
} fncache; /* renderlock */

static const char *fnname(uint64_t addr)
{
    if (fncache.n * 2 >= fncache.cap) {
        size_t cap = fncache.cap ? fncache.cap * 2 : 256;
        struct fnsym *s = calloc(cap, sizeof *s);
        if (s == NULL)
            return NULL;
        for (size_t i = 0; i < fncache.cap; i++)
            if (fncache.slots[i].addr != 0) {
                size_t j = hash64(fncache.slots[i].addr) & (cap - 1);
                while (s[j].addr != 0)
                    j = (j + 1) & (cap - 1);
                s[j] = fncache.slots[i];
            }
        free(fncache.slots);
        fncache.slots = s;
        fncache.cap = cap;
    }
    size_t j = hash64(addr) & (fncache.cap - 1);
    while (fncache.slots[j].addr != 0 && fncache.slots[j].addr != addr)
        j = (j + 1) & (fncache.cap - 1);
    if (fncache.slots[j].addr == 0) {
        Dl_info info;
        const char *sym = NULL;
        if (dladdr((void *)(uintptr_t)addr, &info) != 0 && info.dli_sname != NULL &&
            (uintptr_t)info.dli_saddr == addr)
            sym = info.dli_sname;
        fncache.slots[j].addr = addr;
        fncache.slots[j].name = sym != NULL ? strdup(sym) : NULL;
        fncache.n++;
    }
    return fncache.slots[j].name;
}

/* ---- Rendering: the model ------------------------------------------------- */

/* An event with its track, as a render orders them. */
struct rev {
    struct gpm_traceev e;
    uint32_t track;
    uint32_t idx; /* position in its track: ties of ts keep track order */
};

struct mstate {
    uint64_t g;    /* G whose span is open, 0 for none */
    char gname[16];
    uint16_t p;    /* the P it holds as far as the trace shows (id + 1) */
    bool insys;    /* a syscall span is open */
};

struct pstate {
    uint64_t g;
    char gname[16];
};

struct render {
    struct out o;
    struct nametab names;
    struct mstate *ms; /* by M id */
    size_t nms;
    struct pstate *ps; /* by P id */
    size_t nps;
    uint64_t tsc0; /* conversion of timestamps to ns since the start */
    double scale;
    uint64_t emitted;
};

static uint64_t relns(const struct render *r, uint64_t ts)
{
    if (ts <= r->tsc0)
        return 0;
    if (!gpm_tracetsc)
        return ts - r->tsc0;
    return (uint64_t)((double)(ts - r->tsc0) * r->scale);
}

/* Begins an event: `,\n{"ph":"X","pid":P,"tid":T,"ts":TS,"name":"` */
static void evhead(struct render *r, char ph, int pid, uint64_t tid, uint64_t ns)
{
    struct out *o = &r->o;
    char b[16] = ",\n{\"ph\":\"X\",";
    b[9] = ph;
    outn(o, b, 12);
    outs(o, "\"pid\":");
    outu(o, (uint64_t)pid);
    outs(o, ",\"tid\":");
    outu(o, tid);
    outs(o, ",\"ts\":");
    outts(o, ns);
    if (ph == 'i')
        outs(o, ",\"s\":\"t\"");
    outs(o, ",\"name\":\"");
}

static void outgname(struct out *o, uint64_t goid, const char *name)
{
    outs(o, "G");
    outu(o, goid);
    if (name[0] != '\0') {
        outs(o, " ");
        outjson(o, name, 16);
    }
}

static void outgoid(struct out *o, uint64_t goid)
{
    if (goid == 0)
        outs(o, "null");
    else
        outu(o, goid);
}

static const char *const stopwhy[] = {
    [TSTOP_PARK] = "park", [TSTOP_YIELD] = "yield", [TSTOP_PREEMPT] = "preempt",
    [TSTOP_EXIT] = "exit", [TSTOP_REQUEUE] = "requeue",
};

static const char *const waitnames[WAIT_NREASONS] = {
    [WAIT_NONE] = "none",     [WAIT_JOIN] = "join",     [WAIT_MAINEXIT] = "mainexit", [WAIT_SLEEP] = "sleep",
    [WAIT_MUTEX] = "mutex",   [WAIT_COND] = "cond",     [WAIT_RWLOCK] = "rwlock",     [WAIT_BARRIER] = "barrier",
    [WAIT_ONCE] = "once",     [WAIT_SEM] = "sem",       [WAIT_FUTEX] = "futex",       [WAIT_SIGNAL] = "signal",
    [WAIT_WIRE] = "wire",     [WAIT_IO] = "io",         [WAIT_POLL] = "poll",
};

/* A G span's begin (pid 1: M track; pid 2: P track). */
static void spanbegin(struct render *r, int pid, uint64_t tid, uint64_t ns, uint64_t goid, const char *name,
                      uint16_t p)
{
    struct out *o = &r->o;
    evhead(r, 'B', pid, tid, ns);
    outgname(o, goid, name);
    outs(o, "\",\"args\":{\"g\":");
    outu(o, goid);
    if (pid == 1) {
        outs(o, ",\"p\":");
        if (p == 0)
            outs(o, "null");
        else
            outu(o, p - 1u);
    }
    outs(o, "}}");
}

static void spanend(struct render *r, int pid, uint64_t tid, uint64_t ns, uint64_t goid, const char *name,
                    const char *why)
{
    struct out *o = &r->o;
    evhead(r, 'E', pid, tid, ns);
    outgname(o, goid, name);
    outs(o, "\",\"args\":{\"g\":");
    outu(o, goid);
    outs(o, ",\"why\":\"");
    outs(o, why);
    outs(o, "\"}}");
}

static void sysbegin(struct render *r, uint64_t tid, uint64_t ns, uint64_t goid, char ph)
{
    evhead(r, ph, 1, tid, ns);
    outs(&r->o, "syscall\",\"args\":{\"g\":");
    outu(&r->o, goid);
    outs(&r->o, "}}");
}

static struct mstate *mtrack(struct render *r, uint64_t mid)
{
    return mid < r->nms ? &r->ms[mid] : NULL;
}

static struct pstate *ptrack(struct render *r, uint16_t p)
{
    return p != 0 && (size_t)(p - 1) < r->nps ? &r->ps[p - 1] : NULL;
}

static void pspanclose(struct render *r, uint16_t p, uint64_t ns, const char *why)
{
    struct pstate *ps = ptrack(r, p);
    if (ps == NULL || ps->g == 0)
        return;
    spanend(r, 2, p - 1u, ns, ps->g, ps->gname, why);
    ps->g = 0;
}

static void pspanopen(struct render *r, uint16_t p, uint64_t ns, uint64_t goid, const char *name)
{
    struct pstate *ps = ptrack(r, p);
    if (ps == NULL)
        return;
    pspanclose(r, p, ns, "retake");
    ps->g = goid;
    memcpy(ps->gname, name, 16);
    spanbegin(r, 2, p - 1u, ns, goid, name, 0);
}

static const char *gname(struct render *r, uint64_t goid)
{
    static const char noname[16];
    struct gname *n = nameslot(&r->names, goid, false);
    return n != NULL ? n->name : noname;
}

/* Instant: name, then its args written by the caller, then close with "}}". */
static void instant(struct render *r, int pid, uint64_t tid, uint64_t ns, const char *name)
{
    evhead(r, 'i', pid, tid, ns);
    outs(&r->o, name);
    outs(&r->o, "\",\"args\":{");
}

/* An instant whose args are numbers: k1 (and k2 unless NULL). */
static void instantu(struct render *r, int pid, uint64_t tid, uint64_t ns, const char *name, const char *k1,
                     uint64_t v1, const char *k2, uint64_t v2)
{
    struct out *o = &r->o;
    instant(r, pid, tid, ns, name);
    outs(o, "\"");
    outs(o, k1);
    outs(o, "\":");
    outu(o, v1);
    if (k2 != NULL) {
        outs(o, ",\"");
        outs(o, k2);
        outs(o, "\":");
        outu(o, v2);
    }
    outs(o, "}}");
}

/* An instant about G g done by G by (0: none), its args left open. */
static void instantgby(struct render *r, int pid, uint64_t tid, uint64_t ns, const char *name, uint64_t g,
                       uint64_t by)
{
    struct out *o = &r->o;
    instant(r, pid, tid, ns, name);
    outs(o, "\"g\":");
    outu(o, g);
    outs(o, ",\"by\":");
    outgoid(o, by);
}

/* G g starts running on M track m (tid), with P p (id + 1, or 0). */
static void gstart(struct render *r, struct mstate *m, uint64_t tid, uint64_t ns, uint64_t g, uint16_t p)
{
    if (m == NULL)
        return; /* the shared track: a wired or foreign G's wake-up */
    if (m->insys)
        sysbegin(r, tid, ns, m->g, 'E');
    m->insys = false;
    if (m->g != 0)
        spanend(r, 1, tid, ns, m->g, m->gname, "end"); /* its stop was lost */
    m->g = g;
    memcpy(m->gname, gname(r, g), 16);
    spanbegin(r, 1, tid, ns, g, m->gname, p);
    m->p = p;
    if (p != 0)
        pspanopen(r, p, ns, g, m->gname);
}

/* G g stops running on track (pid, tid), whose M state is m (NULL for the
   shared track: only the instants), for why; park's reason and object. */
static void gstop(struct render *r, struct mstate *m, int pid, uint64_t tid, uint64_t ns, uint64_t g, uint8_t why,
                  uint32_t reason, uint64_t obj)
{
    struct out *o = &r->o;
    if (why == TSTOP_PARK) {
        instant(r, pid, tid, ns, "park");
        outs(o, "\"g\":");
        outu(o, g);
        outs(o, ",\"reason\":\"");
        outs(o, reason < WAIT_NREASONS && waitnames[reason] ? waitnames[reason] : "?");
        outs(o, "\",\"obj\":");
        if ((reason == WAIT_IO || reason == WAIT_POLL) && obj != 0) {
            outu(o, obj - 1); /* the descriptor + 1 (netpoll.c) */
        } else if (obj != 0) {
            outs(o, "\"");
            outhex(o, obj);
            outs(o, "\"");
        } else {
            outs(o, "null");
        }
        outs(o, "}}");
    } else if (why == TSTOP_EXIT) {
        instantu(r, pid, tid, ns, "exit", "g", g, NULL, 0);
    }
    if (m == NULL)
        return;
    if (m->insys)
        sysbegin(r, tid, ns, m->g, 'E');
    m->insys = false;
    if (m->g != g)
        return; /* its start was dropped */
    const char *whys = why < sizeof stopwhy / sizeof *stopwhy && stopwhy[why] ? stopwhy[why] : "?";
    spanend(r, 1, tid, ns, m->g, m->gname, whys);
    struct pstate *ps = ptrack(r, m->p);
    if (ps != NULL && ps->g == g)
        pspanclose(r, m->p, ns, whys);
    m->g = 0;
}

/* Runs one event through the model, writing what it shows. */
static void renderev(struct render *r, const struct rev *v)
{
    const struct gpm_traceev *e = &v->e;
    struct out *o = &r->o;
    uint64_t ns = relns(r, e->ts);
    bool shared = v->track == 0;
    int pid = shared ? 3 : 1;
    uint64_t tid = shared ? 0 : v->track - 1u;
    struct mstate *m = shared ? NULL : mtrack(r, tid);
    r->emitted += !o->muted;
    switch (e->type) {
    case TEV_GSTART:
        gstart(r, m, tid, ns, e->g, e->p);
        break;
    case TEV_GSTOP:
        gstop(r, m, pid, tid, ns, e->g, e->why, e->x, e->arg);
        break;
    case TEV_GSWITCH:
        gstop(r, m, pid, tid, ns, e->arg, e->why, 0, 0);
        gstart(r, m, tid, ns, e->g, e->p);
        break;
    case TEV_SYSCALL:
        if (m != NULL && m->g == e->g && !m->insys) {
            sysbegin(r, tid, ns, e->g, 'B');
            m->insys = true;
        }
        break;
    case TEV_SYSRET:
        if (m != NULL && m->insys) {
            sysbegin(r, tid, ns, m->g, 'E');
            m->insys = false;
        }
        break;
    case TEV_CREATE: {
        struct gname *by = e->x != 0 ? nameslot(&r->names, e->x, false) : NULL;
        char byname[16];
        if (by != NULL)
            memcpy(byname, by->name, 16);
        struct gname *n = nameslot(&r->names, e->g, true);
        if (n != NULL && by != NULL)
            memcpy(n->name, byname, 16);
        instantgby(r, pid, tid, ns, "create", e->g, e->x);
        outs(o, ",\"fn\":");
        const char *fn = e->arg != 0 && !o->muted ? fnname(e->arg) : NULL;
        if (fn != NULL) {
            outs(o, "\"");
            outjson(o, fn, strlen(fn));
            outs(o, "\"");
        } else if (e->arg != 0) {
            outs(o, "\"");
            outhex(o, e->arg);
            outs(o, "\"");
        } else {
            outs(o, "null");
        }
        outs(o, "}}");
        break;
    }
    case TEV_READY:
        instantgby(r, pid, tid, ns, "ready", e->g, e->arg);
        outs(o, "}}");
        break;
    case TEV_NAME: {
        struct gname *n = nameslot(&r->names, e->g, true);
        if (n == NULL || e->x > 1) {
            r->emitted -= !o->muted;
            break;
        }
        memcpy(n->name + 8 * e->x, &e->arg, 8);
        if (e->x == 1) {
            instant(r, pid, tid, ns, "name");
            outs(o, "\"g\":");
            outu(o, e->g);
            outs(o, ",\"name\":\"");
            outjson(o, n->name, 16);
            outs(o, "\"}}");
        } else {
            r->emitted -= !o->muted; /* the pair counts once */
        }
        break;
    }
    case TEV_PREEMPT:
        instantu(r, pid, tid, ns, "preempt", "g", e->g, "m", e->arg);
        break;
    case TEV_RETAKE: {
        instantu(r, pid, tid, ns, "retake", "p", e->p - 1u, "m", e->arg);
        pspanclose(r, e->p, ns, "retake");
        struct mstate *loser = mtrack(r, e->arg);
        if (loser != NULL && loser->p == e->p)
            loser->p = 0;
        break;
    }
    case TEV_HANDOFF:
        instantu(r, pid, tid, ns, "handoff", "p", e->p - 1u, NULL, 0);
        pspanclose(r, e->p, ns, "handoff");
        if (m != NULL && m->p == e->p)
            m->p = 0;
        break;
    case TEV_STEAL:
        instantu(r, pid, tid, ns, "steal", "p", e->p - 1u, NULL, 0);
        break;
    case TEV_TIMER:
        instantu(r, pid, tid, ns, "timer", "late_ns", e->arg, NULL, 0);
        break;
    case TEV_NETPOLL:
        instantu(r, pid, tid, ns, "netpoll", "n", e->x, NULL, 0);
        break;
    case TEV_PCHANGE:
        if (m == NULL)
            break;
        m->p = e->p;
        if (m->g == e->g && e->p != 0)
            pspanopen(r, e->p, ns, e->g, m->gname);
        break;
    default:
        r->emitted -= !o->muted;
        break;
    }
}

/* At the cut-off: begins the spans the model has open, so that what
   follows is balanced. */
static void reopen(struct render *r, uint64_t ns)
{
    for (size_t i = 0; i < r->nms; i++) {
        struct mstate *m = &r->ms[i];
        if (m->g != 0)
            spanbegin(r, 1, i, ns, m->g, m->gname, m->p);
        if (m->insys)
            sysbegin(r, i, ns, m->g, 'B');
    }
    for (size_t i = 0; i < r->nps; i++)
        if (r->ps[i].g != 0)
            spanbegin(r, 2, i, ns, r->ps[i].g, r->ps[i].gname, 0);
}

/* At the end: ends the spans still open. */
static void closeall(struct render *r, uint64_t ns)
{
    for (size_t i = 0; i < r->nms; i++) {
        struct mstate *m = &r->ms[i];
        if (m->insys)
            sysbegin(r, i, ns, m->g, 'E');
        if (m->g != 0)
            spanend(r, 1, i, ns, m->g, m->gname, "end");
    }
    for (size_t i = 0; i < r->nps; i++)
        if (r->ps[i].g != 0)
            spanend(r, 2, i, ns, r->ps[i].g, r->ps[i].gname, "end");
}

static void metaname(struct render *r, const char *kind, int pid, uint64_t tid, const char *name, bool first)
{
    struct out *o = &r->o;
    outs(o, first ? "\n{\"ph\":\"M\",\"pid\":" : ",\n{\"ph\":\"M\",\"pid\":");
    outu(o, (uint64_t)pid);
    outs(o, ",\"tid\":");
    outu(o, tid);
    outs(o, ",\"name\":\"");
    outs(o, kind);
    outs(o, "\",\"args\":{\"name\":\"");
    outs(o, name);
    outs(o, "\"}}");
}

static void metadata(struct render *r)
{
    metaname(r, "process_name", 1, 0, "Ms", true);
    metaname(r, "process_name", 2, 0, "Ps", false);
    metaname(r, "process_name", 3, 0, "sysmon & other threads", false);
    metaname(r, "thread_name", 3, 0, "sysmon & other threads", false);
    for (struct gpm_m *mp = atomic_load(&gpm_sched.allm); mp; mp = mp->alllink) {
        char b[64];
        gpm_snprintf(b, sizeof b, "M%d%s (tid %d)", mp->id, mp->wired ? " wired" : "", mp->procid);
        metaname(r, "thread_name", 1, (uint64_t)mp->id, b, false);
    }
    for (int32_t i = 0; i < gpm_sched.gomaxprocs; i++) {
        char b[16];
        gpm_snprintf(b, sizeof b, "P%d", i);
        metaname(r, "thread_name", 2, (uint64_t)i, b, false);
    }
}

/* ---- Rendering: the snapshot ---------------------------------------------- */

/* A pinned chunk and how many of its events a render reads. */
struct snapchunk {
    struct gpm_tracechunk *c;
    uint32_t n;
};

static int cmpchunk(const void *a, const void *b)
{
    const struct gpm_tracechunk *x = ((const struct snapchunk *)a)->c, *y = ((const struct snapchunk *)b)->c;
    if (x->track != y->track)
        return x->track < y->track ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmprev(const void *a, const void *b)
{
    const struct rev *x = a, *y = b;
    if (x->e.ts != y->e.ts)
        return x->e.ts < y->e.ts ? -1 : 1;
    if (x->track != y->track)
        return x->track < y->track ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Pins every chunk that has a track; returns them in *out (malloc'd)
   with their counts, and the drop figures. */
static size_t snapshot(struct snapchunk **out, uint64_t *dropped, uint64_t *droppedts)
{
    for (;;) {
        size_t want = __atomic_load_n(&trace.nfull, __ATOMIC_RELAXED) + (size_t)gpm_sched.mnext + 64;
        struct snapchunk *cs = malloc(want * sizeof *cs);
        if (cs == NULL)
            return 0;
        size_t k = 0;
        gpm_lock(&trace.lock);
        size_t need = trace.nfull + 1;
        for (struct gpm_m *mp = atomic_load(&gpm_sched.allm); mp; mp = mp->alllink)
            need++;
        if (need > want) {
            gpm_unlock(&trace.lock);
            free(cs);
            continue;
        }
        for (struct gpm_tracechunk *c = trace.fullhead; c != NULL; c = c->next)
            cs[k++].c = c;
        for (struct gpm_m *mp = atomic_load(&gpm_sched.allm); mp; mp = mp->alllink)
            if (mp->tracechunk != NULL)
                cs[k++].c = mp->tracechunk;
        if (trace.shared != NULL)
            cs[k++].c = trace.shared;
        for (size_t i = 0; i < k; i++) {
            cs[i].c->pins++;
            /* acquire: pairs with gpm_traceput's release. */
            cs[i].n = atomic_load_explicit(&cs[i].c->n, memory_order_acquire);
        }
        *dropped = trace.dropped;
        *droppedts = trace.droppedts;
        gpm_unlock(&trace.lock);
        *out = cs;
        return k;
    }
}

static void unpin(struct snapchunk *cs, size_t k)
{
    gpm_lock(&trace.lock);
    for (size_t i = 0; i < k; i++)
        cs[i].c->pins--;
    gpm_unlock(&trace.lock);
}

static bool writefile(const char *buf, size_t len)
{
    long fd = gpm_syscall4(SYS_openat, AT_FDCWD, (long)trace.tmppath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return false;
    bool ok = true;
    for (size_t off = 0; off < len;) {
        long n = gpm_syscall3(SYS_write, fd, (long)(buf + off), (long)(len - off));
        if (n == -EINTR)
            continue;
        if (n <= 0) {
            ok = false;
            break;
        }
        off += (size_t)n;
    }
    gpm_syscall1(SYS_close, fd);
    if (ok)
        ok = gpm_syscall2(SYS_rename, (long)trace.tmppath, (long)trace.path) == 0;
    return ok;
}

/* One pass over evs: all of it counted (sizes[i] the bytes of event i)
   when o->counting, else emitted from index cut on. */
static void renderpass(struct render *r, const struct rev *evs, size_t nev, size_t cut, uint32_t *sizes,
                       uint64_t endns)
{
    memset(r->ms, 0, r->nms * sizeof *r->ms);
    memset(r->ps, 0, r->nps * sizeof *r->ps);
    r->emitted = 0;
    r->o.muted = cut > 0;
    for (size_t i = 0; i < nev; i++) {
        if (i == cut && cut > 0) {
            r->o.muted = false;
            reopen(r, relns(r, evs[i].e.ts));
        }
        size_t before = r->o.len;
        renderev(r, &evs[i]);
        if (sizes != NULL)
            sizes[i] = (uint32_t)(r->o.len - before);
    }
    r->o.muted = false;
    if (cut > 0 && cut >= nev)
        reopen(r, endns); /* nothing fitted after the cut: balance the ends */
    closeall(r, endns);
}

/* Renders what the chunks hold to the file. renderlock held. */
static void render(void)
{
    struct snapchunk *cs = NULL;
    uint64_t dropped = 0, droppedts = 0;
    size_t k = snapshot(&cs, &dropped, &droppedts);
    /* The clock's rate: from the start to now. */
    uint64_t tsc1 = tracets();
    int64_t ns1 = (int64_t)gpm_tracets_slow();
    struct render r = {.tsc0 = trace.ts0, .scale = 1.0};
    if (gpm_tracetsc && tsc1 > trace.ts0)
        r.scale = (double)(ns1 - trace.ns0) / (double)(tsc1 - trace.ts0);
    uint64_t endns = relns(&r, tsc1);
    uint64_t lastts = 0;

    /* Sort the chunks by track, then order; copy their events. */
    size_t total = 0;
    for (size_t i = 0; i < k; i++)
        total += cs[i].n;
    struct rev *evs = malloc((total ? total : 1) * sizeof *evs);
    size_t nev = 0, skipped = 0, nms = 0;
    if (evs != NULL) {
        qsort(cs, k, sizeof *cs, cmpchunk);
        uint32_t track = UINT32_MAX, idx = 0;
        uint64_t last = 0;
        for (size_t i = 0; i < k; i++) {
            struct gpm_tracechunk *c = cs[i].c;
            uint32_t n = cs[i].n;
            if (c->track != track) {
                track = c->track;
                idx = 0;
                last = 0;
            }
            for (uint32_t j = 0; j < n; j++) {
                uint64_t ts = c->ev[j].ts < last ? last : c->ev[j].ts;
                last = ts;
                if (ts <= droppedts) {
                    skipped++;
                    continue;
                }
                evs[nev] = (struct rev){.e = c->ev[j], .track = track, .idx = idx++};
                evs[nev].e.ts = ts;
                nev++;
            }
            if (track > nms)
                nms = track;
        }
        qsort(evs, nev, sizeof *evs, cmprev);
        if (nev > 0)
            lastts = evs[nev - 1].e.ts;
    }
    /* Another CPU's counter may be a little ahead of this one's. */
    if (relns(&r, lastts) > endns)
        endns = relns(&r, lastts);
    unpin(cs, k);
    free(cs);

    for (struct gpm_m *mp = atomic_load(&gpm_sched.allm); mp; mp = mp->alllink)
        if ((size_t)mp->id + 1 > nms)
            nms = (size_t)mp->id + 1;
    r.nms = nms;
    r.nps = (size_t)gpm_sched.gomaxprocs;
    r.ms = calloc(nms ? nms : 1, sizeof *r.ms);
    r.ps = calloc(r.nps, sizeof *r.ps);
    uint32_t *sizes = malloc((nev ? nev : 1) * sizeof *sizes);
    if (evs == NULL || r.ms == NULL || r.ps == NULL || sizes == NULL)
        goto out;

    /* Pass 1: how many bytes each event takes. */
    r.o.counting = true;
    metadata(&r);
    size_t fixed = r.o.len + 512;
    renderpass(&r, evs, nev, 0, sizes, endns);
    size_t cut = 0;
    if (r.o.len + 512 > trace.maxbytes) {
        /* Room for the spans begun at the cut-off and ended at the end (an
           M's G span and system call span, a P's G span; up to ~200 bytes
           a record with an escaped name), and for Ms made meanwhile. */
        size_t room = fixed + nms * 4 * 256 + r.nps * 2 * 256 + 64 * 1024;
        size_t budget = trace.maxbytes > room ? trace.maxbytes - room : 0, sum = 0;
        cut = nev;
        while (cut > 0 && sum + sizes[cut - 1] <= budget)
            sum += sizes[--cut];
    }
    uint64_t cutoff = cut;

    /* Pass 2: the file. */
    free(r.names.slots);
    r.names = (struct nametab){0};
    r.o = (struct out){0};
    struct out *o = &r.o;
    outs(o, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[");
    metadata(&r);
    renderpass(&r, evs, nev, cut, NULL, endns);
    outs(o, "\n],\n\"otherData\":{\"gpm\":{\"version\":1,\"pid\":");
    outu(o, (uint64_t)gpm_getpid());
    outs(o, ",\"maxprocs\":");
    outu(o, (uint64_t)gpm_sched.gomaxprocs);
    outs(o, ",\"start_ns\":0,\"end_ns\":");
    outu(o, endns);
    outs(o, ",\"dropped\":");
    outu(o, dropped + skipped + cutoff + atomic_load(&trace.lost));
    outs(o, ",\"events\":");
    outu(o, r.emitted);
    outs(o, "}}}\n");
    if (!o->failed)
        writefile(o->buf, o->len);
    free(o->buf);
out:
    free(r.names.slots);
    free(sizes);
    free(r.ms);
    free(r.ps);
    free(evs);
}

/* ---- The writer ------------------------------------------------------------- */

static void *writerloop(void *arg)
{
    (void)arg;
    /* Like every thread of gpm's: the program's signals go elsewhere. */
    gpm_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&gpm_msigmask, 0, 8);
    int64_t interval = 1000000000;
    for (;;) {
        struct timespec ts = {interval / 1000000000, interval % 1000000000};
        gpm_syscall2(SYS_nanosleep, (long)&ts, 0);
        gpm_lock(&trace.renderlock);
        if (trace.finished) {
            gpm_unlock(&trace.renderlock);
            return NULL;
        }
        int64_t t0 = gpm_nanotime();
        render();
        int64_t took = gpm_nanotime() - t0;
        gpm_unlock(&trace.renderlock);
        interval = took * 20 > 1000000000 ? took * 20 : 1000000000;
    }
}

static void finalrender(void)
{
    if (!gpm_tracing)
        return; /* a forked child's copy of the parent's atexit list */
    gpm_lock(&trace.renderlock);
    if (!trace.finished) {
        render();
        trace.finished = true;
    }
    gpm_unlock(&trace.renderlock);
}

/* Whether the cycle counter ticks at a constant rate. */
static bool tscusable(void)
{
    static char buf[16384];
    long n = gpm_readfile("/proc/cpuinfo", buf, sizeof buf);
    if (n <= 0)
        return false;
    char *flags = strstr(buf, "\nflags");
    if (flags == NULL)
        return false;
    char *eol = strchr(flags + 1, '\n');
    if (eol != NULL)
        *eol = '\0';
    /* nonstop_tsc (not stopped in deep sleep states) is often not shown
       to virtual machines, whose TSC the hypervisor keeps running. */
    return strstr(flags, " constant_tsc") != NULL;
}

/* FILE with %p replaced by the pid. */
static bool makepath(const char *file)
{
    size_t j = 0;
    for (const char *s = file; *s != '\0'; s++) {
        if (s[0] == '%' && s[1] == 'p') {
            char b[16];
            int len = gpm_snprintf(b, sizeof b, "%d", gpm_getpid());
            if (j + (size_t)len >= sizeof trace.path)
                return false;
            memcpy(trace.path + j, b, (size_t)len);
            j += (size_t)len;
            s++;
        } else {
            if (j + 1 >= sizeof trace.path)
                return false;
            trace.path[j++] = *s;
        }
    }
    trace.path[j] = '\0';
    gpm_snprintf(trace.tmppath, sizeof trace.tmppath, "%s.tmp", trace.path);
    return j > 0;
}

void gpm_exectrace_start(struct gpm_g *g1)
{
    if (gpm_config.tracefile == NULL)
        return;
    if (!makepath(gpm_config.tracefile)) {
        gpm_printf("gpm: GPM_TRACE: the file name is empty or too long: not tracing\n");
        return;
    }
    trace.maxbytes = (size_t)gpm_config.tracemb << 20;
    size_t arena = trace.maxbytes / 2;
    trace.narena = arena / CHUNK_BYTES;
    if (trace.narena < 8)
        trace.narena = 8;
    void *m = gpm_mmap(NULL, trace.narena * CHUNK_BYTES, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (gpm_mmap_failed(m)) {
        gpm_printf("gpm: GPM_TRACE: cannot map %zu MiB for events: not tracing\n", arena >> 20);
        return;
    }
    trace.arena = m;
    gpm_tracetsc = tscusable();
    trace.ns0 = (int64_t)gpm_tracets_slow();
    trace.ts0 = tracets();
    gpm_tracing = true;
    struct gpm_m *m0 = g1->m;
    gpm_traceev(m0, TEV_CREATE, 0, 0, 0, g1->goid, 0);
    gpm_trace_name(m0, g1);
    gpm_traceev(m0, TEV_GSTART, 0, GPM_TRACE_P(m0->p), 0, g1->goid, 0);
    atexit(finalrender);
    if (gpm_start_kthread(writerloop, NULL, 256 * 1024, NULL) != 0)
        gpm_printf("gpm: GPM_TRACE: cannot start the writer thread: the trace is written at exit only\n");
}

void gpm_exectrace_forkchild(void)
{
    gpm_tracing = false;
}
