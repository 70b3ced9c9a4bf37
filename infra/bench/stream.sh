#!/usr/bin/env bash
# Stream cleaner throughput (issue: decode + clean + Delta append of 10k-record
# batches to a local dir on one core, beside a bare serde_json parse, in one run).
# Release build, pinned to one core; writes BENCHMARKS.md's "stream" section.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build -q --release -p pinpipe-cli
bin=${CARGO_TARGET_DIR:-target}/release/pinpipe
lake=$(mktemp -d)
trap 'rm -rf "$lake"' EXIT
rows=$(taskset -c 0 "$bin" bench-stream --batch 10000 --batches 10 --lake "$lake/lake")
section="## stream (infra/bench/stream.sh, $(date -u +%F), one core of $(nproc))

Target: at least 100k records/s through decode + clean + Delta append, and at most
2× the bare parse. 10 batches of 10,000 generated records per kind, each batch one
stream-cleaner invocation (Lambda event JSON with base64 data → clean → one Delta
commit with a \`txn\` action) into a local-directory lake.

$rows

What limits it (the split above is this run's): decoding Lambda's event envelope
(several hundred bytes of event JSON per record around the base64 data, deserialised
into \`aws_lambda_events\` types) costs more than the bare parse of the small geo and
user records, so the 2× target cannot be met while the envelope is decoded that way.
Next steps, not done: a borrowing envelope decoder that reads only \`data\`,
\`sequenceNumber\`, \`eventID\` and \`eventSourceARN\` and base64-decodes into one
reused buffer; cleaning straight into Arrow builders from borrowed strings."
echo "$section" | python3 infra/bench/write_section.py stream
echo "$section"
