#!/bin/bash
# The official mariadb image's healthcheck.sh, for the tests deploy/compose/
# uses: --connect (the server accepts TCP connections) and
# --innodb_initialized (InnoDB is up). Exit 0 when every test passes.
set -u
defaults=/var/lib/mysql/.my-healthcheck.cnf
[ $# -gt 0 ] || set -- --connect
for test in "$@"; do
  case $test in
    --connect)
      # ping answers 0 even when the account is refused: the server is up.
      mariadb-admin --defaults-extra-file="$defaults" --connect-timeout=2 ping >/dev/null 2>&1 \
        || { echo "healthcheck: cannot connect" >&2; exit 1; }
      ;;
    --innodb_initialized)
      [ "$(mariadb --defaults-extra-file="$defaults" -N -B -e \
        "SELECT 1 FROM information_schema.ENGINES WHERE engine = 'InnoDB' AND support IN ('YES', 'DEFAULT', 'ENABLED')" 2>/dev/null)" = 1 ] \
        || { echo "healthcheck: InnoDB not initialised" >&2; exit 1; }
      ;;
    *) echo "healthcheck: unsupported test $test (this stand-in knows --connect and --innodb_initialized)" >&2; exit 1 ;;
  esac
done
