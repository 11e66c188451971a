#!/usr/bin/env python3
"""tests/meta/bench-plot.py SCRIPTS_BENCH SAMPLE: `scripts/bench --plot-from
SAMPLE OUT.svg` draws a saved table without running a benchmark; the SVG
parses, holds one bar group per table row (scripts/lib/bench_plot.py titles
each row's <g> with the row's label) with a bar per figure, and its caption
holds the table's host lines verbatim. Skips (77) without gnuplot, which
scripts/bench --plot and scripts/test install."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"


def fail(msg):
    print(f"bench-plot: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    bench, sample = sys.argv[1:]
    if not shutil.which("gnuplot"):
        print("bench-plot: gnuplot is not installed (apt-get install gnuplot-nox)")
        sys.exit(77)
    with open(sample, encoding="utf-8") as f:
        lines = f.read().splitlines()
    host = [l for l in lines if l.startswith(("host:", "user FSGSBASE:"))]
    header = next(i for i, l in enumerate(lines) if l.startswith("benchmark "))
    # A row: its label, then five columns printed %11s each.
    rows = [l[:-60].strip() for l in lines[header + 1:] if l.strip()]
    if len(host) != 2 or not rows:
        fail(f"{sample} is not a table of scripts/bench")

    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "bench.svg")
        r = subprocess.run([bench, "--plot-from", sample, out], capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"scripts/bench --plot-from exited {r.returncode}:\n{r.stderr}")
        if not os.path.getsize(out):
            fail("the SVG is empty")
        try:
            root = ET.parse(out).getroot()
        except ET.ParseError as e:
            fail(f"the SVG is not XML: {e}")
    if root.tag != SVG + "svg":
        fail(f"the root element is {root.tag}, not svg")

    groups = {}
    for g in root.iter(SVG + "g"):
        if re.fullmatch(r"gnuplot_plot_\d+", g.get("id", "")):
            title = g.find(SVG + "title")
            groups.setdefault(title.text if title is not None else "", []).append(g)
    bar_groups = {t: gs for t, gs in groups.items() if t not in ("native", "gpm", "Go")}
    if sorted(bar_groups) != sorted(rows):
        fail(f"bar groups {sorted(bar_groups)}, table rows {sorted(rows)}")
    for label in rows:
        gs = bar_groups[label]
        if len(gs) != 1:
            fail(f"{len(gs)} bar groups for row '{label}'")
        bars = len(list(gs[0].iter(SVG + "polygon")))
        if bars != 3:
            fail(f"row '{label}': {bars} bars, not 3 (native, gpm, Go)")

    texts = {"".join(t.itertext()).strip() for t in root.iter(SVG + "text")}
    for line in host:
        if line not in texts:
            fail(f"the caption lacks the host line '{line}'")
    print(f"bench-plot: {len(rows)} rows, each a group of 3 bars; caption: {host[0]}")


if __name__ == "__main__":
    main()
