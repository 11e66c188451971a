#!/usr/bin/env python3
"""tests/meta/exectrace.py LIBGPM TRACE_PROG GPM_TRACE_SCRIPT: GPM_TRACE end
to end (docs/TRACE.md).

1. TRACE_PROG under gpm without GPM_TRACE writes no file.
2. With GPM_TRACE=DIR/trace-%p.json it writes exactly DIR/trace-PID.json
   (the forked child, which exits through exit(), writes nothing), which
   Python's json loads; every G that appears has a create event; every
   worker's name (pthread_setname_np) is there; B/E spans are balanced and
   nested per track, with matching names; timestamps never go backwards
   per track; the parks name the reasons the program waits for.
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
import xml.etree.ElementTree as ET
from collections import defaultdict


def fail(msg):
    print(f"exectrace: {msg}", file=sys.stderr)
    sys.exit(1)


def run(lib, prog, args, env_extra, cwd):
    env = dict(os.environ, LD_PRELOAD=lib, GPM_MAXPROCS="2")
    env.pop("GPM_TRACE", None)
    env.update(env_extra)
    p = subprocess.run([prog] + args, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    if p.returncode != 0 or not p.stdout.rstrip().endswith("ok"):
        fail(f"{prog} {args} {env_extra} exited {p.returncode}: {p.stdout[-300:]} {p.stderr[-300:]}")
    m = re.match(r"pid (\d+)", p.stdout)
    return int(m.group(1))


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


def main():
    lib, prog, gpm_trace = sys.argv[1:]
    with tempfile.TemporaryDirectory() as d:
        # 1. Off: no file at all (the working directory stays empty).
        run(lib, prog, [], {}, d)
        if os.listdir(d):
            fail(f"without GPM_TRACE the run left {os.listdir(d)}")

        # 2. On.
        pid = run(lib, prog, [], {"GPM_TRACE": os.path.join(d, "trace-%p.json")}, d)
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

        # 3. scripts/gpm-trace.
        svg = os.path.join(d, "t.svg")
        p = subprocess.run([gpm_trace, path, "--svg", svg], capture_output=True, text=True, timeout=120)
        if p.returncode != 0 or "worker-" not in p.stdout or "mutex" not in p.stdout:
            fail(f"gpm-trace exited {p.returncode}: {p.stdout[-500:]} {p.stderr[-500:]}")
        ET.parse(svg)
        os.unlink(svg)
        os.unlink(path)

        # 4. A budget too small for everything: the newest events, within it.
        pid = run(lib, prog, ["yield"], {"GPM_TRACE": os.path.join(d, "small-%p.json"), "GPM_TRACE_MB": "1"}, d)
        path = os.path.join(d, f"small-{pid}.json")
        size = os.path.getsize(path)
        if size > 1 << 20:
            fail(f"GPM_TRACE_MB=1 wrote {size} bytes")
        t = check_structure(path)
        if t["otherData"]["gpm"]["dropped"] == 0:
            fail(f"400,000 yields fit in 1 MiB? {t['otherData']}")
    print("exectrace: ok")


main()
