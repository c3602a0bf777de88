#!/usr/bin/env bash
# Creates at the distance real sites are apart. `srs serve` writes to a
# MariaDB primary in strict mode (semi-synchronous, AFTER_SYNC, no
# timeout: every commit waits for the replica's acknowledgement); the
# replica reaches the primary through `srs link-delay`, which holds each
# direction for D ms, so every commit costs one round trip of 2 x D ms.
# For each one-way delay and connection count, wrk POSTs new students for
# DURATION. Prints requests/s, p50 and p99 beside Little's law's bound
# (connections / round trip), and checks that every commit waited for the
# replica (Rpl_semi_sync_master_no_tx stays 0). With --write appends the
# report to docs/BENCHMARKS.md.
#
# --pool sets srs serve's --max-connections (default: srs's own, 16): a
# strict create holds its connection for a round trip, so the pool bounds
# creates/s at pool / round trip before the load does.
#
# --wait-point AFTER_COMMIT measures MariaDB's other semi-sync mode for
# comparison (srs's sites never use it: it lets other sessions read a
# commit the replica may not have).
#
#   bench/distance.sh [--write] [--duration 20s] [--delays "0 15 35"] [--conns "64 256"] [--pool N] [--wait-point AFTER_SYNC|AFTER_COMMIT]
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
duration=20s
delays="0 15 35"
conns="64 256"
pool=""
wait_point=AFTER_SYNC
while [ $# -gt 0 ]; do
  case "$1" in
    --write) write=true ;;
    --duration) duration=$2; shift ;;
    --delays) delays=$2; shift ;;
    --conns) conns=$2; shift ;;
    --pool) pool=$2; shift ;;
    --wait-point) wait_point=$2; shift ;;
    *) echo "bench/distance.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
for d in $delays; do
  if ! [[ "$d" =~ ^[0-9]+$ ]] || [ "$d" -gt 1000 ]; then
    echo "bench/distance.sh: --delays takes whole milliseconds, 0-1000 (got '$d')" >&2; exit 2
  fi
done
for c in $conns; do
  if ! [[ "$c" =~ ^[0-9]+$ ]] || [ "$c" -lt 2 ] || [ "$c" -gt 1000 ]; then
    echo "bench/distance.sh: --conns takes 2-1000 (got '$c')" >&2; exit 2
  fi
done
if [ -n "$pool" ] && { ! [[ "$pool" =~ ^[0-9]+$ ]] || [ "$pool" -lt 1 ] || [ "$pool" -gt 450 ]; }; then
  echo "bench/distance.sh: --pool takes 1-450 (the primary allows 1,000 connections, mariadb-slap takes up to 256 of them; got '$pool')" >&2; exit 2
fi
case "$wait_point" in
  AFTER_SYNC|AFTER_COMMIT) ;;
  *) echo "bench/distance.sh: --wait-point takes AFTER_SYNC or AFTER_COMMIT (got '$wait_point')" >&2; exit 2 ;;
esac
need_command wrk wrk
need_command curl curl
need_command mariadbd mariadb-server /usr/sbin/mariadbd
install_packages bench/distance.sh

bin=$(release_binary)
work=$(mktemp -d /tmp/srs-distance.XXXXXX)
srs_pid=""; delay_pid=""; primary_pid=""; replica_pid=""
stop_mariadb() { # pid
  MARIADB_PID=$1 private_mariadb_stop
}
cleanup() {
  for pid in $srs_pid $delay_pid; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  [ -n "$replica_pid" ] && stop_mariadb "$replica_pid"
  [ -n "$primary_pid" ] && stop_mariadb "$primary_pid"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The server options srs's own sites run with (srs-mariadb's settings):
# GTIDs, a durable binary log, semi-sync acknowledged after the sync
# (unless --wait-point says otherwise).
common=(--log-bin=mariadb-bin --binlog-format=ROW --gtid-strict-mode=ON --sync-binlog=1
  --innodb-buffer-pool-size=256M "--rpl-semi-sync-master-wait-point=$wait_point")
