#!/bin/bash
# The official mariadb image's start-up, reduced to what deploy/compose/
# uses: on an empty /var/lib/mysql, initialise it, set the root password
# (root@localhost and root@'%'), create MARIADB_DATABASE and
# MARIADB_USER, and a healthcheck user for healthcheck.sh; then run
# mariadbd with the command's options. Nothing of the set-up goes to the
# binary log, so servers that will replicate start with equal GTID state.
set -euo pipefail

log() { printf '%s [entrypoint] %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }
# Quotes a value for a single-quoted SQL string.
sql_string() { local s=${1//\\/\\\\}; s=${s//\'/\\\'}; printf "'%s'" "$s"; }
# Quotes a name (database) for SQL.
# shellcheck disable=SC2016
sql_name() { local s=${1//\`/\`\`}; printf '`%s`' "$s"; }

if [ "${1:0:1}" = "-" ]; then set -- mariadbd "$@"; fi
if [ "$1" != mariadbd ] && [ "$1" != mysqld ]; then exec "$@"; fi
shift

datadir=/var/lib/mysql
install -d -o mysql -g mysql -m 0755 /run/mysqld
chown mysql:mysql "$datadir"

# Set up once, and completely: a data directory whose set-up stopped half
# way (accounts without passwords) is set up again from nothing.
done_mark=$datadir/.srs-initialised
if [ ! -e "$done_mark" ]; then
  if [ -n "${MARIADB_USER:-}" ] && [ -z "${MARIADB_PASSWORD:-}" ]; then
    log "MARIADB_USER is set without MARIADB_PASSWORD: refusing to make an account without a password"
    exit 1
  fi
  find "$datadir" -mindepth 1 -delete
  root_password=${MARIADB_ROOT_PASSWORD:-}
  if [ -z "$root_password" ]; then
    if [ -n "${MARIADB_RANDOM_ROOT_PASSWORD:-}" ]; then
      root_password=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
      # Kept where only the database's owner reads it, not in the log.
      (umask 077; printf '%s\n' "$root_password" > "$datadir/.root-password")
      chown mysql:mysql "$datadir/.root-password"
      log "generated a root password: /var/lib/mysql/.root-password"
    elif [ -z "${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:-}" ]; then
      log "database is uninitialized and none of MARIADB_ROOT_PASSWORD, MARIADB_RANDOM_ROOT_PASSWORD, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD is set"
      exit 1
    fi
  fi
  log "initialising $datadir"
  mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db \
    --auth-root-authentication-method=normal >/dev/null
  socket=/run/mysqld/init.sock
  # The start's own options too (character set, collation), so that the
  # database made here gets them; then no network and no binary log.
  mariadbd --user=mysql --datadir="$datadir" "$@" --skip-networking --socket="$socket" \
    --skip-log-bin --skip-slave-start &
  pid=$!
  # This shell is PID 1 until it execs mariadbd: pass a stop on.
  trap 'kill -TERM "$pid"; wait "$pid"; exit 143' TERM INT
  for _ in $(seq 1 300); do
    mariadb-admin --no-defaults --socket="$socket" -uroot ping >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { log "the initialising server died"; exit 1; }
    sleep 0.1
  done
  health_password=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  {
    echo "SET @@SESSION.SQL_LOG_BIN = 0;"
    # sql_string escapes with backslashes: make sure they are escapes.
    echo "SET @@SESSION.sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '');"
    # mariadb-install-db's extra root and anonymous accounts, without passwords.
    echo "DROP USER IF EXISTS ''@'localhost', ''@'$(hostname)', 'root'@'127.0.0.1', 'root'@'::1', 'root'@'$(hostname)';"
    echo "CREATE USER 'healthcheck'@'127.0.0.1' IDENTIFIED BY $(sql_string "$health_password");"
    echo "CREATE USER 'healthcheck'@'::1' IDENTIFIED BY $(sql_string "$health_password");"
    echo "CREATE USER 'healthcheck'@'localhost' IDENTIFIED BY $(sql_string "$health_password");"
    if [ -n "$root_password" ]; then
      echo "CREATE USER 'root'@'%' IDENTIFIED BY $(sql_string "$root_password");"
      echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
      echo "SET PASSWORD FOR 'root'@'localhost' = PASSWORD($(sql_string "$root_password"));"
    else
      echo "CREATE USER 'root'@'%';"
      echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    fi
    if [ -n "${MARIADB_DATABASE:-}" ]; then
      echo "CREATE DATABASE IF NOT EXISTS $(sql_name "$MARIADB_DATABASE");"
    fi
    if [ -n "${MARIADB_USER:-}" ]; then
      echo "CREATE USER $(sql_string "$MARIADB_USER")@'%' IDENTIFIED BY $(sql_string "${MARIADB_PASSWORD:-}");"
      if [ -n "${MARIADB_DATABASE:-}" ]; then
        echo "GRANT ALL ON $(sql_name "$MARIADB_DATABASE").* TO $(sql_string "$MARIADB_USER")@'%';"
      fi
    fi
  } | mariadb --no-defaults --socket="$socket" -uroot
  (umask 077; printf '[client]\nuser=healthcheck\npassword=%s\nprotocol=tcp\nhost=127.0.0.1\n' "$health_password" \
    > "$datadir/.my-healthcheck.cnf")
  trap - TERM INT
  kill -TERM "$pid"
  wait "$pid" || true
  touch "$done_mark"
  log "initialised"
fi
# healthcheck.sh connects to the port this start's options give (e.g. --port=3307).
cnf=$datadir/.my-healthcheck.cnf
[ -f "$cnf" ] || (umask 077; printf '[client]\nuser=healthcheck\nprotocol=tcp\nhost=127.0.0.1\n' > "$cnf")
if ! options=$(mariadbd "$@" --verbose --help 2>&1); then
  log "the server refuses its options: $(printf '%s\n' "$options" | grep -m1 -i error)"
  exit 1
fi
port=$(printf '%s\n' "$options" | awk '$1 == "port" { print $2; exit }')
sed -i '/^port=/d' "$cnf"
echo "port=${port:-3306}" >> "$cnf"
chown mysql:mysql "$cnf"
chmod 0600 "$cnf"
exec mariadbd --user=mysql "$@"
