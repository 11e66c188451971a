#!/usr/bin/env python3
"""scripts/lib/bench_plot.py TABLE OUT.svg: draw a table printed by
scripts/bench as a bar chart, with gnuplot. Run by `scripts/bench --plot`
and `scripts/bench --plot-from`, which install gnuplot first.

The chart has one horizontal group of bars per table row, native, gpm and Go
from top to bottom, on one logarithmic axis of time per operation: shorter is
faster. A row measured in requests per second (http) is drawn as time per
request, 1 / throughput over all its connections together, so that every row
reads the same way; the caption says so, and the figure written at the end of
each bar is the table's own. A column with no figure ("-", "failed", "hung",
...) has no bar; its word is written where the bar would start.

The caption is the table's own host lines, verbatim: the CPU, the kernel,
glibc, and whether user space may write %fs with wrfsbase.

In the SVG, gnuplot puts each plot element in <g id="gnuplot_plot_N">: the
three legend entries come first, then one element per table row, whose
<title> (a browser shows it as a tooltip) this script sets to the row's label.
tests/meta/bench-plot.sh relies on that.
"""

import math
import re
import subprocess
import sys
import tempfile
import textwrap
from xml.sax.saxutils import escape

# A figure as scripts/bench's fmt_value prints it, or the word it prints
# instead of one.
FIGURE = r"(?:\d+(?:\.\d+)? (?:ns|us)|\d+(?:\.\d+)?k?/s|-|hung|crashed|failed|died)"
RATIO = r"(?:\d+(?:\.\d+)?x|-)"
ROW = re.compile(
    rf"^(?P<label>.+?)\s+(?P<native>{FIGURE})\s+(?P<gpm>{FIGURE})\s+(?P<go>{FIGURE})"
    rf"\s+{RATIO}\s+{RATIO}\s*$")

COLUMNS = (("native", "#8c8c8c"), ("gpm", "#2166ac"), ("Go", "#1b9e77"))


def to_ns(figure):
    """Nanoseconds per operation for a figure of the table, or None for a
    word. A rate becomes the time per request, 1e9 / rate."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?) (ns|us)", figure)
    if m:
        return float(m[1]) * (1000 if m[2] == "us" else 1)
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(k?)/s", figure)
    if m:
        rate = float(m[1]) * (1000 if m[2] else 1)
        return 1e9 / rate if rate > 0 else None
    return None


def parse(text):
    """(host lines, rows) of a table. Host lines are those before the
    table's header; a row is (label, is_rate, [native, gpm, Go figures])."""
    head, rows, in_table = [], [], False
    for line in text.splitlines():
        if not in_table:
            if re.match(r"^benchmark\s+native\s+gpm\s+Go\b", line):
                in_table = True
            elif line.strip():
                head.append(line.strip())
            continue
        m = ROW.match(line)
        if not m:
            continue    # scripts/bench's notes to stderr, if captured
        figures = [m["native"], m["gpm"], m["go"]]
        rows.append((m["label"].strip(), any(f.endswith("/s") for f in figures), figures))
    return head, rows


def gp_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def tick_label(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3), ("ns", 1)):
        if ns >= scale:
            return f"{ns / scale:g} {unit}"
    return f"{ns:g} ns"


