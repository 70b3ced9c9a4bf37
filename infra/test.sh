#!/usr/bin/env bash
# The README's test command: brings the local stack up (installing what is missing),
# runs every test against it, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
if infra/stack.sh status | grep -q '^moto   up' && infra/stack.sh status | grep -q '^kafka  up'; then
  started=no
else
  started=yes
fi
infra/stack.sh up
[[ $started == yes ]] && trap 'infra/stack.sh down' EXIT
eval "$(infra/stack.sh env)"
cargo test --workspace --locked "$@"
