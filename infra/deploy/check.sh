#!/usr/bin/env bash
# Offline checks of the SAM template (issue 7), no AWS account needed:
#   infra/deploy/check.sh lint            cfn-lint, `sam validate --lint`, checkov
#   infra/deploy/check.sh rehearse        the template translated as `sam deploy` does and
#                                         created in moto's CloudFormation (test stack up)
#   infra/deploy/check.sh build [--record]
#                                         `sam build` of the five functions; prints binary
#                                         sizes and the build time (--record: into BENCHMARKS.md)
# Installs SAM CLI, cfn-lint and checkov into venvs under $PINPIPE_CACHE when missing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/infra/deploy
CACHE=${PINPIPE_CACHE:-$HOME/.cache/pinpipe}
SAM_VENV=$CACHE/sam-venv
CHECKOV_VENV=$CACHE/checkov-venv
BUILD_DIR=${PINPIPE_SAM_BUILD_DIR:-$CACHE/sam-build}
FUNCTIONS=(IngestFunction StreamCleanerFunction StreamMetricsFunction BatchSinkFunction DailyAnalyticsFunction TableMaintenanceFunction)
SIZE_TARGET_MB=15

log() { printf '[deploy] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# A venv per requirements file (pinned, with its lock), rebuilt when either changes.
# shellcheck source=../venv.sh
source "$ROOT/infra/venv.sh"

# SAM CLI only reads the template here; keep it off the network and away from any real account.
offline_env() {
  export SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
  export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-offline} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-offline}
}

lint() {
  ensure_venv "$SAM_VENV" "$HERE/requirements-sam.txt"
  ensure_venv "$CHECKOV_VENV" "$HERE/requirements-checkov.txt"
  offline_env
  cd "$ROOT"
  log "Athena named queries: the repo's SQL files, as generated"
  python3 "$HERE/athena_queries.py" --check
  log "cfn-lint template.yaml"
  "$SAM_VENV/bin/cfn-lint" template.yaml
  log "sam validate --lint"
  "$SAM_VENV/bin/sam" validate --lint --template-file template.yaml --region us-east-1
  log "checkov (every finding fixed, or skipped in the template with a reason)"
  "$CHECKOV_VENV/bin/checkov" --file template.yaml --framework cloudformation --compact --quiet \
    --skip-download --output cli
  log "template checks passed"
}

# arm64 needs the aarch64 Rust standard library (rustup target add); without it, say so and
# build x86_64, the same code, so the sizes and the build time are still measured.
build_architecture() {
  if rustup target list --installed 2>/dev/null | grep -q '^aarch64-unknown-linux-gnu$'; then
    echo arm64
  else
    log "the aarch64-unknown-linux-gnu Rust target is not installed: building x86_64 instead of arm64"
    echo x86_64
  fi
}

build() {
  local record=no
  [[ ${1:-} == --record ]] && record=yes
  ensure_venv "$SAM_VENV" "$HERE/requirements-sam.txt"
  # cargo-lambda (and the zig it cross-compiles with) comes with the test stack's venv.
  "$ROOT/infra/stack.sh" install >&2
  export PATH=$CACHE/venv/bin:$PATH
  offline_env
  cd "$ROOT"
  local arch started elapsed
  arch=$(build_architecture)
  started=$SECONDS
  "$SAM_VENV/bin/sam" build --beta-features --template-file template.yaml --build-dir "$BUILD_DIR" \
    --parameter-overrides "Architecture=$arch" >&2
  elapsed=$((SECONDS - started))
  local table over=0 name bytes mb
  table=$(
    printf '| function | binary | size (MB) | target |\n|---|---|---:|---|\n'
    for name in "${FUNCTIONS[@]}"; do
      [[ -f $BUILD_DIR/$name/bootstrap ]] || die "sam build left no $BUILD_DIR/$name/bootstrap"
      bytes=$(stat -c %s "$BUILD_DIR/$name/bootstrap")
      mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
      printf '| %s | %s | %s | %s |\n' "$name" "$(binary_of "$name")" "$mb" \
        "$(awk -v b="$bytes" -v t=$SIZE_TARGET_MB 'BEGIN { print (b <= t * 1048576) ? "≤ " t " MB: met" : "> " t " MB: missed" }')"
    done
    printf '\n`sam build` (%s, release profile): %d min %02d s on %s cores, with %s.\n' "$arch" \
      $((elapsed / 60)) $((elapsed % 60)) "$(nproc)" "$(cargo lambda --version 2>/dev/null || echo cargo-lambda)"
  )
  echo "$table"
  [[ $record == yes ]] && record_in_benchmarks "$table"
  return 0
}

binary_of() {
  awk -v fn="$1:" '$1 == fn { inside = 1; next } inside && $1 == "Binary:" { print $2; exit }' "$ROOT/template.yaml"
}

# Replace the text between the two markers in BENCHMARKS.md.
record_in_benchmarks() {
  local file=$ROOT/BENCHMARKS.md begin='<!-- sam-build:begin -->' end='<!-- sam-build:end -->'
  grep -q "$begin" "$file" || die "BENCHMARKS.md has no $begin marker"
  TABLE=$1 python3 - "$file" "$begin" "$end" <<'PY'
import os, sys
path, begin, end = sys.argv[1:]
text = open(path).read()
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(path, "w").write(f"{head}{begin}\n{os.environ['TABLE']}\n{end}{tail}")
PY
  log "recorded in BENCHMARKS.md"
}

# What `sam deploy` would create, translated by aws-sam-translator and created as a stack
# in the test stack's moto CloudFormation (AWS_ENDPOINT_URL), then read back.
rehearse() {
  ensure_venv "$SAM_VENV" "$HERE/requirements-sam.txt"
  [[ ${AWS_ENDPOINT_URL:-} == http://127.0.0.1:* ]] || die "rehearse needs the test stack's moto (eval \"\$(infra/stack.sh env)\")"
  export SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
  cd "$ROOT"
  log "deploy rehearsal: aws-sam-translator + moto CloudFormation"
  "$SAM_VENV/bin/python" "$HERE/rehearse.py" template.yaml
}

case ${1:-} in
  lint) lint ;;
  rehearse) rehearse ;;
  build) shift; build "$@" ;;
  *) die "usage: $0 lint | rehearse | build [--record]" ;;
esac
