# shellcheck shell=bash
# Sourced by the scripts and benchmarks that install their own tools on a
# fresh Debian or Ubuntu machine: queue what is missing, then install it
# all with one apt-get update.
#
#   need_command COMMAND PACKAGE [PATH...]  queue PACKAGE unless COMMAND is there
#   NEED_PACKAGES+=(PACKAGE)                queue one after a check of your own
#   install_packages WHO [SAY]              install what was queued, if anything
#   pip_tool VENV EXECUTABLE SPEC           a Python tool in a venv of its own

NEED_PACKAGES=()

# Queues PACKAGE unless COMMAND is on PATH or one of the PATHs is executable (sbin tools are off a non-root PATH).
need_command() { # command package [path...]
  local cmd=$1 package=$2 path
  shift 2
  command -v "$cmd" >/dev/null 2>&1 && return 0
  for path in "$@"; do [ -x "$path" ] && return 0; done
  NEED_PACKAGES+=("$package")
}

# Installs the queue with one apt-get update and one quiet install, announced by SAY (a command; default a line on stderr); as non-root it names the packages and returns 1 instead.
install_packages() { # who [say]
  local who=$1 say=${2:-}
  [ ${#NEED_PACKAGES[@]} -gt 0 ] || return 0
  if [ -n "$say" ]; then
    "$say" "installing ${NEED_PACKAGES[*]}"
  else
    echo "$who: installing ${NEED_PACKAGES[*]}" >&2
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "$who: need ${NEED_PACKAGES[*]}; run as root or install them with apt-get" >&2
    return 1
  fi
  apt-get update -qq || return
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${NEED_PACKAGES[@]}" >/dev/null || return
  NEED_PACKAGES=()
}

# Makes sure VENV/bin/EXECUTABLE exists, pip-installing SPEC into a new venv at VENV if not, so no tool lands in the system Python.
pip_tool() { # venv executable spec
  local venv=$1 exe=$2 spec=$3
  [ -x "$venv/bin/$exe" ] && return 0
  echo "installing $spec into $venv" >&2
  python3 -m venv "$venv" || return
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$spec" || return
}
