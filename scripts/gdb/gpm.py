"""gdb extension for programs run under gpm (LD_PRELOAD=libgpm.so).

Under gpm a program's POSIX threads are Gs, user-level threads run by a few
kernel threads (Ms); gdb's `info threads` lists only the Ms. This file adds:

  info gpm         one line per G: id, name, state, wait reason and how long
                   it has waited (live processes only), the M running it,
                   its P, and its start routine.
  gpm bt ID [N]    backtrace of G ID (the goid `info gpm` shows), at most N
                   frames. A parked or runnable G is walked from the frame
                   its last switch saved (asm/x86_64/switch.S); for a
                   running G it names the gdb thread (M) running it.
  gpm switch ID    make G ID's saved context the selected thread's, so that
                   `bt`, `frame N`, `info locals` look at that G;
  gpm switch       with no argument, give the thread its registers back.

Loading it:

  * automatically: install it as libgpm.so-gdb.py next to libgpm.so, or
    under gdb's auto-load directory, e.g.
    /usr/share/gdb/auto-load/<path of libgpm.so>-gdb.py; gdb then sources
    it when it loads libgpm.so (subject to `set auto-load safe-path`);
  * by hand: `source scripts/gdb/gpm.py`, before or after attaching.

Everything is read through gdb.Value from gpm's own globals (gpm_sched, the
allgs list of gstack.c, waitreason_names of sched.c), so libgpm.so must
have its debug information (meson's default debugoptimized build does).

How a G's context is shown. A G that is not running left rbx, rbp, r12-r15
and its return address at gp->sched_sp (switch.S draws the frame). On a
live process `gpm bt` and `gpm switch` write those into the selected
thread's registers (frame 0), so gdb's own unwinder walks the G's stack as
if it were a thread's, and `gpm bt` puts the thread's registers back right
after. A core file's registers cannot be written: there a Python unwinder
makes the saved context the caller of the selected thread's innermost
real frame (#0, or the function #0 is inlined into), so the G's frames
come after the thread's own (`gpm bt` hides those; `gpm switch` says which
frame is the G's innermost and selects it).

Limits: after `gpm switch` on a live process, run `gpm switch` (no
argument) before `continue`, `step` or `detach`: the thread really has the
G's registers until then. Thread-local variables still read the selected
kernel thread's TLS (%fs), not the G's. Wait durations need a live process
on this host (gpm stamps parks with CLOCK_MONOTONIC_COARSE); on a core they
are left out.
"""

import time

import gdb
import gdb.unwinder

# The saved frame at gp->sched_sp (asm/x86_64/switch.S): 8-byte slots.
_SAVED_SLOTS = (("r15", 1), ("r14", 2), ("r13", 3), ("r12", 4), ("rbx", 5), ("rbp", 6), ("rip", 7))
_SAVED_FRAME_SIZE = 64  # FP control words, six registers, return address
_REGS = ("rip", "rsp", "rbp", "rbx", "r12", "r13", "r14", "r15")

# enum gpm_gstatus, enum gpm_gkind (src/core/runtime.h).
_GSTATUS = ("idle", "runnable", "running", "syscall", "waiting", "dead")
G_RUNNABLE, G_RUNNING, G_SYSCALL, G_WAITING, G_DEAD = 1, 2, 3, 4, 5
G_KIND_BLOCK, G_KIND_MAIN, G_KIND_FOREIGN = 1, 2, 3
GPM_G_MAGIC = 0x4750475F4C495645
_P_STATUS_MASK = 63
_RUNQ_SIZE = 256  # GPM_RUNQ_SIZE
_CLOCK_MONOTONIC_COARSE = 6  # Linux; what gpm_nanotime_coarse reads


def _sym(name, static_file=None):
    """The value of gpm's global `name` (static in static_file if given)."""
    if static_file is None:
        s = gdb.lookup_global_symbol(name)
        if s is not None:
            return s.value()
    else:
        for s in gdb.lookup_static_symbols(name):
            if s.symtab is not None and s.symtab.filename.endswith(static_file):
                return s.value()
    try:
        if static_file is not None:
            return gdb.parse_and_eval("'%s'::%s" % (static_file, name))
        return gdb.parse_and_eval(name)
    except gdb.error:
        raise gdb.GdbError("gpm: no symbol %s: is libgpm.so loaded, with its debug information?" % name)


