#!/usr/bin/env bash
# Metrics writer throughput per shard (issue 16): 500-record batches arriving 1 ms
# apart, in process and on moto's DynamoDB, beside the stream cleaner, in one run.
# Release build, one core; needs the local stack (moto) up; writes BENCHMARKS.md's
# "metrics" section.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build -q --release -p pinpipe-cli
bin=${CARGO_TARGET_DIR:-target}/release/pinpipe
eval "$(infra/stack.sh env)"
lake=$(mktemp -d)
trap 'rm -rf "$lake"' EXIT
rows=$(taskset -c 0 "$bin" bench-metrics --batch 500 --batches 20 --dynamodb --lake "$lake/lake")
section="## metrics (infra/bench/metrics.sh, $(date -u +%F), one core of $(nproc))

Target (issue 16): the metrics writer keeps up with a shard's 1,000 records/s. 20
batches of 500 generated records per kind (the template's BatchSize), arriving 1 ms
apart, each batch one invocation; the stream cleaner on the same events beside it.
moto's DynamoDB is a local Python server, not DynamoDB: its row says what the writer
does against a real protocol server, not what DynamoDB's latency would allow.

$rows

Not measured yet: freshness (PUT /streams/…/record → counted in GET /metrics/…)
through \`cargo lambda watch\`."
echo "$section" | python3 infra/bench/write_section.py metrics
echo "$section"
