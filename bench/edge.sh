#!/usr/bin/env bash
# Two-site benchmark: `srs up` (release build) in each sync mode, with and
# without parallel apply. Loads 10,000 students through the edge, then runs
# wrk at 64 connections on the list API and on create, once through the
# edge and once straight at one app instance, sampling replication lag on
# the DR server every 250 ms during the create load. Prints Markdown; with
# --write appends it to docs/BENCHMARKS.md.
#
#   bench/edge.sh [--write] [--duration 15s]
set -euo pipefail
cd "$(dirname "$0")/.."

write=false
duration=15s
while [ $# -gt 0 ]; do
  case "$1" in
    --write) write=true ;;
    --duration) duration=$2; shift ;;
    *) echo "bench/edge.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
command -v wrk >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

echo "building the release binary..." >&2
cargo build --release -p srs >&2
bin=$PWD/target/release/srs
work=$(mktemp -d /tmp/srs-edge-bench.XXXXXX)
up_pid=""
stop_up() {
  if [ -n "$up_pid" ]; then kill -TERM "$up_pid" 2>/dev/null || true; wait "$up_pid" 2>/dev/null || true; up_pid=""; fi
}
cleanup() { stop_up; rm -rf "$work"; }
trap cleanup EXIT INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
python3 bench/gen_students.py 10000 > "$work/students.csv"

run_wrk() { # url script-or-empty
  local lua="$work/run.lua"
  if [ -n "$2" ]; then cat "bench/wrk/$2" bench/wrk/report.lua > "$lua"; else cp bench/wrk/report.lua "$lua"; fi
  SRS_BENCH_TOKEN="$token" wrk -t2 -c64 -d"$duration" --timeout 10s -H "Authorization: Bearer $token" -s "$lua" "$1" | sed -n 's/^RESULT //p'
}
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

report="$work/report.md"
{
  echo "## bench/edge.sh — $(date -u +%Y-%m-%d)"
  echo
  echo "- Command: \`bench/edge.sh --duration $duration\` (release build; \`srs up\` with two local MariaDB servers, 2 primary app instances, the edge; wrk -t2 -c64; 10,000 students loaded through the edge)"
  echo "- Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/Mem:/ {print $2}') GiB RAM; wrk, the edge, both apps and both databases share the cores"
  echo "- Direct = straight at one app instance on the same database; lag = transactions the DR server had received or committed on the primary but not yet applied, sampled every 250 ms during the create run through the edge"
  echo
  echo "| sync mode | parallel apply | endpoint | edge req/s | direct req/s | edge/direct | edge p50 ms | direct p50 ms | edge p99 ms | apply lag p50/p99/max (txn) | est. apply lag p99 (s) |"
  echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
} > "$report"

for config in "strict 4" "bounded 4" "async 4" "strict 0"; do
  read -r mode threads <<<"$config"
  dir="$work/cluster-$mode-$threads"
  mkdir -p "$dir"
  edge=$(free_port); admin=$(free_port); db1=$(free_port); db2=$(free_port); app1=$(free_port); app2=$(free_port)
  cat > "$dir/srs-topology.toml" <<TOML
sync_mode = "$mode"
bounded_timeout_ms = 1000
parallel_apply_threads = $threads
buffer_pool_mb = 256
write_timeout_secs = 30
[edge]
listen = "127.0.0.1:$edge"
admin_listen = "127.0.0.1:$admin"
[[sites]]
name = "primary"
role = "primary"
db_port = $db1
app_ports = [$app1, $app2]
[[sites]]
name = "dr"
role = "dr"
db_port = $db2
app_ports = []
TOML
  echo "== $mode, parallel apply threads $threads" >&2
  RUST_LOG=warn "$bin" up --data-dir "$dir" >"$dir/up.log" 2>&1 &
  up_pid=$!
  for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$edge/readyz" >/dev/null && break; sleep 0.2; done
  printf 'bench password 1234\n' | "$bin" user add bench --role admin --password-stdin --data-dir "$dir" >/dev/null
  token=$("$bin" token create --user bench --name bench --data-dir "$dir" 2>/dev/null)
  curl -sf -X POST -H 'Content-Type: text/csv' -H "Authorization: Bearer $token" --data-binary @"$work/students.csv" \
    "http://127.0.0.1:$edge/api/v1/students/import" >/dev/null

  list_edge=$(run_wrk "http://127.0.0.1:$edge/api/v1/students" "")
  list_direct=$(run_wrk "http://127.0.0.1:$app1/api/v1/students" "")
  # Sample lag while creates run through the edge.
  ( while :; do "$bin" status --data-dir "$dir" --json 2>/dev/null \
      | python3 -c 'import json,sys; s=json.load(sys.stdin); d=[x for x in s["sites"] if x["role"]=="dr"][0]["database"]; print(d["lag_transactions"] if d["lag_transactions"] is not None else "")' \
      >> "$dir/lag.txt" || true; sleep 0.25; done ) &
  sampler=$!
  create_edge=$(run_wrk "http://127.0.0.1:$edge/" create.lua)
  kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
  create_direct=$(run_wrk "http://127.0.0.1:$app1/" create.lua)
  lag=$(python3 - "$dir/lag.txt" "$(field "$create_edge" rps)" <<'PY'
import sys
vals = sorted(int(x) for x in open(sys.argv[1]).read().split() if x.strip().isdigit())
rate = float(sys.argv[2] or 0)
if not vals:
    print("n/a|n/a"); sys.exit()
p = lambda q: vals[min(len(vals) - 1, int(q * (len(vals) - 1) + 0.5))]
est = p(0.99) / rate if rate else float("nan")
print(f"{p(0.5)}/{p(0.99)}/{vals[-1]} ({len(vals)} samples)|{est:.2f}")
PY
)
  for pair in "list API|$list_edge|$list_direct|-" "create|$create_edge|$create_direct|$lag"; do
    IFS='|' read -r name e d l1 l2 <<<"$pair"
    ratio=$(python3 -c "e=float('$(field "$e" rps)' or 0); d=float('$(field "$d" rps)' or 1); print(f'{e/d:.2f}')")
    if [ "$name" = "create" ]; then lagcols="$l1 | $l2"; else lagcols="- | -"; fi
    echo "| $mode | $threads | $name | $(field "$e" rps) | $(field "$d" rps) | $ratio | $(field "$e" p50_ms) | $(field "$d" p50_ms) | $(field "$e" p99_ms) | $lagcols |" >> "$report"
  done
  stop_up
done

cat "$report"
if $write; then
  { echo; cat "$report"; } >> docs/BENCHMARKS.md
  echo "appended to docs/BENCHMARKS.md" >&2
fi
