#!/usr/bin/env bash
# The framework's floor beside srs, in one run: `srs serve` on SQLite and
# on a private MariaDB (release build, 10,000 students imported, a bearer
# token) and
# `srs-floor` (bench/floor: the same axum and tokio answering every GET
# with one body from memory, nothing else) serving the very body srs
# served for the signed-in JSON list (GET /api/v1/students, 50 students).
# wrk at 64 connections on each, the three alternated --rounds times, then one
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
# shellcheck source=scripts/lib/mariadb.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/mariadb.sh"
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
need_command mariadbd mariadb-server /usr/sbin/mariadbd
install_packages bench/floor.sh

bin=$(release_binary)
echo "building srs-floor..." >&2
cargo build --release -p srs-floor >&2
floor_bin=$PWD/target/release/srs-floor
work=$(mktemp -d /tmp/srs-floor-bench.XXXXXX)
pids=()
mariadb_pid=""
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "$mariadb_pid" ] && MARIADB_PID=$mariadb_pid private_mariadb_stop
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

python3 bench/gen_students.py 10000 > "$work/students.csv"
mkdir -p "$work/mariadb"
private_mariadb_start "$work/mariadb" --innodb-buffer-pool-size=256M >&2
mariadb_pid=$MARIADB_PID

# Starts `srs serve` on database URL $2, loads the students, and sets
# ${1}_url and ${1}_token.
start_srs() { # name database-url
  local port
  port=$(free_port)
  RUST_LOG=warn "$bin" serve --listen "127.0.0.1:$port" --database-url "$2" >"$work/$1.log" 2>&1 &
  pids+=($!)
  wait_ready "http://127.0.0.1:$port" 20 || { cat "$work/$1.log" >&2; exit 1; }
  local tok
  tok=$(create_admin_token "$bin" bench "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" floor --database-url "$2")
  echo "loading 10,000 students into $1..." >&2
  curl -sf -X POST -H 'Content-Type: text/csv' -H "Authorization: Bearer $tok" --data-binary @"$work/students.csv" \
    "http://127.0.0.1:$port/api/v1/students/import" >/dev/null
  printf -v "${1}_url" '%s' "http://127.0.0.1:$port/api/v1/students"
  printf -v "${1}_token" '%s' "$tok"
}
start_srs sqlite "sqlite:$work/srs.db"
start_srs mariadb "$MARIADB_URL/srs_floor"
# shellcheck disable=SC2154 # set by start_srs
curl -sf -H "Authorization: Bearer $sqlite_token" "$sqlite_url" > "$work/body.json"
# Both engines answer with the same students in the same order.
# shellcheck disable=SC2154 # set by start_srs
python3 - "$work/body.json" <(curl -sf -H "Authorization: Bearer $mariadb_token" "$mariadb_url") <<'PY' || { echo "srs on MariaDB lists other students than on SQLite" >&2; exit 1; }
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
key = lambda d: [(s["full_name"], s["date_of_birth"]) for s in d["items"]]
sys.exit(0 if key(a) == key(b) else 1)
PY
body_bytes=$(wc -c < "$work/body.json")
students=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["items"] if isinstance(d, dict) else d))' "$work/body.json")
# The floor ignores it; sent all the same, so every request is as long.
# shellcheck disable=SC2034 # read through ${who}_token
floor_token=$sqlite_token

floor_port=$(free_port)
"$floor_bin" --listen "127.0.0.1:$floor_port" --body "$work/body.json" 2>"$work/floor.log" &
pids+=($!)
floor_url="http://127.0.0.1:$floor_port/api/v1/students"
for _ in $(seq 100); do curl -sf -o /dev/null "$floor_url" && break; sleep 0.05; done
cmp -s <(curl -sf "$floor_url") "$work/body.json" || { echo "srs-floor does not serve the body" >&2; exit 1; }

# One wrk run; prints its RESULT pairs.
run() { # connections url token
  local threads=2
  [ "$1" -le 1 ] && threads=1
  wrk_result "$work/run.lua" "" "$3" -t"$threads" -c"$1" -d"$duration" \
    -H "Authorization: Bearer $3" "$2"
}
everyone="sqlite mariadb floor"
for who in $everyone; do : > "$work/$who.rps"; : > "$work/$who.p50"; : > "$work/$who.one"; done
for r in $(seq "$rounds"); do
  for who in $everyone; do
    url=${who}_url; tok=${who}_token
    echo "round $r: $who at 64 connections..." >&2
    res=$(run 64 "${!url}" "${!tok}")
    result_field "$res" rps >> "$work/$who.rps"
    result_field "$res" p50_ms >> "$work/$who.p50"
    [ "$(result_field "$res" errors)" = 0 ] || { echo "$who: wrk saw errors: $res" >&2; exit 1; }
  done
done
for who in $everyone; do
  url=${who}_url; tok=${who}_token
  echo "$who at 1 connection..." >&2
  res=$(run 1 "${!url}" "${!tok}")
  result_field "$res" p50_us >> "$work/$who.one"
done
floor_rps=$(median "$work/floor.rps"); floor_one=$(median "$work/floor.one")

report=$work/report.md
{
  echo "## bench/floor.sh — $(date -u +%Y-%m-%d)"
  echo
  echo "- Command: \`bench/floor.sh --duration $duration --rounds $rounds\` (release build; srs serve on SQLite and on a private MariaDB $(mariadb_version), each with 10,000 students, a bearer token; srs-floor serving the same $body_bytes-byte body of $students students; wrk -t2 -c64, the three alternated, then wrk -t1 -c1 on each)"
  echo "- Machine: $(machine_summary)"
  echo "- Commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!docs' || echo ' (with uncommitted changes)')"
  echo
  echo "| GET /api/v1/students | requests/s at 64 connections (median of $rounds) | each run | / floor (target: at least 0.5) | p50 at 64 connections, ms | one request alone, p50 µs (target: srs under 100) | / floor |"
  echo "|---|---:|---|---:|---:|---:|---:|"
  for who in $everyone; do
    rps=$(median "$work/$who.rps"); one=$(median "$work/$who.one")
    case $who in sqlite) label="srs on SQLite" ;; mariadb) label="srs on MariaDB" ;; floor) label="floor" ;; esac
    echo "| $label | ${rps%.*} | $(paste -sd' ' "$work/$who.rps") | $(awk -v a="$rps" -v b="$floor_rps" 'BEGIN { printf "%.2f", a / b }') | $(median "$work/$who.p50") | ${one%.*} | $(awk -v a="$one" -v b="$floor_one" 'BEGIN { printf "%.1f", a / b }') |"
  done
} > "$report"
cat "$report"
if $write; then append_to_benchmarks "$report"; fi