mkdir -p "$work/primary" "$work/replica"
echo "starting the primary and the replica..." >&2
# Room for srs's pool and mariadb-slap's connections at once (each up to
# 256 + the pool; the private servers' default is 500).
private_mariadb_start "$work/primary" --server-id=1 "${common[@]}" --max-connections=1000 \
  --rpl-semi-sync-master-enabled=ON --rpl-semi-sync-master-wait-no-slave=ON \
  --rpl-semi-sync-master-timeout=4294967295 >&2
primary_pid=$MARIADB_PID; primary_port=$MARIADB_PORT; primary_socket=$MARIADB_SOCKET; primary_url=$MARIADB_URL
private_mariadb_start "$work/replica" --server-id=2 "${common[@]}" --rpl-semi-sync-slave-enabled=ON >&2
replica_pid=$MARIADB_PID; replica_socket=$MARIADB_SOCKET

on() { # socket sql
  mariadb --no-defaults --socket="$1" -uroot -N -B -e "$2"
}
status() { # socket variable
  on "$1" "SHOW GLOBAL STATUS LIKE '$2'" | awk '{print $2}'
}
repl_password=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
on "$primary_socket" "SET sql_log_bin = 0; CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY '$repl_password'; GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1'"

delay_port=$(free_port)
# Puts a proxy with DELAY ms each way between the replica and the primary
# and waits until the primary counts the replica as its semi-sync client.
link() { # delay-ms
  on "$replica_socket" "STOP SLAVE" 2>/dev/null || true
  if [ -n "$delay_pid" ]; then kill -TERM "$delay_pid" 2>/dev/null || true; wait "$delay_pid" 2>/dev/null || true; fi
  "$bin" link-delay --listen "127.0.0.1:$delay_port" --to "127.0.0.1:$primary_port" --delay-ms "$1" >"$work/link-$1.log" 2>&1 &
  delay_pid=$!
  for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$delay_port") 2>/dev/null && break; sleep 0.05; done
  on "$replica_socket" "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$delay_port, MASTER_USER='repl', MASTER_PASSWORD='$repl_password', MASTER_USE_GTID=slave_pos; START SLAVE"
  for _ in $(seq 200); do
    [ "$(status "$primary_socket" Rpl_semi_sync_master_clients)" = 1 ] && return 0
    sleep 0.1
  done
  echo "the replica did not connect through the delay of $1 ms" >&2
  on "$replica_socket" "SHOW SLAVE STATUS\G" >&2
  return 1
}
link 0

url="$primary_url/srs_distance"
port=$(free_port)
RUST_LOG=warn "$bin" serve --listen "127.0.0.1:$port" --database-url "$url" ${pool:+--max-connections "$pool"} >"$work/srs.log" 2>&1 &
srs_pid=$!
wait_ready "http://127.0.0.1:$port" 20 || { cat "$work/srs.log" >&2; exit 1; }
token=$(create_admin_token "$bin" bench "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" distance --database-url "$url")

# The database alone, as the ceiling srs cannot pass: the same primary and
# link, C connections each committing one-row INSERTs back to back
# (mariadb-slap). Prints "commits/s mean-latency-ms".
on "$primary_socket" "CREATE DATABASE alone; CREATE TABLE alone.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(64) NOT NULL) ENGINE=InnoDB"
database_alone() { # connections
  local n=$(( $1 * 40 )) secs
  secs=$(mariadb-slap --no-defaults --socket="$primary_socket" -uroot --concurrency="$1" --iterations=1 \
    --number-of-queries="$n" --create-schema=alone --no-drop --query="INSERT INTO t (v) VALUES ('x')" |
    awk '/Average number of seconds to run all queries/ { print $(NF-1) }')
  awk -v n="$n" -v s="$secs" -v c="$1" 'BEGIN { if (s > 0) printf "%.0f %.1f\n", n / s, 1000 * s * c / n; else print "- -" }'
}

