# shellcheck shell=bash
# Sourced by the scripts and benchmarks that call the API of an srs they
# started: an administrator and a bearer token for it, made with the CLI.
#
#   token=$(create_admin_token SRS USER PASSWORD TOKEN_NAME STORE_OPTION...)

# Adds admin USER (password on stdin, never in argv) and prints a new API token NAME for it; STORE_OPTIONs say where the database is (--database-url URL or --data-dir DIR).
create_admin_token() { # srs-binary user password token-name store-option...
  local bin=$1 user=$2 password=$3 name=$4
  shift 4
  printf '%s\n' "$password" | "$bin" user add "$user" --role admin --password-stdin "$@" >/dev/null || return
  "$bin" token create --user "$user" --name "$name" "$@" 2>/dev/null
}
