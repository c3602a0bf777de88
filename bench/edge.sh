#!/usr/bin/env bash
# Two-site benchmark: `srs up` (release build) in each sync mode, with and
# without parallel apply, with and without write admission control. Loads
# 10,000 students through the edge, then runs wrk at 64 connections on the
# list API and on create, once through the edge and once straight at one
# app instance, sampling receive and apply lag every 250 ms during the
# create load; plus the list API at 4 connections for the latency the edge
# adds on an unsaturated machine. Prints Markdown; with --write appends it
# to docs/BENCHMARKS.md.
#
#   bench/edge.sh [--write] [--duration 15s]
set -euo pipefail
# shellcheck source=scripts/lib/packages.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/packages.sh"
# shellcheck source=scripts/lib/bench.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/bench.sh"
# shellcheck source=scripts/lib/net.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/net.sh"
# shellcheck source=scripts/lib/accounts.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/accounts.sh"
# shellcheck source=scripts/lib/wrk.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/wrk.sh"
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
need_command wrk wrk
install_packages bench/edge.sh

bin=$(release_binary)
work=$(mktemp -d /tmp/srs-edge-bench.XXXXXX)
up_pid=""
stop_up() {
  if [ -n "$up_pid" ]; then kill -TERM "$up_pid" 2>/dev/null || true; wait "$up_pid" 2>/dev/null || true; up_pid=""; fi
}
cleanup() { stop_up; rm -rf "$work"; }
trap cleanup EXIT INT TERM
python3 bench/gen_students.py 10000 > "$work/students.csv"

run_wrk_c() { # connections url script-or-empty
  local threads=2
  [ "$1" -le 4 ] && threads=1
  wrk_result "$work/run.lua" "$3" "$token" -t"$threads" -c"$1" -d"$duration" -H "Authorization: Bearer $token" "$2"
}
run_wrk() { run_wrk_c 64 "$@"; } # url script-or-empty

