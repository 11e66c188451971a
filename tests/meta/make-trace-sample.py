#!/usr/bin/env python3
"""tests/meta/make-trace-sample.py OUT: write a small, deterministic gpm
execution trace in the format of docs/TRACE.md, for tests/meta/gpm-trace.py.

The story (times in µs from the start of the trace; end_ns is 250 µs):

  M0/P0: G1 main runs 0-20, creates G2..G5 (10, 12, 14, 16), parks on join
         at 20. G2 runs 25-40 and parks on the mutex MUTEX; G3 readies it at
         60 and it runs 62-90 (exit). G3 runs 91-101, sysmon preempts it at
         100; G5 runs 102-110 (the sleeper's timer fires and readies G4 at
         103) and parks on MUTEX; G3 runs 111-140 (readies G5 at 130, exits);
         G5 runs 141-150 and parks on fd 5 (io); a netpoll readies it at 155;
         it runs 157-160 (exit) and readies G1, which runs 165 to the end,
         its span never closed.
  M1/P1: an E whose B was dropped at 5; steals from P0 at 30; G3 runs
         30.5-70 with a system call 35-55, readies G2 at 60, parks on MUTEX
         at 70 (G2 readies it at 80 from M0); G4 runs 71-75, is named
         "sleeper" at 72, parks on sleep at 75; G4 runs 104-125 with a system
         call 106-120 (exit); M1 hands P1 off at 126.

Events are written in a shuffled (but fixed) order: per track they must be
sorted again by ts. No two B/E events of one track share a ts, so that order
is unambiguous.
"""

import json
import random
import sys

MUTEX = "0x7f3a5c001040"
JOINED = "0x7f3a5b7ff640"
NAMES = {1: "main", 2: "worker-a", 3: "worker-b", 4: None, 5: None}


def span_name(g, named=True):
    name = NAMES.get(g) if named else None
    return f"G{g} {name}" if name else f"G{g}"


def m_ev(m, ph, event, ts, **args):
    ev = {"ph": ph, "name": event, "pid": 1, "tid": m, "ts": ts, "args": args}
    if ph == "i":
        ev["s"] = "t"
    return ev


def run(events, m, p, g, start, end, why, name=None):
    """G g runs on M m with P p from start to end (None: never closed)."""
    label = name or span_name(g)
    tracks = ((1, m), (2, p))
    for pid, tid in tracks:
        args = {"g": g, "p": p} if pid == 1 else {"g": g}
        events.append({"ph": "B", "name": label, "pid": pid, "tid": tid, "ts": start, "args": args})
        if end is not None:
            events.append({"ph": "E", "name": label, "pid": pid, "tid": tid, "ts": end,
                           "args": {"g": g, "why": why}})


def syscall(events, m, g, start, end):
    events.append(m_ev(m, "B", "syscall", start, g=g))
    events.append(m_ev(m, "E", "syscall", end, g=g))


def metadata():
    meta = [{"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": name}}
            for pid, name in ((1, "Ms"), (2, "Ps"), (3, "sysmon & other threads"))]
    for m in (0, 1):
        meta.append({"ph": "M", "name": "thread_name", "pid": 1, "tid": m,
                     "args": {"name": f"M{m} (tid {4100 + m})"}})
        meta.append({"ph": "M", "name": "thread_name", "pid": 2, "tid": m,
                     "args": {"name": f"P{m}"}})
    meta.append({"ph": "M", "name": "thread_name", "pid": 3, "tid": 0,
                 "args": {"name": "sysmon"}})
    return meta


def m0_events(ev):
    run(ev, 0, 0, 1, 0, 20, "park")
    for ts, g, fn in ((10, 2, "worker"), (12, 3, "worker"), (14, 4, "sleeper"), (16, 5, "0x401234")):
        ev.append(m_ev(0, "i", "create", ts, g=g, by=1, fn=fn))
    ev.append(m_ev(0, "i", "park", 20, g=1, reason="join", obj=JOINED))
    run(ev, 0, 0, 2, 25, 40, "park")
    ev.append(m_ev(0, "i", "park", 40, g=2, reason="mutex", obj=MUTEX))
    run(ev, 0, 0, 2, 62, 90, "exit")
    ev.append(m_ev(0, "i", "ready", 80, g=3, by=2))
    ev.append(m_ev(0, "i", "exit", 90, g=2))
    run(ev, 0, 0, 3, 91, 101, "preempt")
    run(ev, 0, 0, 5, 102, 110, "park")
    ev.append(m_ev(0, "i", "timer", 102.5, late_ns=1500))
    ev.append(m_ev(0, "i", "ready", 103, g=4, by=None))
    ev.append(m_ev(0, "i", "park", 110, g=5, reason="mutex", obj=MUTEX))
    run(ev, 0, 0, 3, 111, 140, "exit")
    ev.append(m_ev(0, "i", "ready", 130, g=5, by=3))
    ev.append(m_ev(0, "i", "exit", 140, g=3))
    run(ev, 0, 0, 5, 141, 150, "park")
    ev.append(m_ev(0, "i", "park", 150, g=5, reason="io", obj=5))
    ev.append(m_ev(0, "i", "netpoll", 155, n=1))
    ev.append(m_ev(0, "i", "ready", 155, g=5, by=None))
    run(ev, 0, 0, 5, 157, 160, "exit")
    ev.append(m_ev(0, "i", "exit", 160, g=5))
    ev.append(m_ev(0, "i", "ready", 161, g=1, by=5))
    run(ev, 0, 0, 1, 165, None, None)


def m1_events(ev):
    ev.append(m_ev(1, "E", "G7", 5, g=7, why="park"))  # its B was dropped
    ev.append(m_ev(1, "i", "steal", 30, p=0))
    run(ev, 1, 1, 3, 30.5, 70, "park")
    syscall(ev, 1, 3, 35, 55)
    ev.append(m_ev(1, "i", "ready", 60, g=2, by=3))
    ev.append(m_ev(1, "i", "park", 70, g=3, reason="mutex", obj=MUTEX))
    run(ev, 1, 1, 4, 71, 75, "park")
    ev.append(m_ev(1, "i", "name", 72, g=4, name="sleeper"))
    ev.append(m_ev(1, "i", "park", 75, g=4, reason="sleep", obj=None))
    run(ev, 1, 1, 4, 104, 125, "exit", name="G4 sleeper")
    syscall(ev, 1, 4, 106, 120)
    ev.append(m_ev(1, "i", "exit", 125, g=4))
    ev.append(m_ev(1, "i", "handoff", 126, p=1))


def sysmon_events(ev):
    ev.append({"ph": "i", "s": "t", "name": "preempt", "pid": 3, "tid": 0, "ts": 100,
               "args": {"g": 3, "m": 0}})
    ev.append({"ph": "i", "s": "t", "name": "retake", "pid": 3, "tid": 0, "ts": 50,
               "args": {"p": 1, "m": 1}})
    ev.append({"ph": "i", "s": "t", "name": "someday", "pid": 3, "tid": 0, "ts": 51,
               "args": {}})  # an event name this version does not know


def main():
    (out,) = sys.argv[1:]
    events = []
    m0_events(events)
    m1_events(events)
    sysmon_events(events)
    random.Random(7).shuffle(events)
    trace = {"displayTimeUnit": "ns",
             "otherData": {"gpm": {"version": 1, "pid": 4100, "maxprocs": 2, "start_ns": 0,
                                   "end_ns": 250000, "dropped": 3, "events": len(events)}},
             "traceEvents": metadata() + events}
    with open(out, "w", encoding="utf-8") as f:
        json.dump(trace, f, indent=None, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
