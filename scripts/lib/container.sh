# shellcheck shell=bash
# Sourced by scripts/check-image: Podman as root on a machine that reaches
# no image registry. Base images are made here, from Debian's own archive,
# and cached under target/image/ so that a second run skips that step.
#
#   container_setup                 CONTAINERS_CONF for this machine; needs root
#   local_base_image                makes/imports the Debian 12 base, prints its name
#   build_srs_image TAG BINARY      the repository's Dockerfile on that base, with
#                                   BINARY (stripped) in place of a Rust build
#   build_mariadb_image TAG         the MariaDB stand-in of deploy/compose/mariadb/
#   image_size_mb IMAGE             the image's size in MB (10^6 bytes)
#   remove_new_dangling BEFORE      removes untagged images not in BEFORE
#   podman_quiet ARG...             podman without the no-systemd complaints
#   wait_healthy CONTAINER SECONDS  runs its health check until it passes
#   seconds_since T0                seconds since an $EPOCHREALTIME, x.xx
#   compose_project_volumes PROJECT the volumes a podman-compose project mounts
#   compose_project_remove PROJECT  its containers, volumes and network, gone
#
# Needs podman and mmdebstrap (queue them with need_command first).

srs_image_dir=$(CDPATH='' cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)/target/image
# The base every image here starts from: what debian:bookworm-slim is on
# Docker Hub, made with mmdebstrap instead of pulled.
SRS_BASE_IMAGE=${SRS_BASE_IMAGE:-localhost/srs-base/debian:bookworm-slim}

# Points Podman at a containers.conf of our own: this machine refuses the
# default ulimits ("error setting rlimit type 7"), so none are set; on a
# host whose cgroups are hybrid (v1 controllers beside a v2 "unified"
# mount) Debian 12's crun refuses every container ("cgroups in hybrid
# mode not supported"), so runc runs them there when it is installed.
# Never edits /etc; the caller must be root (Podman's rootless mode needs
# subuids).
container_setup() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "container_setup: Podman runs as root here; run as root" >&2
    return 1
  fi
  mkdir -p "$srs_image_dir" || return
  {
    printf '%s\n' '# Written by scripts/lib/container.sh: no default ulimits (this' \
      '# machine forbids raising them: "error setting rlimit type 7").' \
      '[containers]' 'default_ulimits = []'
    if [ -d /sys/fs/cgroup/unified ] && command -v runc >/dev/null; then
      printf '%s\n' '# Hybrid cgroups, which crun refuses.' '[engine]' 'runtime = "runc"'
    fi
  } > "$srs_image_dir/containers.conf" || return
  export CONTAINERS_CONF="$srs_image_dir/containers.conf"
}

