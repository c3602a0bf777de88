#!/usr/bin/env bash
# Three-host failover benchmark: `srs drill --hosts 3 --repeat N` (release
# build) for the faults that fail over (partition-host, kill-host,
# pause-host) and those that must not fail a write (kill-leader,
# witness-down), in strict and async mode (--modes to choose). Prints the p50/p95/max RTO per
# fault and mode and the totals of split-brain writes and lost creates;
# with --write appends it to docs/BENCHMARKS.md. Needs root and etcd.
#
#   bench/drill-hosts.sh [--write] [--repeat 10] [--faults partition-host,kill-host]
set -euo pipefail
# shellcheck source=scripts/lib/packages.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/packages.sh"
# shellcheck source=scripts/lib/bench.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/bench.sh"
cd "$(dirname "$0")/.."

write=false
repeat=10
faults="partition-host,kill-host,pause-host,kill-leader,witness-down"
modes="strict,async"
while [ $# -gt 0 ]; do
  case "$1" in
    --write) write=true ;;
    --repeat) repeat=$2; shift ;;
    --faults) faults=$2; shift ;;
    --modes) modes=$2; shift ;;
    *) echo "bench/drill-hosts.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
need_command etcd etcd-server
install_packages bench/drill-hosts.sh

bin=$(release_binary)
out=$(mktemp -d /tmp/srs-drill-hosts.XXXXXX)
"$bin" drill --hosts 3 --fault "$faults" --sync-mode "$modes" \
  --repeat "$repeat" --report-dir "$out" >"$out/drill.log" 2>&1 || true

report=$(python3 - "$out/three-hosts.json" "$repeat" <<'PY'
import json, sys, statistics, datetime, platform, os
runs = json.load(open(sys.argv[1]))["runs"]
def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(p / 100 * len(xs) + 0.5) - 1))] if xs else None
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"## bench/drill-hosts.sh — {datetime.date.today()}\n")
print(f"`srs drill --hosts 3 --repeat {sys.argv[2]}`, release build, {cpu}, {os.cpu_count()} cores (three network namespaces on one machine, 8 clients at each of three locations).\n")
print("| fault | mode | runs passed | RTO p50 s | RTO p95 s | RTO max s | old side's last write p95 s | acknowledged | lost | split-brain writes | failed creates |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
keys = []
for r in runs:
    k = (r["fault"], r["sync_mode"])
    if k not in keys: keys.append(k)
f = lambda x: "-" if x is None else f"{x:.2f}"
for k in keys:
    rs = [r for r in runs if (r["fault"], r["sync_mode"]) == k]
    rto = [r["rto_seconds"] for r in rs if r["rto_seconds"] is not None]
    old = [r["old_side_last_write_seconds"] for r in rs if r["old_side_last_write_seconds"] is not None]
    print(f"| {k[0]} | {k[1]} | {sum(r['passed'] for r in rs)}/{len(rs)} | {f(pct(rto,50))} | {f(pct(rto,95))} | {f(max(rto) if rto else None)} | {f(pct(old,95))} | "
          f"{sum(r['acknowledged'] for r in rs)} | {sum(r['acknowledged_lost'] for r in rs)} | {sum(r['split_brain_writes'] for r in rs)} | {sum(r['failed_creates'] for r in rs)} |")
PY
)
echo "$report"
echo "reports: $out" >&2
if $write; then printf '%s\n' "$report" > "$out/benchmark.md"; append_to_benchmarks "$out/benchmark.md"; fi
