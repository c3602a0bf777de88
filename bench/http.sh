#!/usr/bin/env bash
# HTTP benchmark of `srs serve` (release build) on MariaDB and on SQLite.
# Loads 10,000 students, then runs wrk for DURATION at 16 and 64
# connections against: the overview page (signed in), the list page (HTML, 50 rows), the list API, get by
# id, search, and create. Prints a Markdown report and, with --write,
# appends it to docs/BENCHMARKS.md.
#
#   bench/http.sh [--write] [--duration 20s] [--engines "mariadb sqlite"]
#                 [--cases "overview,list page,list API,get by id,search,create"]
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
duration=20s
engines="mariadb sqlite"
cases="overview,list page,list API,get by id,search,create"
while [ $# -gt 0 ]; do
  case "$1" in
    --write) write=true ;;
    --duration) duration=$2; shift ;;
    --engines) engines=$2; shift ;;
    --cases) cases=$2; shift ;;
    *) echo "bench/http.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

need_command wrk wrk
need_command mariadbd mariadb-server /usr/sbin/mariadbd
install_packages bench/http.sh

bin=$(release_binary)

# shellcheck source=scripts/lib/mariadb.sh
. scripts/lib/mariadb.sh
work=$(mktemp -d /tmp/srs-bench.XXXXXX)
srs_pid=""
cleanup() {
  [ -n "$srs_pid" ] && kill -TERM "$srs_pid" 2>/dev/null && wait "$srs_pid" 2>/dev/null || true
  private_mariadb_stop
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

python3 bench/gen_students.py 10000 > "$work/students.csv"

run_wrk() { # connections script-or-empty path [header]
  local conns=$1 script=$2 path=$3 header=${4:-"X-Bench: 1"}
  wrk_result "$work/run.lua" "$script" "$token" -t2 -c"$conns" -d"$duration" -H "$header" "http://127.0.0.1:$port$path"
}

# An admin, a bearer token for the API and a signed-in session for the page.
sign_in() { # database-url port
  token=$(create_admin_token "$bin" bench 'bench password 1234' bench --database-url "$1")
  local jar="$work/cookies" csrf
  rm -f "$jar"
  csrf=$(curl -s -c "$jar" "http://127.0.0.1:$2/login" | sed -n 's/.*name="csrf_token" value="\([0-9a-f]*\)".*/\1/p' | head -1)
  curl -s -b "$jar" -c "$jar" -o /dev/null -d "csrf_token=$csrf&username=bench&password=bench+password+1234" "http://127.0.0.1:$2/login"
  session="srs_session=$(awk '$6 == "srs_session" {print $7}' "$jar")"
}

report="$work/report.md"
{
  echo "## bench/http.sh — $(date -u +%Y-%m-%d)"
  echo
  echo "- Command: \`bench/http.sh --duration $duration --engines \"$engines\" --cases \"$cases\"\` (release build, wrk -t2, 10,000 students loaded by CSV import)"
  echo "- Machine: $(machine_summary) RAM; wrk, srs and the database share the cores"
  echo "- Server: \`srs serve\` with default settings (pool of 16 connections); MariaDB $(mariadb_version) private instance, innodb_buffer_pool_size=256M, durable commits (innodb_flush_log_at_trx_commit=1); SQLite in WAL mode, synchronous=NORMAL"
  echo
} > "$report"

for engine in $engines; do
  case "$engine" in
    mariadb)
      private_mariadb_start "$work" --innodb-buffer-pool-size=256M >&2
      url="$MARIADB_URL/srs_bench" ;;
    sqlite)
      url="sqlite:$work/sqlite/srs.db" ;;
    *) echo "unknown engine $engine" >&2; exit 2 ;;
  esac
  port=$(free_port)
  RUST_LOG=warn "$bin" serve --listen "127.0.0.1:$port" --database-url "$url" >"$work/srs-$engine.log" 2>&1 &
  srs_pid=$!
  # Not ready in time: said on stderr, and the import below fails.
  wait_ready "http://127.0.0.1:$port" 10 || true
  sign_in "$url" "$port"
  echo "loading 10,000 students into $engine..." >&2
  load_start=$(date +%s%N)
  curl -sf -X POST -H 'Content-Type: text/csv' -H "Authorization: Bearer $token" --data-binary @"$work/students.csv" \
    "http://127.0.0.1:$port/api/v1/students/import" >/dev/null
  load_secs=$(python3 -c "print(($(date +%s%N) - $load_start) / 1e9)")

  {
    echo "### $engine"
    echo
    printf -- "- Import of 10,000 students (one all-or-nothing CSV request): %.1f s\n" "$load_secs"
    echo
    echo "| endpoint | connections | requests/s | p50 ms | p99 ms | errors |"
    echo "|---|---:|---:|---:|---:|---:|"
  } >> "$report"
  # Creates run last so that every read sees the same 10,000 rows.
  for case in "overview|GET /||/" \
              "list page|GET /students||/students" \
              "list API|GET /api/v1/students||/api/v1/students" \
              "get by id|GET /api/v1/students/{random id}|get.lua|/" \
              "search|GET /api/v1/students?q=smith||/api/v1/students?q=smith" \
              "create|POST /api/v1/students|create.lua|/"; do
    IFS='|' read -r name label script path <<<"$case"
    case ",$cases," in *",$name,"*) ;; *) continue ;; esac
    for conns in 16 64; do
      echo "  $engine $name at $conns connections..." >&2
      if [ "$name" = "list page" ] || [ "$name" = "overview" ]; then header="Cookie: $session"; else header="Authorization: Bearer $token"; fi
      r=$(run_wrk "$conns" "$script" "$path" "$header")
      printf '| %s (`%s`) | %s | %s | %s | %s | %s |\n' "$name" "$label" "$conns" \
        "$(result_field "$r" rps)" "$(result_field "$r" p50_ms)" "$(result_field "$r" p99_ms)" "$(result_field "$r" errors)" >> "$report"
    done
  done
  peak_kb=$(awk '/VmHWM/ {print $2}' "/proc/$srs_pid/status")
  printf -- "\n- Server peak memory (VmHWM): %d MiB\n\n" $((peak_kb / 1024)) >> "$report"
  kill -TERM "$srs_pid"; wait "$srs_pid" || true; srs_pid=""
  [ "$engine" = mariadb ] && private_mariadb_stop
done

cat "$report"
if $write; then append_to_benchmarks "$report"; fi