rows=$work/rows.md
: > "$rows"
for d in $delays; do
  echo "one-way delay $d ms..." >&2
  link "$d"
  # A few commits first: the link's first round trips are not the load's.
  wrk_result "$work/run.lua" create.lua "$token" -t1 -c4 -d2s "http://127.0.0.1:$port/api/v1/students" >/dev/null
  for c in $conns; do
    read -r alone_rps alone_ms < <(database_alone "$c")
    yes_before=$(status "$primary_socket" Rpl_semi_sync_master_yes_tx)
    no_before=$(status "$primary_socket" Rpl_semi_sync_master_no_tx)
    waits_before=$(status "$primary_socket" Innodb_row_lock_waits)
    groups_before=$(status "$primary_socket" Binlog_group_commits)
    commits_before=$(status "$primary_socket" Binlog_commits)
    echo "  $c connections for $duration..." >&2
    res=$(wrk_result "$work/run.lua" create.lua "$token" -t2 -c"$c" -d"$duration" "http://127.0.0.1:$port/api/v1/students")
    yes_tx=$(( $(status "$primary_socket" Rpl_semi_sync_master_yes_tx) - yes_before ))
    no_tx=$(( $(status "$primary_socket" Rpl_semi_sync_master_no_tx) - no_before ))
    # Why a create took longer than a round trip: row locks it waited
    # for (a strict commit holds its locks for a round trip), and how
    # many commits shared each binary log group (each group waits once).
    waits=$(( $(status "$primary_socket" Innodb_row_lock_waits) - waits_before ))
    groups=$(( $(status "$primary_socket" Binlog_group_commits) - groups_before ))
    commits=$(( $(status "$primary_socket" Binlog_commits) - commits_before ))
    per_group=$(awk -v c="$commits" -v g="$groups" 'BEGIN { if (g > 0) printf "%.1f", c / g; else print "-" }')
    [ "$no_tx" = 0 ] || { echo "$no_tx commit(s) did not wait for the replica: not strict" >&2; exit 1; }
    rps=$(result_field "$res" rps)
    p50=$(result_field "$res" p50_ms)
    p99=$(result_field "$res" p99_ms)
    rtt=$((2 * d))
    if [ "$d" -gt 0 ]; then
      bound=$(awk -v c="$c" -v r="$rtt" 'BEGIN { printf "%.0f", c / (r / 1000) }')
      share=$(awk -v a="$rps" -v b="$bound" 'BEGIN { printf "%.0f %%", 100 * a / b }')
      p50_over=$(awk -v p="$p50" -v r="$rtt" 'BEGIN { printf "%+.1f", p - r }')
    else
      bound="-"; share="-"; p50_over="-"
    fi
    echo "| $d | $rtt | $c | ${rps%.*} | $p50 | $p99 | $p50_over | $bound | $share | $alone_rps | $alone_ms | $yes_tx | $waits | $per_group | $(result_field "$res" errors) |" >> "$rows"
  done
done

report=$work/report.md
{
  echo "## bench/distance.sh — $(date -u +%Y-%m-%d)"
  echo
  echo "- Command: \`bench/distance.sh --duration $duration --delays \"$delays\" --conns \"$conns\"${pool:+ --pool $pool}$([ "$wait_point" = AFTER_SYNC ] || echo " --wait-point $wait_point")\` (release build; srs serve with ${pool:-its default 16} database connections on a private MariaDB $(mariadb_version) primary, strict mode: semi-sync $wait_point, no timeout; its replica connected through \`srs link-delay\`; wrk -t2 POSTing new students, bench/wrk/create.lua)"
  echo "- Machine: $(machine_summary); wrk, srs, both servers and the proxy share the cores"
  echo "- Commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!docs' || echo ' (with uncommitted changes)')"
  echo "- Bound: Little's law, connections / round trip (each connection has one create in flight, and none can finish sooner than one round trip)"
  echo
  echo "| one-way ms | round trip ms | connections | creates/s | p50 ms | p99 ms | p50 - round trip, ms | bound /s | of bound | database alone: commits/s | database alone: mean ms | commits acknowledged by the replica | row lock waits | commits per binlog group | errors |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  cat "$rows"
} > "$report"
cat "$report"
if $write; then append_to_benchmarks "$report"; fi