def _addr(v):
    return int(v.cast(gdb.lookup_type("unsigned long")))


def _cstr(v):
    try:
        return v.string(length=int(v.type.sizeof) if v.type.code == gdb.TYPE_CODE_ARRAY else -1).split("\0")[0]
    except gdb.error:
        return "?"


def allgs():
    """Every G that may run (allgs in gstack.c), skipping pooled blocks as
    gpm_forallg does: a G_KIND_BLOCK G in G_DEAD."""
    gp = _sym("allgs", "gstack.c")
    seen = 0
    while _addr(gp) != 0:
        g = gp.dereference()
        if int(g["magic"]) != GPM_G_MAGIC:
            gdb.write("gpm: allgs: G at 0x%x has a bad magic; list cut there\n" % _addr(gp))
            return
        if not (int(g["kind"]) == G_KIND_BLOCK and int(g["atomicstatus"]) == G_DEAD):
            yield gp
        gp = g["allnext"]
        seen += 1
        if seen > 10000000:
            gdb.write("gpm: allgs: list does not end; cut after 10M entries\n")
            return


def findg(goid):
    for gp in allgs():
        if int(gp["goid"]) == goid:
            return gp
    raise gdb.GdbError("gpm: no G %d (see `info gpm`)" % goid)


def _waitreason(r):
    try:
        names = _sym("waitreason_names", "sched.c")
        n = names.type.range()[1] + 1
        if 0 <= r < n:
            return _cstr(names[r])
    except (gdb.error, gdb.GdbError):
        pass
    return "reason %d" % r


def _live():
    """Whether the inferior is a live process on this host, whose clock we
    share, and whose registers we may write."""
    inf = gdb.selected_inferior()
    conn = getattr(inf, "connection", None)
    if inf.pid == 0 or conn is None:
        return False
    return conn.type == "native"


def _now_ns():
    try:
        return time.clock_gettime_ns(_CLOCK_MONOTONIC_COARSE)
    except (OSError, AttributeError):
        return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def _symbol(pc):
    if pc == 0:
        return "-"
    try:
        b = gdb.block_for_pc(pc)
        while b is not None and b.function is None:
            b = b.superblock
        if b is not None:
            return b.function.print_name
    except RuntimeError:
        pass
    s = gdb.execute("info symbol 0x%x" % pc, to_string=True).strip()
    if s.startswith("No symbol"):
        return "0x%x" % pc
    return s.split(" in section")[0].split(" + ")[0]


def _runqueues():
    """{G address: where it is queued}, from each P's runnext and runq and
    the global run queue (reads without locks, as gpm's own dumps do)."""
    where = {}
    sched = _sym("gpm_sched")
    for i in range(int(sched["gomaxprocs"])):
        pp = sched["allp"][i]
        pid = int(pp["id"])
        nxt = _addr(pp["runnext"])
        if nxt:
            where[nxt] = "P%d" % pid
        head, tail = int(pp["runqhead"]), int(pp["runqtail"])
        n = (tail - head) & 0xFFFFFFFF
        for k in range(min(n, _RUNQ_SIZE)):
            where[_addr(pp["runq"][(head + k) % _RUNQ_SIZE])] = "P%d" % pid
    gp = sched["runqhead"]
    k = 0
    while _addr(gp) != 0 and k < 10000000:
        where[_addr(gp)] = "global"
        gp = gp["schedlink"]
        k += 1
    return where


def _m_p(mp):
    """The P an M owns, as 'P<id>', or '-' (its p field may be stale: the
    P's state word says who owns it, as in gpm_dumpstate)."""
    if _addr(mp) == 0 or _addr(mp["p"]) == 0:
        return "-"
    pp = mp["p"]
    owner = int(pp["state"]) & ~_P_STATUS_MASK
    return "P%d" % int(pp["id"]) if owner == _addr(mp) else "-"


def _g_m(gp):
    """The M a G runs on (for a running or in-syscall G), or None: m, or for
    a wired G its lockedm."""
    st = int(gp["atomicstatus"])
    if st not in (G_RUNNING, G_SYSCALL):
        return None
    if _addr(gp["m"]) != 0:
        return gp["m"]
    if _addr(gp["lockedm"]) != 0:
        return gp["lockedm"]
    return None


