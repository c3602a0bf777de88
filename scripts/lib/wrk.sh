# shellcheck shell=bash
# Sourced by the benchmarks that load srs with wrk: one run, reduced to
# the `key=value ...` pairs that bench/wrk/report.lua prints after RESULT.
#
#   r=$(wrk_result LUA SCRIPT TOKEN WRK_OPTION... URL)
#   result_field "$r" rps

srs_wrk_dir=$(CDPATH='' cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../../bench/wrk" && pwd)

# Runs wrk (10 s request timeout) with bench/wrk/SCRIPT (empty: plain GETs) plus report.lua written to LUA, printing only the RESULT pairs.
wrk_result() { # lua-file script-or-empty token wrk-option... url
  local lua=$1 script=$2 token=$3
  shift 3
  if [ -n "$script" ]; then
    cat "$srs_wrk_dir/$script" "$srs_wrk_dir/report.lua" > "$lua" || return
  else
    cp "$srs_wrk_dir/report.lua" "$lua" || return
  fi
  SRS_BENCH_TOKEN="$token" wrk --timeout 10s -s "$lua" "$@" | sed -n 's/^RESULT //p'
}

# Prints the value of KEY in a wrk_result line (empty when absent), so reports can pick figures by name.
result_field() { # result key
  echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}
