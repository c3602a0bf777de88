# shellcheck shell=bash
# Sourced by the benchmarks in bench/: what each does around its
# measurement. Their stdout is the Markdown report, so progress goes to
# stderr.
#
#   bin=$(release_binary)            builds srs --release, prints its path
#   machine_summary                  "N cores (CPU), M GiB" for a report
#   append_to_benchmarks REPORT      appends a report file to docs/BENCHMARKS.md
#   median FILE                      the median of FILE's numbers, one a line

srs_repo=$(CDPATH='' cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)

# Builds the release binary (cargo's output on stderr) and prints its absolute path: benchmarks measure only optimised builds.
release_binary() {
  echo "building the release binary..." >&2
  (cd "$srs_repo" && cargo build --release -p srs >&2) || return
  echo "$srs_repo/target/release/srs"
}

# Prints "N cores (CPU model), M GiB" so that a report says which machine its numbers come from.
machine_summary() {
  echo "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/Mem:/ {print $2}') GiB"
}

# Appends the report file after a blank line to docs/BENCHMARKS.md and says so on stderr, keeping stdout the report alone.
append_to_benchmarks() { # report-file
  { echo; cat "$1"; } >> "$srs_repo/docs/BENCHMARKS.md"
  echo "appended to docs/BENCHMARKS.md" >&2
}

# Prints the median of the numbers in FILE (one a line) with two decimals: benchmarks quote medians of repeated runs.
median() { # file
  sort -n "$1" | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f", m }'
}
