#!/usr/bin/env bash
# Container image benchmark: the image built from the Dockerfile with the
# release binary (SRS_BINARY=prebuilt, on the Debian 12 base that
# scripts/check-image makes), its size and what it is made of, and how
# long `srs serve` on SQLite in it takes to answer /readyz after `podman
# run` (a fresh volume: schema made) and after `podman start` (data kept),
# each repeated. Prints Markdown; with --write appends it to
# docs/BENCHMARKS.md. Targets: under 120 MB, ready under 2 s.
#
#   bench/image.sh [--write] [--runs 7]
set -euo pipefail
# shellcheck source=scripts/lib/packages.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/packages.sh"
# shellcheck source=scripts/lib/bench.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/bench.sh"
# shellcheck source=scripts/lib/net.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/net.sh"
# shellcheck source=scripts/lib/container.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/container.sh"
cd "$(dirname "$0")/.."

write=false
runs=7
while [ $# -gt 0 ]; do
  case "$1" in
    --write) write=true ;;
    --runs) runs=$2; shift ;;
    *) echo "bench/image.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[[ "$runs" =~ ^[1-9][0-9]?$ ]] || { echo "bench/image.sh: --runs takes 1-99" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "bench/image.sh: Podman runs as root here; run it as root" >&2; exit 2; }
need_command podman podman
need_command mmdebstrap mmdebstrap
need_command strip binutils
install_packages bench/image.sh
container_setup

bin=$(release_binary)
image=localhost/srs:bench
name=srs-bench-image-$$
work=$(mktemp -d /tmp/srs-image-bench.XXXXXX)
cleanup() {
  podman_quiet rm -f -v "$name" >/dev/null 2>&1 || true
  podman volume rm -f "$name-data" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

local_base_image >/dev/null
echo "building $image..." >&2
build_srs_image "$image" "$bin" 2>"$work/build.log" || { cat "$work/build.log" >&2; exit 1; }
size=$(image_size_mb "$image")
base_size=$(image_size_mb "$SRS_BASE_IMAGE")
binary_mb=$(awk -v b="$(stat -c %s target/image/srs)" 'BEGIN { printf "%.1f", b / 1e6 }')

# One start: a container from scratch (fresh volume) or a stopped one;
# prints the seconds until /readyz answers.
port=$(free_port)
url=http://127.0.0.1:$port
ready_after() { # command...
  local t0=$EPOCHREALTIME
  "$@" >/dev/null
  wait_ready "$url" 20 0.01 || { podman logs "$name" >&2; exit 1; }
  seconds_since "$t0"
  echo
}
: > "$work/run.txt"
: > "$work/start.txt"
for _ in $(seq "$runs"); do
  podman_quiet rm -f -v "$name" >/dev/null 2>&1 || true
  podman volume rm -f "$name-data" >/dev/null 2>&1 || true
  podman volume create "$name-data" >/dev/null
  ready_after podman_quiet run -d --name "$name" --read-only --tmpfs /tmp \
    -v "$name-data:/var/lib/srs" -p "127.0.0.1:$port:8080" "$image" >> "$work/run.txt"
  podman_quiet stop --time 20 "$name" >/dev/null
  ready_after podman_quiet start "$name" >> "$work/start.txt"
done
memory=$(podman stats --no-stream --format '{{.MemUsage}}' "$name" 2>/dev/null | cut -d/ -f1 | tr -d ' ')
maximum() { sort -n "$1" | tail -1; }

report=$work/report.md
{
  echo "## bench/image.sh — $(date -u +%Y-%m-%d)"
  echo
  echo "- Command: \`bench/image.sh --runs $runs\` (release build, stripped, in the image built from the Dockerfile with \`SRS_BINARY=prebuilt\` on a Debian 12 base made by mmdebstrap; Podman $(podman version --format '{{.Client.Version}}' 2>/dev/null), \`--read-only --tmpfs /tmp\`, SQLite on a volume)"
  echo "- Machine: $(machine_summary)"
  echo "- Commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!docs' || echo ' (with uncommitted changes)')"
  echo
  echo "| figure | value | target |"
  echo "|---|---|---|"
  echo "| image size | $size MB | under 120 MB |"
  echo "| of which the Debian 12 base | $base_size MB | |"
  echo "| of which srs (stripped) | $binary_mb MB | |"
  echo "| of which the MariaDB client tools and the rest | $(awk -v a="$size" -v b="$base_size" -v c="$binary_mb" 'BEGIN { printf "%.1f", a - b - c }') MB | |"
  echo "| podman run to /readyz, fresh volume (median of $runs; max) | $(median "$work/run.txt") s; $(maximum "$work/run.txt") s | under 2 s |"
  echo "| podman start to /readyz, data kept (median of $runs; max) | $(median "$work/start.txt") s; $(maximum "$work/start.txt") s | under 2 s |"
  echo "| memory after start (podman stats) | ${memory:-?} | |"
} > "$report"
cat "$report"
if $write; then append_to_benchmarks "$report"; fi
