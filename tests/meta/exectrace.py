#!/usr/bin/env python3
"""tests/meta/exectrace.py LIBGPM TRACE_PROG GPM_TRACE_SCRIPT: GPM_TRACE end
to end (docs/TRACE.md).

1. TRACE_PROG under gpm without GPM_TRACE writes no file.
2. With GPM_TRACE=DIR/trace-%p.json, under GPM_MAXPROCS=1 and 2, it
   writes exactly DIR/trace-PID.json (the forked child, which exits
   through exit(), writes nothing), which Python's json loads; every G
   that appears has a create event; every worker's name
   (pthread_setname_np) is there; B/E spans are balanced and nested per
   track, with matching names, on the M tracks and the P tracks;
   timestamps never go backwards per track; the parks name the reasons
   the program waits for, and every park is followed by a ready of that
   G (every thread finishes); the trace's length is the run's, within
   the time the process took (the cycle counter's calibration).
3. scripts/gpm-trace summarises it and draws an SVG that parses.
4. With GPM_TRACE_MB=1 and 400,000 yields, the file stays within 1 MiB,
   says it dropped events, and is still balanced and ordered.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict


def fail(msg):
    print(f"exectrace: {msg}", file=sys.stderr)
    sys.exit(1)


def run(lib, prog, args, env_extra, cwd):
    env = dict(os.environ, LD_PRELOAD=lib, GPM_MAXPROCS="2")
    env.pop("GPM_TRACE_MB", None)
    env.pop("GPM_TRACE", None)
    env.update(env_extra)
    t0 = time.monotonic()
    p = subprocess.run([prog] + args, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - t0
    if p.returncode != 0 or not p.stdout.rstrip().endswith("ok"):
        fail(f"{prog} {args} {env_extra} exited {p.returncode}: {p.stdout[-300:]} {p.stderr[-300:]}")
    m = re.match(r"pid (\d+)", p.stdout)
    return int(m.group(1)), elapsed


def check_structure(path):
    """Loads the trace and checks what holds for any trace; returns it."""
    with open(path, encoding="utf-8") as f:
        d = json.load(f)
    events = d["traceEvents"]
    gpm = d["otherData"]["gpm"]
    stacks = defaultdict(list)
    last = {}
    for e in events:
        if e["ph"] == "M":
            continue
        track = (e["pid"], e["tid"])
        if e["ts"] < last.get(track, 0):
            fail(f"{path}: time goes backwards on track {track}: {e}")
        last[track] = e["ts"]
        if e["ph"] == "B":
            stacks[track].append(e["name"])
        elif e["ph"] == "E":
            if not stacks[track]:
                fail(f"{path}: an end without a begin on track {track}: {e}")
            begun = stacks[track].pop()
            if begun != e["name"]:
                fail(f"{path}: {e} ends {begun!r}")
    for track, open_ in stacks.items():
        if open_:
            fail(f"{path}: spans left open on track {track}: {open_}")
    if not last:
        fail(f"{path}: no events")
    if gpm["version"] != 1 or gpm["end_ns"] <= 0:
        fail(f"{path}: otherData.gpm is {gpm}")
    return d


def check_traced(lib, prog, gpm_trace, d, procs):
    """Step 2 and 3 with GPM_MAXPROCS=procs, in the empty directory d."""
    pid, elapsed = run(lib, prog, [], {"GPM_TRACE": os.path.join(d, "trace-%p.json"), "GPM_MAXPROCS": procs}, d)
    files = sorted(os.listdir(d))
    if files != [f"trace-{pid}.json"]:
        fail(f"expected only trace-{pid}.json, found {files}")
    path = os.path.join(d, files[0])
    t = check_structure(path)
    events = t["traceEvents"]
    if t["otherData"]["gpm"]["dropped"] != 0:
        fail(f"a 64 MiB budget dropped events of a small program: {t['otherData']}")
    created = {e["args"]["g"] for e in events if e.get("name") == "create"}
    seen = set()
    for e in events:
        if e["ph"] in "BE" and e["name"] != "syscall":
            seen.add(e["args"]["g"])
        elif e["ph"] == "i" and e["name"] in ("park", "ready", "exit"):
            seen.add(e["args"]["g"])
    if len(created) < 41 or not seen <= created:
        fail(f"{len(created)} creates; Gs without one: {sorted(seen - created)[:10]}")
    names = {e["args"]["name"] for e in events if e.get("name") == "name"}
    want = {f"worker-{i}" for i in range(40)}
    if not want <= names:
        fail(f"names missing: {sorted(want - names)[:5]}")
    spans = {e["name"] for e in events if e["ph"] == "B"}
    if not any(re.fullmatch(r"G\d+ worker-7", s) for s in spans):
        fail("no span is named after worker-7")
    reasons = {e["args"]["reason"] for e in events if e.get("name") == "park"}
    for r in ("mutex", "cond", "sleep", "join", "io"):
        if r not in reasons:
            fail(f"no park for {r}: parks seen for {sorted(reasons)}")
    if "syscall" not in spans:
        fail("no syscall span")
    mutex_parks = [e for e in events if e.get("name") == "park" and e["args"]["reason"] == "mutex"]
    if not all(isinstance(e["args"]["obj"], str) and e["args"]["obj"].startswith("0x") for e in mutex_parks):
        fail("a mutex park without the mutex's address")

    # Every park is followed by a ready of the same G: every thread ends.
    pending = {}
    for e in sorted((e for e in events if e["ph"] == "i"), key=lambda e: e["ts"]):
        if e["name"] == "park":
            pending[e["args"]["g"]] = e
        elif e["name"] == "ready":
            pending.pop(e["args"]["g"], None)
    if pending:
        fail(f"GPM_MAXPROCS={procs}: parks never followed by a ready: {list(pending.values())[:3]}")
    if not any(e["ph"] == "B" and e["pid"] == 2 for e in events):
        fail(f"GPM_MAXPROCS={procs}: no span on a P track")
    # The trace's clock: at least the program's own waits (5 ms before
    # main's write, 40 workers each holding the mutex across 200 us), at
    # most the time the whole process took.
    end_ms = t["otherData"]["gpm"]["end_ns"] / 1e6
    if not 13 <= end_ms <= elapsed * 1000:
        fail(f"GPM_MAXPROCS={procs}: the trace lasts {end_ms:.1f} ms, the run {elapsed * 1000:.1f} ms")

    # 3. scripts/gpm-trace.
    svg = os.path.join(d, "t.svg")
    p = subprocess.run([gpm_trace, path, "--svg", svg], capture_output=True, text=True, timeout=120)
    if p.returncode != 0 or "worker-" not in p.stdout or "mutex" not in p.stdout:
        fail(f"gpm-trace exited {p.returncode}: {p.stdout[-500:]} {p.stderr[-500:]}")
    ET.parse(svg)
    os.unlink(svg)
    os.unlink(path)



def main():
    lib, prog, gpm_trace = sys.argv[1:]
    with tempfile.TemporaryDirectory() as d:
        # 1. Off: no file at all (the working directory stays empty).
        run(lib, prog, [], {}, d)
        if os.listdir(d):
            fail(f"without GPM_TRACE the run left {os.listdir(d)}")

        # 2. On, with one P and with two.
        for procs in ("1", "2"):
            check_traced(lib, prog, gpm_trace, d, procs)

        # 4. A budget too small for everything: the newest events, within it.
        pid, _ = run(lib, prog, ["yield"], {"GPM_TRACE": os.path.join(d, "small-%p.json"), "GPM_TRACE_MB": "1"}, d)
        path = os.path.join(d, f"small-{pid}.json")
        size = os.path.getsize(path)
        if size > 1 << 20:
            fail(f"GPM_TRACE_MB=1 wrote {size} bytes")
        t = check_structure(path)
        if t["otherData"]["gpm"]["dropped"] == 0:
            fail(f"400,000 yields fit in 1 MiB? {t['otherData']}")
    print("exectrace: ok")


main()