def _thread_of_tid(tid):
    for th in gdb.selected_inferior().threads():
        if th.ptid[1] == tid:
            return th
    return None


def _startfn(gp):
    fn = _addr(gp["startfn"])
    if fn:
        return _symbol(fn)
    kind = int(gp["kind"])
    if kind == G_KIND_MAIN:
        return "main"
    if kind == G_KIND_FOREIGN:
        return "(foreign thread)"
    return "-"


class InfoGpm(gdb.Command):
    """List every G of the program run by gpm.

Columns: G id (goid), name (pthread_setname_np), state, wait reason and
time waited (live processes only), the M running it (running and syscall
Gs; a wired G's own M), the P (its M's for a running G, the run queue it
is on for a runnable one), and its start routine."""

    def __init__(self):
        super().__init__("info gpm", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        sched = _sym("gpm_sched")
        if not bool(sched["started"]):
            gdb.write("gpm: the scheduler has not started\n")
            return
        live = _live()
        now = _now_ns() if live else None
        queued = _runqueues()
        rows = []
        for gp in allgs():
            st = int(gp["atomicstatus"])
            state = _GSTATUS[st] if 0 <= st < len(_GSTATUS) else "?%d" % st
            wait = ""
            if st == G_WAITING:
                wait = _waitreason(int(gp["waitreason"]))
                since = int(gp["waitsince"])
                if now is not None and since > 0:
                    wait += ", %s" % _duration(now - since)
            mp = _g_m(gp)
            m = "M%d" % int(mp["id"]) if mp is not None else "-"
            if mp is not None:
                p = _m_p(mp)
            else:
                p = queued.get(_addr(gp), "-")
            if int(gp["kind"]) == G_KIND_FOREIGN and st in (G_RUNNING, G_SYSCALL):
                m = "tid %d" % int(gp["tid"])
            rows.append((str(int(gp["goid"])), _cstr(gp["name"]), state, wait, m, p, _startfn(gp)))
        rows.sort(key=lambda r: int(r[0]))
        hdr = ("G", "NAME", "STATE", "WAITING", "M", "P", "START")
        w = [max(len(hdr[i]), *(len(r[i]) for r in rows)) if rows else len(hdr[i]) for i in range(6)]
        fmt = "%-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %s\n"
        for r in [hdr] + rows:
            gdb.write(fmt % (w[0], r[0], w[1], r[1], w[2], r[2], w[3], r[3], w[4], r[4], w[5], r[5], r[6]))
        nm = 0
        mp = sched["allm"]
        while _addr(mp) != 0:
            nm += 1
            mp = mp["alllink"]
        gdb.write("%d Gs, %d Ms, %d Ps%s\n" % (len(rows), nm, int(sched["gomaxprocs"]),
                                                "" if live else " (no wait times: not a live process on this host)"))


def _duration(ns):
    if ns < 0:
        ns = 0
    s = ns / 1e9
    if s < 1:
        return "%d ms" % (ns // 1000000)
    if s < 120:
        return "%.1f s" % s
    if s < 7200:
        return "%d min" % (s // 60)
    return "%d h" % (s // 3600)


def saved_context(gp):
    """{register: value} of a G that is not running, from the frame its
    last gpm_ctx_switch left at sched_sp; raises GdbError for a running G
    (with the thread to look at instead)."""
    st = int(gp["atomicstatus"])
    goid = int(gp["goid"])
    if st in (G_RUNNING, G_SYSCALL):
        mp = _g_m(gp)
        tid = int(mp["procid"]) if mp is not None else (int(gp["tid"]) if int(gp["kind"]) == G_KIND_FOREIGN else 0)
        th = _thread_of_tid(tid) if tid else None
        where = ("M%d, " % int(mp["id"])) if mp is not None else ""
        if th is not None:
            raise gdb.GdbError("gpm: G%d is %s on %skernel thread %d: its stack is that thread's; "
                               "use `thread %d` and `bt`" % (goid, _GSTATUS[st], where, tid, th.num))
        raise gdb.GdbError("gpm: G%d is %s on %skernel thread %d, which gdb does not list" %
                           (goid, _GSTATUS[st], where, tid))
    if st not in (G_RUNNABLE, G_WAITING):
        raise gdb.GdbError("gpm: G%d is %s: it has no stack to show" % (goid, _GSTATUS[st]))
    sp = _addr(gp["sched_sp"])
    if sp == 0:
        raise gdb.GdbError("gpm: G%d has no saved context" % goid)
    u64 = gdb.lookup_type("unsigned long").pointer()
    f = gdb.Value(sp).cast(u64)
    regs = {name: int(f[slot]) for name, slot in _SAVED_SLOTS}
    regs["rsp"] = sp + _SAVED_FRAME_SIZE
    return regs


# ---- Showing a G's context ------------------------------------------------
#
# Live process: the selected thread's frame-0 registers are replaced by the
# G's (_Switch.regs_written) and given back afterwards. Read-only targets
# (cores): _GUnwinder makes the G's context the caller of frame #0.


class _Switch:
    active = None  # {'thread': gdb.InferiorThread, 'saved': {reg: int} or None, 'goid': int, 'regs': {...}}


class _GUnwinder(gdb.unwinder.Unwinder):
    """On a target whose registers cannot be written: while a G is switched
    to, the caller of the switched thread's frame #0 is the G's saved
    context, and gdb's DWARF unwinder goes on from there."""

    def __init__(self):
        super().__init__("gpm-g-context")

    def __call__(self, pending_frame):
        a = _Switch.active
        if a is None or a["saved"] is not None or gdb.selected_thread() != a["thread"]:
            return None
        # The thread's innermost real frame: the one with the registers the
        # thread stopped with (frame #0, or the function frames #0..#k-1 are
        # inlined into).
        sp = pending_frame.read_register("rsp")
        pc = pending_frame.read_register("rip")
        if _addr(sp) != a["own"]["rsp"] or _addr(pc) != a["own"]["rip"] or pending_frame.level() > 8:
            return None
        a["level"] = pending_frame.level()
        # Its id: the G's saved sp, not the thread's own, so that the G's
        # frames, wherever its stack lies, are outer to it (gdb stops a walk
        # at a frame inner to its callee).
        info = pending_frame.create_unwind_info(_FrameId(gdb.Value(a["regs"]["rsp"] - _SAVED_FRAME_SIZE).cast(sp.type), pc))
        for name, val in a["regs"].items():
            info.add_saved_register(name, gdb.Value(val).cast(pending_frame.read_register(name).type))
        return info


class _FrameId:
    def __init__(self, sp, pc):
        self.sp = sp
        self.pc = pc


def _read_regs(frame):
    return {r: _addr(frame.read_register(r)) for r in _REGS}


def _write_regs(regs):
    for r in _REGS:
        if r in regs:
            gdb.execute("set $%s = %d" % (r, regs[r]), to_string=True)


def _switch_to(gp):
    """Make G gp's context the selected thread's. Returns whether frame #0
    is the G's (registers written) or #1 (unwinder, read-only target)."""
    regs = saved_context(gp)
    th = gdb.selected_thread()
    if th is None:
        raise gdb.GdbError("gpm: no thread selected (is a process or core loaded?)")
    if _Switch.active is not None:
        _restore()
    frame0 = gdb.newest_frame()
    frame0.select()
    saved = _read_regs(frame0)
    written = False
    if _live():
        try:
            _write_regs(regs)
            written = True
        except gdb.error:
            _write_regs(saved)
    _Switch.active = {"thread": th, "saved": saved if written else None, "own": saved, "level": 0,
                      "goid": int(gp["goid"]), "regs": regs}
    gdb.invalidate_cached_frames()
    f = gdb.newest_frame()
    f.select()
    if not written:
        while f is not None and f.level() < 8 and f.type() == gdb.INLINE_FRAME:
            f = f.older()  # runs the unwinder, which records the level it claimed
    return written


def _first_g_level():
    """The level of the G's innermost frame: 0 when its registers were
    written, else one above the frame the unwinder claimed."""
    a = _Switch.active
    if a is None or a["saved"] is not None:
        return 0
    return a["level"] + 1


def _restore():
    a = _Switch.active
    if a is None:
        return False
    _Switch.active = None
    if a["saved"] is not None:
        if a["thread"].is_valid():
            cur = gdb.selected_thread()
            a["thread"].switch()
            gdb.newest_frame().select()
            _write_regs(a["saved"])
            if cur is not None and cur.is_valid():
                cur.switch()
    gdb.invalidate_cached_frames()
    return True


class _HideFrame0:
    """Frame filter for read-only targets: while a G is switched to through
    the unwinder, `gpm bt` drops frame #0 (the kernel thread's own)."""

    def __init__(self):
        self.name = "gpm-hide-m-frame"
        self.priority = 100
        self.enabled = False

    def filter(self, frames):
        first = _first_g_level()
        for fd in frames:
            if self.enabled and fd.inferior_frame().level() < first:
                continue
            yield fd


_hide = _HideFrame0()


class GpmPrefix(gdb.Command):
    """Commands for programs run under gpm: gpm bt ID, gpm switch [ID].
See also `info gpm`."""

    def __init__(self):
        super().__init__("gpm", gdb.COMMAND_STACK, gdb.COMPLETE_NONE, True)


def _parse_goid(s):
    s = s.strip()
    if s.upper().startswith("G"):
        s = s[1:]
    try:
        return int(s, 0)
    except ValueError:
        raise gdb.GdbError("gpm: not a G id: %r" % s)


class GpmBt(gdb.Command):
    """gpm bt ID [N]: backtrace of G ID (as `info gpm` lists them), at most
N frames. For a running G, names the thread to select instead."""

    def __init__(self):
        super().__init__("gpm bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        args = gdb.string_to_argv(arg)
        if not args:
            raise gdb.GdbError("usage: gpm bt ID [N]")
        gp = findg(_parse_goid(args[0]))
        before = _Switch.active
        keep = None
        if before is not None:
            keep = findg(before["goid"])
        written = _switch_to(gp)
        try:
            gdb.write("G%d (%s) [%s]:\n" % (int(gp["goid"]), _cstr(gp["name"]), _describe(gp)))
            if not written:
                _hide.enabled = True
                gdb.write("(read-only target: the G's frames start at #%d)\n" % _first_g_level())
            # bt counts the hidden frames of a read-only target too.
            limit = " %d" % (int(args[1]) + _first_g_level()) if len(args) > 1 else ""
            gdb.execute("bt" + limit, from_tty=False)
        finally:
            _hide.enabled = False
            _restore()
            if keep is not None:
                _switch_to(keep)


def _describe(gp):
    st = int(gp["atomicstatus"])
    s = _GSTATUS[st] if 0 <= st < len(_GSTATUS) else "?"
    if st == G_WAITING:
        s += ", " + _waitreason(int(gp["waitreason"]))
    return s


class GpmSwitch(gdb.Command):
    """gpm switch ID: show G ID's saved context in the selected thread, for
`bt`, `frame N`, `info locals`. gpm switch: give the thread back its own
registers. On a live process, do that before continuing or detaching."""

    def __init__(self):
        super().__init__("gpm switch", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        if not arg.strip():
            if _restore():
                gdb.write("gpm: thread %d has its own registers again\n" % gdb.selected_thread().num)
                gdb.execute("frame", from_tty=False)
            else:
                gdb.write("gpm: no G switched to\n")
            return
        gp = findg(_parse_goid(arg))
        written = _switch_to(gp)
        th = gdb.selected_thread()
        if written:
            gdb.write("gpm: thread %d now shows G%d [%s]; `gpm switch` gives it back its registers "
                      "(do that before continue, step or detach)\n" % (th.num, int(gp["goid"]), _describe(gp)))
            gdb.execute("frame", from_tty=False)
        else:
            n = _first_g_level()
            gdb.write("gpm: thread %d shows G%d [%s] from frame #%d (read-only target); `gpm switch` ends it\n"
                      % (th.num, int(gp["goid"]), _describe(gp), n))
            gdb.execute("frame %d" % n, from_tty=False)


def _on_exit(event):
    _Switch.active = None


def _register():
    InfoGpm()
    GpmPrefix()
    GpmBt()
    GpmSwitch()
    gdb.unwinder.register_unwinder(None, _GUnwinder(), replace=True)
    gdb.frame_filters[_hide.name] = _hide
    if not getattr(gdb, "_gpm_exit_hooked", False):
        gdb.events.exited.connect(_on_exit)
        gdb._gpm_exit_hooked = True


_register()
