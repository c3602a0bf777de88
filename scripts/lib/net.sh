# shellcheck shell=bash
# Sourced by the scripts and benchmarks that start servers on 127.0.0.1:
# a port to listen on, and a wait until a server says it is ready.
#
#   free_port                         prints a port nothing listens on
#   wait_ready URL SECONDS [INTERVAL] polls URL/readyz until it answers 2xx
#
# wait_ready times itself with $EPOCHREALTIME (bash 5 or later).

# Prints a port the kernel just handed out on 127.0.0.1, so runs never clash with each other or a system server.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Returns 0 once URL/readyz answers 2xx, polling every INTERVAL s (0.1) for at most SECONDS s (whole); else names the URL and the wait on stderr and returns 1.
wait_ready() { # url seconds [interval]
  local url=$1/readyz secs=$2 interval=${3:-0.1} now deadline left
  now=${EPOCHREALTIME//[!0-9]/}
  deadline=$((now + secs * 1000000))
  while :; do
    # No request outlives the deadline by more than the rounding up to a whole second.
    left=$(((deadline - now + 999999) / 1000000))
    [ "$left" -ge 1 ] || left=1
    curl -sf --max-time "$left" "$url" >/dev/null 2>&1 && return 0
    now=${EPOCHREALTIME//[!0-9]/}
    [ "$now" -lt "$deadline" ] || break
    sleep "$interval"
    now=${EPOCHREALTIME//[!0-9]/}
  done
  echo "wait_ready: $url not ready after $secs s" >&2
  return 1
}
