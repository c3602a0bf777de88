#!/usr/bin/env bash
# The framework's floor beside srs, in one run: `srs serve` on SQLite
# (release build, 10,000 students imported, a bearer token) and
# `srs-floor` (bench/floor: the same axum and tokio answering every GET
# with one body from memory, nothing else) serving the very body srs
# served for the signed-in JSON list (GET /api/v1/students, 50 students).
# wrk at 64 connections on each, alternated --rounds times, then one
# connection alone on each for the latency of a single request. Prints
# Markdown with the medians and the ratios; with --write appends it to
# docs/BENCHMARKS.md.
#
#   bench/floor.sh [--write] [--duration 15s] [--rounds 3]
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
rounds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --write) write=true ;;
    --duration) duration=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    *) echo "bench/floor.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[[ "$rounds" =~ ^[1-9]$ ]] || { echo "bench/floor.sh: --rounds takes 1-9" >&2; exit 2; }
need_command wrk wrk
need_command curl curl
install_packages bench/floor.sh

bin=$(release_binary)
echo "building srs-floor..." >&2
cargo build --release -p srs-floor >&2
floor_bin=$PWD/target/release/srs-floor
work=$(mktemp -d /tmp/srs-floor-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

srs_port=$(free_port)
db="sqlite:$work/srs.db"
RUST_LOG=warn "$bin" serve --listen "127.0.0.1:$srs_port" --database-url "$db" >"$work/srs.log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$srs_port" 10 || { cat "$work/srs.log" >&2; exit 1; }
token=$(create_admin_token "$bin" bench "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" floor --database-url "$db")
python3 bench/gen_students.py 10000 > "$work/students.csv"
echo "loading 10,000 students..." >&2
curl -sf -X POST -H 'Content-Type: text/csv' -H "Authorization: Bearer $token" --data-binary @"$work/students.csv" \
  "http://127.0.0.1:$srs_port/api/v1/students/import" >/dev/null
srs_url="http://127.0.0.1:$srs_port/api/v1/students"
curl -sf -H "Authorization: Bearer $token" "$srs_url" > "$work/body.json"
body_bytes=$(wc -c < "$work/body.json")
students=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["items"] if isinstance(d, dict) else d))' "$work/body.json")

floor_port=$(free_port)
"$floor_bin" --listen "127.0.0.1:$floor_port" --body "$work/body.json" 2>"$work/floor.log" &
pids+=($!)
floor_url="http://127.0.0.1:$floor_port/api/v1/students"
for _ in $(seq 100); do curl -sf -o /dev/null "$floor_url" && break; sleep 0.05; done
cmp -s <(curl -sf "$floor_url") "$work/body.json" || { echo "srs-floor does not serve the body" >&2; exit 1; }

# One wrk run; prints its RESULT pairs.
run() { # connections url
  local threads=2
  [ "$1" -le 1 ] && threads=1
  wrk_result "$work/run.lua" "" "$token" -t"$threads" -c"$1" -d"$duration" \
    -H "Authorization: Bearer $token" "$2"
}
: > "$work/srs.rps"; : > "$work/floor.rps"
: > "$work/srs.p50"; : > "$work/floor.p50"
: > "$work/srs.one"; : > "$work/floor.one"
for r in $(seq "$rounds"); do
  for who in srs floor; do
    url=${who}_url
    echo "round $r: $who at 64 connections..." >&2
    res=$(run 64 "${!url}")
    result_field "$res" rps >> "$work/$who.rps"
    result_field "$res" p50_ms >> "$work/$who.p50"
    [ "$(result_field "$res" errors)" = 0 ] || { echo "$who: wrk saw errors: $res" >&2; exit 1; }
  done
done
for who in srs floor; do
  url=${who}_url
  echo "$who at 1 connection..." >&2
  res=$(run 1 "${!url}")
  result_field "$res" p50_us >> "$work/$who.one"
done
srs_rps=$(median "$work/srs.rps"); floor_rps=$(median "$work/floor.rps")
srs_one=$(median "$work/srs.one"); floor_one=$(median "$work/floor.one")

report=$work/report.md
{
  echo "## bench/floor.sh — $(date -u +%Y-%m-%d)"
  echo
  echo "- Command: \`bench/floor.sh --duration $duration --rounds $rounds\` (release build; srs serve on SQLite with 10,000 students, a bearer token; srs-floor serving the same $body_bytes-byte body of $students students; wrk -t2 -c64, the two alternated, then wrk -t1 -c1 on each)"
  echo "- Machine: $(machine_summary)"
  echo "- Commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!docs' || echo ' (with uncommitted changes)')"
  echo
  echo "| GET /api/v1/students | srs | floor | srs / floor | target |"
  echo "|---|---:|---:|---:|---|"
  echo "| requests/s at 64 connections (median of $rounds; each: $(paste -sd' ' "$work/srs.rps") / $(paste -sd' ' "$work/floor.rps")) | ${srs_rps%.*} | ${floor_rps%.*} | $(awk -v a="$srs_rps" -v b="$floor_rps" 'BEGIN { printf "%.2f", a / b }') | at least 0.5 |"
  echo "| p50 at 64 connections, ms (median) | $(median "$work/srs.p50") | $(median "$work/floor.p50") | | |"
  echo "| one request alone (1 connection), p50 µs | ${srs_one%.*} | ${floor_one%.*} | $(awk -v a="$srs_one" -v b="$floor_one" 'BEGIN { printf "%.1f", a / b }') | srs under 100 µs |"
} > "$report"
cat "$report"
if $write; then append_to_benchmarks "$report"; fi
