#!/usr/bin/env bash
# Backup benchmark on MariaDB: loads STUDENTS students (default 100,000)
# through the API, then measures a full backup (time, size, rate), a restore
# into a new database, a verification (trial restore on a scratch server
# plus a replay), the replay rate of archived writes, the binlog archive's
# RPO under the create load, and the create p99 with and without a backup
# running. Prints a Markdown report; with --write appends it to
# docs/BENCHMARKS.md.
#
# The with/without comparison alternates the two, ROUNDS times (default 3),
# after a first create run that warms the server up and samples the RPO,
# and reports the medians: a run right after the import is slower for
# reasons of its own (InnoDB still flushing it).
#
#   bench/backup.sh [--write] [--students 100000] [--duration 20s] [--rounds 3]
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
students=100000
duration=20s
rounds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --write) write=true ;;
    --students) students=$2; shift ;;
    --duration) duration=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    *) echo "bench/backup.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

need_command wrk wrk
need_command mariadbd mariadb-server /usr/sbin/mariadbd
need_command mariadb-binlog mariadb-client
install_packages bench/backup.sh

bin=$(release_binary)

# shellcheck source=scripts/lib/mariadb.sh
. scripts/lib/mariadb.sh
work=$(mktemp -d /tmp/srs-bench-backup.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  # Only our own children: a bare `wait` would also wait for mariadbd,
  # which private_mariadb_stop is about to stop.
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  private_mariadb_stop
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

private_mariadb_start "$work" --innodb-buffer-pool-size=256M --server-id=1 \
  --log-bin="$work/binlog" --binlog-format=ROW --sync-binlog=1 >&2
url="$MARIADB_URL/srs_bench"
store="$work/store"
port=$(free_port)
RUST_LOG=warn "$bin" serve --listen "127.0.0.1:$port" --database-url "$url" --max-import-bytes 134217728 \
  >"$work/srs.log" 2>&1 &
pids+=($!)
# Not ready in time: said on stderr, and the import below fails.
wait_ready "http://127.0.0.1:$port" 10 || true
token=$(create_admin_token "$bin" bench 'bench password 1234' bench --database-url "$url")

echo "loading $students students..." >&2
python3 bench/gen_students.py "$students" > "$work/students.csv"
curl -sf -X POST -H 'Content-Type: text/csv' -H "Authorization: Bearer $token" --data-binary @"$work/students.csv" \
  "http://127.0.0.1:$port/api/v1/students/import" >/dev/null

"$bin" backup archive --server "$MARIADB_URL" --store "$store" >"$work/archive.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -d "$store/binlogs" ] && break; sleep 0.1; done
[ -d "$store/binlogs" ] || { echo "the binlog archive did not start:" >&2; cat "$work/archive.log" >&2; exit 1; }

field() { python3 -c "import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print($1)"; }
run_create() {
  wrk_result "$work/create.lua" create.lua "$token" -t2 -c16 -d"$duration" "http://127.0.0.1:$port/"
}

echo "full backup..." >&2
b=$("$bin" backup create --database-url "$url" --store "$store" --json)
b_secs=$(echo "$b" | field 'd["secs"]')
b_bytes=$(echo "$b" | field 'd["bytes"]')
b_rows=$(echo "$b" | field 'd["rows"]')
raw_mb=$(mariadb --no-defaults -uroot --socket="$MARIADB_SOCKET" -N -B -e \
  "SELECT ROUND(SUM(data_length + index_length) / 1048576, 1) FROM information_schema.tables WHERE table_schema = 'srs_bench'")

echo "restore into a new database..." >&2
r=$("$bin" restore --into "$MARIADB_URL/srs_restored" --store "$store" --json)
r_secs=$(echo "$r" | field 'd["secs"]')

echo "verification (scratch server)..." >&2
v=$("$bin" backup verify --store "$store" --json)
v_secs=$(echo "$v" | field 'd["verified"]["restore_secs"]')

echo "create load (warm-up), sampling the archive's RPO..." >&2
python3 bench/rpo_sampler.py "$MARIADB_SOCKET" "$store/binlogs" > "$work/rpo.json" &
sampler=$!
warm=$(run_create)
kill -TERM "$sampler"; wait "$sampler" || true
sleep 2
end_time=$(date -u +%Y-%m-%dT%H:%M:%SZ)

plain_runs=""
loaded_runs=""
for round in $(seq 1 "$rounds"); do
  echo "round $round/$rounds: create load without a backup..." >&2
  plain_runs="$plain_runs$(run_create);"
  echo "round $round/$rounds: create load with backups running back to back..." >&2
  ( while true; do nice -n 10 "$bin" backup create --database-url "$url" --store "$work/store2" --json >/dev/null 2>&1 || true; done ) &
  looper=$!
  loaded_runs="$loaded_runs$(run_create);"
  kill "$looper" 2>/dev/null || true; pkill -f "store $work/store2" 2>/dev/null || true
  wait "$looper" 2>/dev/null || true
  rm -rf "$work/store2"
done

echo "replaying the archived creates..." >&2
sleep 2
p=$("$bin" restore --at "$end_time" --into "$MARIADB_URL/srs_replayed" --store "$store" --json)
p_n=$(echo "$p" | field 'd["replayed"]')
p_secs=$(echo "$p" | field 'd["replay_secs"]')

rps=$(result_field "$warm" rps)
rpo=$(cat "$work/rpo.json")
report="$work/report.md"
python3 - "$report" <<PY
import json, sys
b_secs, b_bytes, b_rows, raw_mb = float("$b_secs"), int("$b_bytes"), int("$b_rows"), float("$raw_mb" or 0)
r_secs, v_secs = float("$r_secs"), float("$v_secs")
p_n, p_secs = int("$p_n"), float("$p_secs")
import statistics
rps = float("$rps")
def runs(text):
    out = []
    for run in filter(None, text.split(";")):
        kv = dict(p.split("=", 1) for p in run.split() if "=" in p)
        out.append((float(kv["p99_ms"]), float(kv["rps"])))
    return out
plain, loaded = runs("$plain_runs"), runs("$loaded_runs")
p99 = statistics.median(r[0] for r in plain)
p99_b = statistics.median(r[0] for r in loaded)
rps_a = statistics.median(r[1] for r in plain)
rps_b = statistics.median(r[1] for r in loaded)
rounds = ", ".join(f"{a[0]:.1f}/{b[0]:.1f}" for a, b in zip(plain, loaded))
rpo = json.loads('''$rpo''')
replay_rate = p_n / p_secs if p_secs else 0
hour = rps * 3600 / replay_rate if replay_rate else 0
with open(sys.argv[1], "w") as f:
    f.write(f"""## bench/backup.sh — $(date -u +%Y-%m-%d)

- Command: \`bench/backup.sh --students $students --duration $duration --rounds $rounds\` (release build; MariaDB $(mariadb_version) private instance with its binary log, innodb_buffer_pool_size=256M, sync_binlog=1)
- Machine: $(machine_summary) RAM; wrk, srs, the archive and the database share the cores

| measure | value |
|---|---:|
| full backup of {b_rows:,} rows ({raw_mb} MB of InnoDB data and indexes) | {b_secs:.1f} s, {b_rows / b_secs:,.0f} rows/s, {raw_mb / b_secs:.1f} MB/s of table data |
| backup size (zstd) | {b_bytes / 1048576:.1f} MiB |
| restore into a new database (load + digest check) | {r_secs:.1f} s |
| verification: trial restore on a scratch server | {v_secs:.1f} s |
| replay of archived creates | {p_n:,} transactions in {p_secs:.1f} s = {replay_rate:,.0f} transactions/s |
| time to replay one hour of creates at {rps:,.0f} req/s | {hour / 60:.1f} min |
| binlog archive RPO under the create load ({rpo['samples']} samples) | p50 {rpo['p50']:.2f} s, p99 {rpo['p99']:.2f} s, max {rpo['max']:.2f} s |
| create p99 (16 connections) without / with a backup running, median of {len(plain)} alternated rounds | {p99:.1f} ms / {p99_b:.1f} ms ({(p99_b / p99 - 1) * 100:+.0f} %); {rps_a:,.0f} / {rps_b:,.0f} req/s |
| the rounds' p99 without/with (ms) | {rounds} |
""")
PY
cat "$report"
if $write; then append_to_benchmarks "$report"; fi