# Prints SRS_BASE_IMAGE after making sure Podman has it: kept from an
# earlier run, imported from the cached tarball, or made with mmdebstrap
# (minbase, merged /usr, no manuals, docs or translations, like the
# official slim image). Delete target/image/debian-bookworm-slim.tar and
# `podman rmi` the image to get a fresh one with today's updates.
local_base_image() {
  local tar=$srs_image_dir/debian-bookworm-slim.tar
  if podman image exists "$SRS_BASE_IMAGE"; then
    echo "$SRS_BASE_IMAGE"; return 0
  fi
  if [ ! -s "$tar" ]; then
    echo "making $SRS_BASE_IMAGE with mmdebstrap (Debian archive)" >&2
    # The hooks are shell run by mmdebstrap, $1 its root: single quotes.
    # shellcheck disable=SC2016
    mmdebstrap --quiet --variant=minbase --mode=root --format=tar --skip=output/dev \
      --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
      --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/info/*' \
      --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      --dpkgopt='path-include=/usr/share/locale/locale.alias' \
      --dpkgopt='path-exclude=/usr/share/lintian/*' \
      --dpkgopt='path-exclude=/usr/share/linda/*' \
      --dpkgopt='path-exclude=/usr/share/groff/*' \
      --customize-hook='printf "%s\n" "Acquire::Languages \"none\";" > "$1/etc/apt/apt.conf.d/docker-no-languages"' \
      --customize-hook='printf "%s\n" "DPkg::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true\"; };" "APT::Update::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true\"; };" "Dir::Cache::pkgcache \"\";" "Dir::Cache::srcpkgcache \"\";" > "$1/etc/apt/apt.conf.d/docker-clean"; rm -f "$1"/var/cache/apt/*.bin' \
      bookworm "$tar.part" \
      "deb http://deb.debian.org/debian bookworm main" \
      "deb http://deb.debian.org/debian bookworm-updates main" \
      "deb http://deb.debian.org/debian-security bookworm-security main" >&2 || { rm -f "$tar.part"; return 1; }
    mv "$tar.part" "$tar" || return
  fi
  echo "importing $tar as $SRS_BASE_IMAGE" >&2
  podman import --quiet --change 'CMD ["bash"]' "$tar" "$SRS_BASE_IMAGE" >/dev/null || return
  echo "$SRS_BASE_IMAGE"
}

# Prints the IDs of the untagged images, one a line, for remove_new_dangling.
dangling_images() {
  podman images --quiet --no-trunc --filter dangling=true | sort -u
}

# Removes the untagged images that are not in BEFORE (a dangling_images
# list): a rebuild's leftovers, i.e. the former image of a tag and the
# prebuilt binary's stage. Layers other images still use stay.
remove_new_dangling() { # before
  local id
  for id in $(comm -13 <(printf '%s\n' "$1") <(dangling_images)); do
    podman rmi "$id" >/dev/null 2>&1 || true
  done
}

# Builds TAG from the repository's Dockerfile with SRS_BINARY=prebuilt:
# BINARY stripped into target/image/srs (the one file of target/ in the
# build context), the runtime stage on SRS_BASE_IMAGE. Unchanged layers
# (the apt-get one) come from Podman's cache. `--format docker` keeps the
# HEALTHCHECK. The build's output goes to stderr.
build_srs_image() { # tag binary
  local tag=$1 binary=$2 repo before
  repo=$(dirname "$(dirname "$srs_image_dir")")
  [ -x "$binary" ] || { echo "build_srs_image: no binary at $binary" >&2; return 1; }
  strip -o "$srs_image_dir/srs.part" "$binary" && mv "$srs_image_dir/srs.part" "$srs_image_dir/srs" || return
  before=$(dangling_images)
  podman build --format docker --layers \
    --build-arg SRS_BINARY=prebuilt --build-arg BASE_IMAGE="$SRS_BASE_IMAGE" \
    --tag "$tag" --file "$repo/Dockerfile" "$repo" >&2 || return
  remove_new_dangling "$before"
}

# Builds TAG from deploy/compose/mariadb/ (Debian's MariaDB 10.11 with the
# official image's variables and healthcheck.sh) on SRS_BASE_IMAGE.
build_mariadb_image() { # tag
  local tag=$1 dir before
  dir=$(dirname "$(dirname "$srs_image_dir")")/deploy/compose/mariadb
  before=$(dangling_images)
  podman build --format docker --layers --build-arg BASE_IMAGE="$SRS_BASE_IMAGE" \
    --tag "$tag" "$dir" >&2 || return
  remove_new_dangling "$before"
}

# Prints IMAGE's size in MB (10^6 bytes, as `podman images` shows it).
image_size_mb() { # image
  local bytes
  bytes=$(podman image inspect --format '{{.Size}}' "$1") || return
  echo $(((bytes + 500000) / 1000000))
}

# Runs podman, dropping from its stderr only the complaints that this
# machine has no systemd (Podman schedules HEALTHCHECKs with systemd
# timers; without them the checks run only when asked: wait_healthy).
podman_quiet() {
  local err rc=0
  err=$(mktemp) || return
  podman "$@" 2>"$err" || rc=$?
  grep -v 'unable to get systemd connection\|failed to connect to syslog' "$err" >&2 || true
  rm -f "$err"
  return "$rc"
}

# Returns 0 once CONTAINER's own health check passes (`podman healthcheck
# run`, every INTERVAL s, 0.2 by default) within SECONDS; else 1 with the
# check's last output on stderr.
wait_healthy() { # container seconds [interval]
  local c=$1 secs=$2 interval=${3:-0.2} deadline out
  deadline=$((${EPOCHREALTIME//[!0-9]/} + secs * 1000000))
  while :; do
    out=$(podman healthcheck run "$c" 2>&1) && return 0
    [ "${EPOCHREALTIME//[!0-9]/}" -lt "$deadline" ] || break
    sleep "$interval"
  done
  echo "wait_healthy: $c not healthy after $secs s: $out" >&2
  return 1
}

# Prints the seconds since T0 (an $EPOCHREALTIME) with two decimals.
seconds_since() { # t0
  local us=$((${EPOCHREALTIME//[!0-9]/} - ${1//[!0-9]/}))
  printf '%d.%02d' $((us / 1000000)) $((us % 1000000 / 10000))
}

# Prints the volumes (named and anonymous) the containers of podman-compose
# PROJECT mount, one a line.
compose_project_volumes() { # project
  local ids
  mapfile -t ids < <(podman ps -aq --filter "label=io.podman.compose.project=$1")
  [ ${#ids[@]} -eq 0 ] || podman inspect --format \
    '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}}{{"\n"}}{{end}}{{end}}' "${ids[@]}" | sed '/^$/d' | sort -u
}

# Removes every container (with its anonymous volumes), volume and network
# that podman-compose made for PROJECT; `podman-compose down` leaves the
# anonymous volumes of the images' VOLUMEs and the network behind.
compose_project_remove() { # project
  local label=io.podman.compose.project=$1 ids
  mapfile -t ids < <(podman ps -aq --filter "label=$label")
  # --depend: the edge shares the controller's network namespace. Their
  # data goes too, so no container needs more than 2 s to stop.
  [ ${#ids[@]} -eq 0 ] || podman_quiet rm -f -v --depend --time 2 "${ids[@]}" >/dev/null || return
  mapfile -t ids < <(podman volume ls -q --filter "label=$label")
  [ ${#ids[@]} -eq 0 ] || podman volume rm -f "${ids[@]}" >/dev/null || return
  mapfile -t ids < <(podman network ls -q --filter "label=$label")
  [ ${#ids[@]} -eq 0 ] || podman network rm -f "${ids[@]}" >/dev/null || return
}
