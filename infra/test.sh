#!/usr/bin/env bash
# The README's test command: brings the local stack up (installing what is missing),
# runs every test against it, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(infra/stack.sh status | grep -c '^[a-z]* *up ') == 3 ]]; then
  started=no
else
  started=yes
fi
# Tests make their lakes under the temp dir: give them one scratch dir, removed at exit.
scratch=$(mktemp -d -t pinpipe-tests.XXXXXX)
cleanup() {
  rm -rf "$scratch"
  if [[ $started == yes ]]; then infra/stack.sh down; fi
}
trap cleanup EXIT
infra/stack.sh up
eval "$(infra/stack.sh env)"
# The SAM template: cfn-lint, `sam validate --lint`, checkov (offline, ~1 min).
infra/deploy/check.sh lint
# A deploy rehearsal: translated as `sam deploy` does, created in moto's CloudFormation.
infra/deploy/check.sh rehearse
TMPDIR=$scratch cargo test --workspace --locked "$@"