def script(head, rows, out):
    """The gnuplot program that draws ROWS into OUT."""
    values = [to_ns(f) for _, _, figs in rows for f in figs]
    known = [v for v in values if v is not None] or [1.0, 1000.0]
    lo = 10 ** math.floor(math.log10(min(known)))
    # Room to the right of the longest bar for its figure.
    hi = 10 ** math.ceil(math.log10(max(known) * 8))

    host = [line for line in head if line.startswith(("host:", "user FSGSBASE:"))]
    other = [line for line in head if line not in host and not line.startswith("ratios:")]
    caption = host + textwrap.wrap(
        "Bars: time per operation, logarithmic axis, shorter is faster. "
        + ("Rows in req/s are drawn as time per request (1 / throughput, all connections together); "
           "their figures are the table's. " if any(r for _, r, _ in rows) else "")
        + "No bar: no figure (no Go program for the row, or the run failed).", 160) + other

    n = len(rows)
    row_px, top_px, caption_px = 62, 36, 18 * len(caption) + 50
    height = top_px + row_px * n + caption_px
    p = [
        "set encoding utf8",
        f"set terminal svg size 1000,{height} dynamic noenhanced font 'sans,11' background 'white'",
        f"set output {gp_string(out)}",
        "set logscale x",
        # A hair below the decade, or gnuplot drops that decade's tic.
        f"set xrange [{lo * 0.999:g}:{hi:g}]",
        f"set yrange [{n - 0.5}:-0.5]",
        f"set tmargin at screen {1 - top_px / height:.4f}",
        f"set bmargin at screen {caption_px / height:.4f}",
        "set lmargin at screen 0.40",
        "set rmargin at screen 0.97",
        "set grid xtics mxtics lc rgb '#dddddd'",
        "set xtics (" + ", ".join(
            f"{gp_string(tick_label(10 ** e))} {10 ** e:g}"
            for e in range(round(math.log10(lo)), round(math.log10(hi)) + 1)) + ")",
        "set mxtics 10",
        "set ytics scale 0 (" + ", ".join(
            f"{gp_string(label + (' [as time per request]' if rate else ''))} {i}"
            for i, (label, rate, _) in enumerate(rows)) + ")",
        "set xlabel 'time per operation (log scale)'",
        f"set key at screen 0.97, screen {1 - 6 / height:.4f} right top horizontal",
        "set style fill solid 1.0 border lc rgb '#333333'",
    ]
    for j, line in enumerate(caption):
        y = (caption_px - 45 - 18 * j) / height
        p.append(f"set label {gp_string(line)} at screen 0.02, screen {y:.4f} left")

    # One data block per row, "x y colour" per bar.
    data = []
    for i, (label, rate, figs) in enumerate(rows):
        for k, fig in enumerate(figs):
            y = i - 0.27 + 0.27 * k
            v = to_ns(fig)
            if v is None:
                p.append(f"set label {gp_string(fig)} at {lo * 1.15:g}, {y:.2f} left font ',9' tc rgb '#555555'")
                continue
            data.append(f"{v:g} {y:.2f} {int(COLUMNS[k][1][1:], 16)}")
            p.append(f"set label {gp_string(fig)} at {v * 1.12:g}, {y:.2f} left font ',9'")
        if not any(to_ns(f) is not None for f in figs):
            # Keep the row's plot element, and so its group in the SVG.
            data.append(f"NaN {i} 0")
        data += ["", ""]
    p.append("$bars << EOD")
    p += data
    p.append("EOD")
    plot = [f"keyentry with boxes fc rgb '{colour}' title '{name}'" for name, colour in COLUMNS]
    plot.append(f"for [i=0:{n - 1}] $bars index i using 1:2:({lo:g}):1:($2-0.12):($2+0.12):3 "
                "with boxxyerror lc rgb variable notitle")
    p.append("plot " + ", \\\n     ".join(plot))
    return "\n".join(p) + "\n"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: bench_plot.py TABLE OUT.svg")
    table, out = sys.argv[1:]
    with open(table, encoding="utf-8") as f:
        head, rows = parse(f.read())
    if not rows:
        sys.exit(f"bench_plot.py: no table rows in {table}")
    with tempfile.NamedTemporaryFile("w", suffix=".gp", encoding="utf-8") as gp:
        gp.write(script(head, rows, out))
        gp.flush()
        subprocess.run(["gnuplot", gp.name], check=True)

    # Name each row's group after its row: element N of the plot command is
    # <g id="gnuplot_plot_N">, titled "gnuplot_plot_N" when it has no title.
    with open(out, encoding="utf-8") as f:
        svg = f.read()
    for k, (name, _) in enumerate(COLUMNS, 1):
        svg = svg.replace(f'<g id="gnuplot_plot_{k}" ><title>gnuplot_plot_{k}</title>',
                          f'<g id="gnuplot_plot_{k}" ><title>{name}</title>')
    for i, (label, _, _) in enumerate(rows):
        k = len(COLUMNS) + 1 + i
        old = f'<g id="gnuplot_plot_{k}" ><title>gnuplot_plot_{k}</title>'
        if old not in svg:
            sys.exit(f"bench_plot.py: gnuplot drew no group for row {i + 1} ({label})")
        svg = svg.replace(old, f'<g id="gnuplot_plot_{k}" ><title>{escape(label)}</title>')
    with open(out, "w", encoding="utf-8") as f:
        f.write(svg)


if __name__ == "__main__":
    main()
