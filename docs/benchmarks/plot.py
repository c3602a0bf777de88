#!/usr/bin/env python3
"""Plot one column of a docs/benchmarks CSV file across runs, as SVG.

Python's standard library only. Runs are placed left to right in the order
they first appear in the file (the files list them oldest first). One line
per value of --series; --where keeps only the rows whose column has that
value. Empty cells are skipped.

  python3 docs/benchmarks/plot.py docs/benchmarks/http.csv --y requests_per_s \\
      --series endpoint --where engine=mariadb --where connections=64 > http.svg
  python3 docs/benchmarks/plot.py docs/benchmarks/drill-hosts.csv --y rto_p95_s \\
      --series fault,sync_mode > rto.svg
"""
import argparse, csv, sys
from xml.sax.saxutils import escape

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("file")
p.add_argument("--y", required=True, help="column to plot")
p.add_argument("--x", default="run", help="column that names a run (default: run)")
p.add_argument("--series", default="", help="column(s), comma-separated, one line per value")
p.add_argument("--where", action="append", default=[], metavar="COLUMN=VALUE")
a = p.parse_args()

rows = list(csv.DictReader(open(a.file, newline="")))
for cond in a.where:
    col, _, val = cond.partition("=")
    rows = [r for r in rows if r.get(col) == val]
for col in [a.x, a.y] + [c for c in a.series.split(",") if c]:
    if rows and col not in rows[0]:
        sys.exit(f"plot.py: no column {col!r} in {a.file}")
runs = list(dict.fromkeys(r[a.x] for r in rows))
series = {}
for r in rows:
    if r[a.y] == "":
        continue
    name = " ".join(r[c] for c in a.series.split(",") if c) or a.y
    try:
        value = float(r[a.y].lstrip("+"))
    except ValueError:
        sys.exit(f"plot.py: {a.y}={r[a.y]!r} is not a number")
    series.setdefault(name, []).append((runs.index(r[a.x]), value))
if not series:
    sys.exit("plot.py: nothing to plot")

W, H, L, R, T, B = 900, 420, 70, 230, 30, 110
top = max(v for pts in series.values() for _, v in pts) * 1.1 or 1
sx = lambda i: L + (W - L - R) * (i / max(1, len(runs) - 1))
sy = lambda v: T + (H - T - B) * (1 - v / top)
colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf", "#bcbd22"]
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<text x="{L}" y="18" font-size="13">{escape(a.y)} ({escape(a.file.split("/")[-1])}'
       f'{escape(", " + ", ".join(a.where)) if a.where else ""})</text>']
for k in range(6):
    v = top * k / 5
    out.append(f'<line x1="{L}" x2="{W - R}" y1="{sy(v):.1f}" y2="{sy(v):.1f}" stroke="#ddd"/>')
    label = f"{v:,.0f}" if top >= 100 else f"{v:.3g}"
    out.append(f'<text x="{L - 6}" y="{sy(v) + 4:.1f}" text-anchor="end">{label}</text>')
for i, run in enumerate(runs):
    x, y = sx(i), H - B + 14
    out.append(f'<text x="{x:.1f}" y="{y}" transform="rotate(40 {x:.1f} {y})">{escape(run)}</text>')
for n, (name, pts) in enumerate(series.items()):
    c = colors[n % len(colors)]
    out.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="'
               + " ".join(f"{sx(i):.1f},{sy(v):.1f}" for i, v in pts) + '"/>')
    out += [f'<circle cx="{sx(i):.1f}" cy="{sy(v):.1f}" r="3" fill="{c}"/>' for i, v in pts]
    out.append(f'<text x="{W - R + 12}" y="{T + 10 + 16 * n}" fill="{c}">{escape(name)}</text>')
out.append("</svg>")
print("\n".join(out))