report="$work/report.md"
latency="$work/latency.md"
{
  echo "## bench/edge.sh — $(date -u +%Y-%m-%d)"
  echo
  echo "- Command: \`bench/edge.sh --duration $duration\` (release build; \`srs up\` with two local MariaDB servers, 2 primary app instances, the controller, the edge; wrk -t2 -c64; 10,000 students loaded through the edge)"
  echo "- Machine: $(machine_summary) RAM; wrk, the edge, both apps, the controller and both databases share the cores"
  echo "- Direct = straight at one app instance on the same database. Lag sampled every 250 ms (bench/lag_sampler.py) during the create run through the edge: receive = transactions binlogged on the primary not yet received by the DR server, apply = not yet applied; apply lag in seconds is the controller's estimate (backlog / the replica's best apply rate over 2 s windows in the last 30 s: what a failover would wait). Admission = write admission control (apply_lag_budget_ms = 1000)."
  echo
  echo "| sync mode | parallel apply | admission | endpoint | edge req/s | direct req/s | edge/direct | edge p50 ms | direct p50 ms | edge p99 ms | receive lag p50/p99/max (txn) | apply lag p50/p99/max (txn) | apply lag p50/p99/max (s) | write concurrency min/median |"
  echo "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} > "$report"

for config in "strict 4 on" "strict 4 off" "bounded 4 on" "async 4 on" "strict 0 on"; do
  read -r mode threads admission <<<"$config"
  dir="$work/cluster-$mode-$threads-$admission"
  mkdir -p "$dir"
  edge=$(free_port); admin=$(free_port); db1=$(free_port); db2=$(free_port); app1=$(free_port); app2=$(free_port); ctl=$(free_port)
  if [ "$admission" = on ]; then admit=true; else admit=false; fi
  cat > "$dir/srs-topology.toml" <<TOML
sync_mode = "$mode"
bounded_timeout_ms = 1000
parallel_apply_threads = $threads
buffer_pool_mb = 256
write_timeout_secs = 30
apply_lag_budget_ms = 1000
[controller]
listen = "127.0.0.1:$ctl"
admission = $admit
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
  echo "== $mode, parallel apply threads $threads, admission $admission" >&2
  RUST_LOG=warn "$bin" up --data-dir "$dir" >"$dir/up.log" 2>&1 &
  up_pid=$!
  # Not ready in time: said on stderr, and the import below fails.
  wait_ready "http://127.0.0.1:$edge" 120 0.2 || true
  token=$(create_admin_token "$bin" bench 'bench password 1234' bench --data-dir "$dir")
  curl -sf -X POST -H 'Content-Type: text/csv' -H "Authorization: Bearer $token" --data-binary @"$work/students.csv" \
    "http://127.0.0.1:$edge/api/v1/students/import" >/dev/null

  if [ "$config" = "strict 4 on" ]; then
    # Latency the edge adds when the machine is not saturated: 4 connections.
    light_edge=$(run_wrk_c 4 "http://127.0.0.1:$edge/api/v1/students" "")
    light_direct=$(run_wrk_c 4 "http://127.0.0.1:$app1/api/v1/students" "")
    {
      echo
      echo "Light load (wrk -t1 -c4, list API, strict, parallel apply 4): what one hop through the edge adds when the cores are not saturated."
      echo
      echo "| endpoint | edge req/s | direct req/s | edge p50 ms | direct p50 ms | p50 added ms | edge p99 ms | direct p99 ms |"
      echo "|---|---:|---:|---:|---:|---:|---:|---:|"
      added=$(python3 -c "print(f'{float(\"$(result_field "$light_edge" p50_ms)\") - float(\"$(result_field "$light_direct" p50_ms)\"):.2f}')")
      echo "| list API | $(result_field "$light_edge" rps) | $(result_field "$light_direct" rps) | $(result_field "$light_edge" p50_ms) | $(result_field "$light_direct" p50_ms) | $added | $(result_field "$light_edge" p99_ms) | $(result_field "$light_direct" p99_ms) |"
    } > "$latency"
  fi

  list_edge=$(run_wrk "http://127.0.0.1:$edge/api/v1/students" "")
  list_direct=$(run_wrk "http://127.0.0.1:$app1/api/v1/students" "")
  python3 bench/lag_sampler.py "$bin" "$dir" "127.0.0.1:$ctl" > "$dir/lag.jsonl" 2>/dev/null &
  sampler=$!
  create_edge=$(run_wrk "http://127.0.0.1:$edge/" create.lua)
  kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
  create_direct=$(run_wrk "http://127.0.0.1:$app1/" create.lua)
  lag=$(python3 - "$dir/lag.jsonl" "$admission" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def pct(vals, fmt):
    vals = sorted(v for v in vals if v is not None)
    if not vals:
        return "n/a"
    p = lambda q: vals[min(len(vals) - 1, int(q * (len(vals) - 1) + 0.5))]
    return f"{fmt(p(0.5))}/{fmt(p(0.99))}/{fmt(vals[-1])}"
n = len([r for r in rows if "apply_txn" in r])
recv = pct([r.get("receive_txn") for r in rows], str)
apply_ = pct([r.get("apply_txn") for r in rows], str) + f" ({n} samples)"
secs = pct([r.get("lag_seconds") for r in rows], lambda v: f"{v:.2f}")
conc = sorted(r["write_concurrency"] for r in rows if r.get("write_concurrency") is not None)
conc_text = f"{conc[0]}/{conc[len(conc) // 2]}" if conc and sys.argv[2] == "on" else "- (not followed)"
print(f"{recv}|{apply_}|{secs}|{conc_text}")
PY
)
  for pair in "list API|$list_edge|$list_direct|-" "create|$create_edge|$create_direct|$lag"; do
    IFS='|' read -r name e d l1 l2 l3 l4 <<<"$pair"
    ratio=$(python3 -c "e=float('$(result_field "$e" rps)' or 0); d=float('$(result_field "$d" rps)' or 1); print(f'{e/d:.2f}')")
    if [ "$name" = "create" ]; then lagcols="$l1 | $l2 | $l3 | $l4"; else lagcols="- | - | - | -"; fi
    echo "| $mode | $threads | $admission | $name | $(result_field "$e" rps) | $(result_field "$d" rps) | $ratio | $(result_field "$e" p50_ms) | $(result_field "$d" p50_ms) | $(result_field "$e" p99_ms) | $lagcols |" >> "$report"
  done
  stop_up
done
[ -f "$latency" ] && cat "$latency" >> "$report"

cat "$report"
if $write; then append_to_benchmarks "$report"; fi
