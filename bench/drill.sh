#!/usr/bin/env bash
# Failover benchmark: `srs drill --repeat N` (release build) for each fault
# in strict mode, 8 clients through the edge, plus one partition that lasts
# a minute under load before the site is failed back. Prints Markdown with
# p50/p95/max of each figure; with --write appends it to docs/BENCHMARKS.md.
# Reports (JSON, Markdown, SVG timelines) stay in the printed folder.
#
# With --link-delay-ms D the sites are D ms apart each way (a [link]: on
# the replication connection and the controller's connections).
#
#   bench/drill.sh [--write] [--repeat 10] [--faults "kill-primary-site ..."]
#                  [--long-outage 60] [--link-delay-ms D]
set -euo pipefail
# shellcheck source=scripts/lib/packages.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/packages.sh"
# shellcheck source=scripts/lib/bench.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/bench.sh"
cd "$(dirname "$0")/.."

write=false
repeat=10
faults="kill-primary-db kill-primary-site pause-primary-site partition-primary kill-controller stop-replica switchover"
long_outage=60
link_delay=""
while [ $# -gt 0 ]; do
  case "$1" in
    --write) write=true ;;
    --repeat) repeat=$2; shift ;;
    --faults) faults=$2; shift ;;
    --long-outage) long_outage=$2; shift ;;
    --link-delay-ms) link_delay=$2; shift ;;
    *) echo "bench/drill.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -n "$link_delay" ] && ! [[ "$link_delay" =~ ^[1-9][0-9]{0,3}$ ]]; then
  echo "bench/drill.sh: --link-delay-ms takes 1-9999 (got '$link_delay')" >&2; exit 2
fi
if [ "$(id -u)" -eq 0 ]; then need_command nft nftables; fi
install_packages bench/drill.sh

bin=$(release_binary)
out=$(mktemp -d /tmp/srs-drill-bench.XXXXXX)
report="$out/benchmark.md"

run() { # name, then srs drill arguments
  local name=$1; shift
  echo "drill $name: $*" >&2
  "$bin" drill --report-dir "$out/$name" ${link_delay:+--link-delay-ms "$link_delay"} "$@" >"$out/$name.log" 2>&1 || true
}
for f in $faults; do
  run "$f" --fault "$f" --repeat "$repeat"
done
if [ "$long_outage" -gt 0 ]; then
  run "partition-${long_outage}s" --fault partition-primary --outage-secs "$long_outage"
fi

{
  echo "## bench/drill.sh — $(date -u +%Y-%m-%d)"
  echo
  echo "- Command: \`bench/drill.sh --repeat $repeat${link_delay:+ --link-delay-ms $link_delay}\` (release build; \`srs drill --fault F --repeat $repeat${link_delay:+ --link-delay-ms $link_delay}\`, strict mode, 8 clients creating with Idempotency-Key and reading through the edge)"
  if [ -n "$link_delay" ]; then
    echo "- Distance: the sites $link_delay ms apart each way (round trip $((2 * link_delay)) ms) on the replication connection and the controller's connections to the databases"
  fi
  echo "- Machine: $(machine_summary); the load, the edge, both databases, the app instances and the controller share the cores"
  echo "- RTO = fault to the first create acknowledged through the edge by the other site; detection = fault to the controller's decision; write pause = longest gap between acknowledged creates from 1 s before the fault to 1 s after recovery; failback = the old site rejoined, caught up and switched back to"
  echo
  echo "| fault | runs | passed | RTO s p50 / p95 / max | detection s p50 / p95 | write pause s p50 / p95 | failed requests p50 / max | acknowledged (all runs) | lost | split-brain | failback s p50 / max |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  for dir in "$out"/*/; do
    [ -f "$dir/report.json" ] || continue
    python3 - "$dir/report.json" "$(basename "$dir")" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["summary"]
def f(name, key, digits=2):
    v = s.get(name, {}).get(key)
    return "-" if v is None else f"{v:.{digits}f}"
runs = r["runs"]
print(f"| {sys.argv[2]} | {len(runs)} | {sum(1 for x in runs if x['passed'])} | "
      f"{f('rto_seconds','p50')} / {f('rto_seconds','p95')} / {f('rto_seconds','max')} | "
      f"{f('detection_seconds','p50')} / {f('detection_seconds','p95')} | "
      f"{f('write_pause_seconds','p50')} / {f('write_pause_seconds','p95')} | "
      f"{f('failed_requests','p50',0)} / {f('failed_requests','max',0)} | "
      f"{sum(x['acknowledged_writes'] for x in runs)} | {sum(x['acknowledged_lost'] for x in runs)} | "
      f"{sum(x['split_brain_writes'] for x in runs)} | {f('failback_seconds','p50',1)} / {f('failback_seconds','max',1)} |")
for i, x in enumerate(runs):
    for p in x["problems"]:
        print(f"<!-- {sys.argv[2]} run {i+1}: {p} -->", file=sys.stderr)
PY
  done
  echo
  echo "Reports and timelines: $out"
} > "$report"
cat "$report"
if $write; then append_to_benchmarks "$report"; fi
