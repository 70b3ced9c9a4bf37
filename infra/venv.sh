#!/usr/bin/env bash
# Python venvs with every package pinned, for the test stack, the deploy checks and the
# benches. Each requirements file names its packages with `==`; beside it, a `.lock`
# file (same name, `.lock` for `.txt`) pins everything they pull in, as `pip freeze`
# wrote it when the tests last passed, so a fresh machine installs exactly the same.
#
#   source infra/venv.sh; ensure_venv VENV REQUIREMENTS   (re)build VENV when either file changed
#   infra/venv.sh relock REQUIREMENTS                     rewrite REQUIREMENTS' lock from a fresh venv
#
# Moving a pin: change its `==` line in the requirements file, run `infra/venv.sh relock`
# on that file (a fresh venv from the requirements alone, frozen into the lock), then the
# tests (`infra/test.sh`); commit both files.

# pip itself, pinned like the rest.
PINPIPE_PIP_VERSION=26.3

venv_lock_of() { echo "${1%.txt}.lock"; }

venv_log() { printf '[venv] %s\n' "$*" >&2; }

# ensure_venv VENV REQUIREMENTS: VENV holds exactly REQUIREMENTS (and its lock).
ensure_venv() {
  local venv=$1 requirements=$2 lock stamp want
  lock=$(venv_lock_of "$requirements")
  stamp=$venv/.requirements.sha256
  # (A missing lock is hashed as nothing, not an error.)
  want=$({ cat "$requirements"; cat "$lock" 2>/dev/null || true; } | sha256sum | cut -d' ' -f1)
  [[ -x $venv/bin/python && -f $stamp && $(cat "$stamp") == "$want" ]] && return 0
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    venv_log "installing python3-venv (apt)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  fi
  venv_log "creating $venv from $(basename "$requirements") (~1-3 min)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "pip==$PINPIPE_PIP_VERSION"
  if [[ -f $lock ]]; then
    "$venv/bin/pip" install -q -r "$requirements" -c "$lock"
  else
    venv_log "no $(basename "$lock"): installing $(basename "$requirements") unlocked (run infra/venv.sh relock)"
    "$venv/bin/pip" install -q -r "$requirements"
  fi
  echo "$want" >"$stamp"
}

# relock REQUIREMENTS: a fresh venv from the requirements alone, frozen into the lock.
relock() {
  local requirements=$1 scratch lock
  lock=$(venv_lock_of "$requirements")
  scratch=$(mktemp -d)
  python3 -m venv "$scratch/venv"
  "$scratch/venv/bin/pip" install -q --disable-pip-version-check "pip==$PINPIPE_PIP_VERSION"
  "$scratch/venv/bin/pip" install -q -r "$requirements"
  {
    echo "# Every package $(basename "$requirements") pulls in, as installed when the tests passed"
    echo "# (infra/venv.sh relock $requirements; see infra/venv.sh). Used as pip constraints."
    "$scratch/venv/bin/pip" freeze --all --exclude pip --exclude setuptools --exclude wheel
  } >"$lock"
  rm -rf "$scratch"
  venv_log "wrote $lock"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -euo pipefail
  case ${1:-} in
    relock) shift; for r in "$@"; do relock "$r"; done ;;
    *) echo "usage: infra/venv.sh relock REQUIREMENTS..." >&2; exit 2 ;;
  esac
fi
