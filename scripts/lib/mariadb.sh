# shellcheck shell=bash
# Sourced by scripts/test, bench/http.sh and bench/backup.sh: starts a
# private MariaDB server in a temp dir on a free port and stops it on exit.
# Never touches a system server on 3306.
#
#   private_mariadb_start DIR [extra mariadbd options...]
#     sets MARIADB_PORT, MARIADB_PID, MARIADB_SOCKET and MARIADB_URL
#     (mysql://root@127.0.0.1:PORT, no database) and registers cleanup.
#   mariadb_version   the server's x.y.z, for a report

# shellcheck source=scripts/lib/net.sh
. "$(dirname "${BASH_SOURCE[0]}")/net.sh"

export PATH="$PATH:/usr/sbin"

# Stops the server private_mariadb_start started (TERM, then KILL after 20 s); does nothing when none runs.
private_mariadb_stop() {
  if [ -n "${MARIADB_PID:-}" ] && kill -0 "$MARIADB_PID" 2>/dev/null; then
    kill -TERM "$MARIADB_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$MARIADB_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$MARIADB_PID" 2>/dev/null || true
  fi
}

# Starts mariadbd on a free port with its data under DIR and returns once it answers a ping (30 s at most), else fails with its log.
private_mariadb_start() {
  local dir=$1; shift
  MARIADB_PORT=$(free_port)
  MARIADB_SOCKET="$dir/mysqld.sock"
  mariadb-install-db --no-defaults --datadir="$dir/data" --user="$(id -un)" \
    --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1 \
    || { cat "$dir/install.log" >&2; return 1; }
  mariadbd --no-defaults --datadir="$dir/data" --user="$(id -un)" \
    --port="$MARIADB_PORT" --bind-address=127.0.0.1 --socket="$MARIADB_SOCKET" \
    --pid-file="$dir/mysqld.pid" --log-error="$dir/mysqld.err" \
    --skip-name-resolve --max-connections=500 "$@" &
  MARIADB_PID=$!
  for _ in $(seq 1 150); do
    mariadb-admin --no-defaults --socket="$MARIADB_SOCKET" -uroot ping >/dev/null 2>&1 && break
    kill -0 "$MARIADB_PID" 2>/dev/null || { cat "$dir/mysqld.err" >&2; return 1; }
    sleep 0.2
  done
  mariadb-admin --no-defaults --socket="$MARIADB_SOCKET" -uroot ping >/dev/null
  MARIADB_URL="mysql://root@127.0.0.1:$MARIADB_PORT"
  export MARIADB_PORT MARIADB_PID MARIADB_SOCKET MARIADB_URL
}

# Prints the installed server's version (x.y.z), read from mariadbd itself, for a benchmark report.
mariadb_version() {
  mariadbd --version | grep -o '[0-9]*\.[0-9]*\.[0-9]*' | head -1
}
