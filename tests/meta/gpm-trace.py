#!/usr/bin/env python3
"""tests/meta/gpm-trace.py SCRIPTS_GPM_TRACE: run scripts/gpm-trace on the
synthetic trace of tests/meta/make-trace-sample.py (next to this file) and
check figures that follow from that trace by construction (its docstring
tells the story): running times, waits, the mutex's parks, the latency
histogram, the --from/--to window; that --svg writes an SVG with one row
label per M and one rect per G span; that a file that is not a trace makes
it exit 1 with one line."""

import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"
HERE = os.path.dirname(os.path.abspath(__file__))
MUTEX = "0x7f3a5c001040"
G_SPANS = 12  # G spans on the M tracks of the sample (the E alone excluded)


def fail(msg):
    print(f"gpm-trace: {msg}", file=sys.stderr)
    sys.exit(1)


def run(script, *args):
    r = subprocess.run([script, *args], capture_output=True, text=True, encoding="utf-8")
    return r.returncode, r.stdout, r.stderr


def summary(script, *args):
    rc, out, err = run(script, *args)
    if rc != 0:
        fail(f"gpm-trace {' '.join(args)} exited {rc}:\n{err}")
    return out


def expect(out, pattern, what):
    if not re.search(pattern, out, re.MULTILINE):
        fail(f"{what}: no line matches /{pattern}/ in:\n{out}")


def check_summary(out):
    expect(out, r"duration 250\.0µs, 2 Ms, 2 Ps, 5 Gs, \d+ events, 3 dropped", "header")
    # G, name, running, spans, runnable, waiting, by reason
    expect(out, r"^\s+G3\s+worker-b\s+78\.5µs\s+3\s+39\.5µs\s+10\.0µs\s+mutex 10\.0µs$", "G3's row")
    expect(out, r"^\s+G1\s+main\s+105\.0µs\s+2\s+4\.0µs\s+141\.0µs\s+join 141\.0µs$",
           "G1's row (a span never closed ends at end_ns)")
    expect(out, r"^\s+G4\s+sleeper\s+25\.0µs\s+2\s+", "G4's row (named by a name event)")
    expect(out, r"^\s+G5\s+-\s+20\.0µs\s+3\s+99\.0µs\s+25\.0µs\s+mutex 20\.0µs, io 5\.0µs$",
           "G5's row (no name)")
    if re.search(r"^\s+G7\s", out, re.MULTILINE):
        fail("G7, seen only in an E without its B, is in the table")
    expect(out, r"^\s+mutex\s+50\.0µs\s+3$", "mutex total by reason")
    expect(out, rf"^\s+{MUTEX}\s+mutex\s+3\s+50\.0µs$", "the mutex's parks and total wait")
    expect(out, r"^\s+fd 5\s+io\s+1\s+5\.0µs$", "an fd as obj")
    expect(out, r"^\s+G1 main\s+join\s+0x7f3a5b7ff640\s+141\.0µs\s+0\.020ms$", "the longest wait")
    expect(out, r"^\s+<16µs\s+2\s+#+$", "latency bucket <16µs")
    expect(out, r"^\s+<2µs\s+1\s+#+$", "latency bucket <2µs")
    expect(out, r"6 samples, p50 2\.0µs, p99 11\.0µs, max 11\.0µs", "latency percentiles")


def check_window(script, sample):
    out = summary(script, sample, "--from", "0.1", "--to", "0.2")
    expect(out, r"^\s+G3\s+worker-b\s+30\.0µs\s+2\s+10\.0µs\s+", "G3's row in 0.1-0.2 ms")
    expect(out, r"^\s+join\s+61\.0µs\s+1$", "join wait clipped to 0.1-0.2 ms")
    expect(out, r"4 samples, p50 2\.0µs, p99 11\.0µs", "latency samples readied in 0.1-0.2 ms")
    out = summary(script, sample, "--top", "2")
    rows = re.findall(r"^\s+G\d+\s", out.split("waiting time by reason")[0], re.MULTILINE)
    if len(rows) != 2:
        fail(f"--top 2: {len(rows)} rows in the G table")


def check_svg(script, sample, d):
    svg = os.path.join(d, "trace.svg")
    summary(script, sample, "--svg", svg)
    try:
        root = ET.parse(svg).getroot()
    except ET.ParseError as e:
        fail(f"the SVG is not XML: {e}")
    if root.tag != SVG + "svg":
        fail(f"the root element is {root.tag}, not svg")
    labels = sorted(t.text for t in root.iter(SVG + "text") if t.get("class") == "row")
    if labels != ["M0", "M1"]:
        fail(f"row labels {labels}, not M0 and M1")
    runs = [r for r in root.iter(SVG + "rect") if r.get("class") == "run"]
    titles = sorted(r.find(SVG + "title").text.split(":")[0] for r in runs)
    want = sorted(["G1 main"] * 2 + ["G2 worker-a"] * 2 + ["G3 worker-b"] * 3
                  + ["G4 sleeper"] * 2 + ["G5"] * 3)
    if len(want) != G_SPANS or titles != want:
        fail(f"span rects titled {titles}, not {want}")
    syscalls = [r for r in root.iter(SVG + "rect") if r.get("class") == "syscall"]
    marks = {k: len([p for p in root.iter(SVG + "path") if p.get("class") == k])
             for k in ("park", "ready", "preempt")}
    if len(syscalls) != 2 or marks != {"park": 6, "ready": 6, "preempt": 1}:
        fail(f"{len(syscalls)} syscall rects (not 2), marks {marks}")


def check_not_a_trace(script, d):
    for name, text in (("junk.json", "this is not JSON\n"), ("other.json", '{"a": 1}\n')):
        path = os.path.join(d, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        rc, out, err = run(script, path)
        if rc != 1 or len(err.strip().splitlines()) != 1:
            fail(f"{name}: exit {rc}, stderr {err!r}: want exit 1 and one line")


def main():
    (script,) = sys.argv[1:]
    with tempfile.TemporaryDirectory() as d:
        sample = os.path.join(d, "sample.json")
        subprocess.run([sys.executable, os.path.join(HERE, "make-trace-sample.py"), sample],
                       check=True)
        check_summary(summary(script, sample))
        check_window(script, sample)
        check_svg(script, sample, d)
        check_not_a_trace(script, d)
    print(f"gpm-trace: summary, window, SVG ({G_SPANS} span rects) and bad input as expected")


if __name__ == "__main__":
    main()
