#!/usr/bin/env bash
# The whole pipeline's cost per million posts (issue 30): `pinpipe demo --usage` measures
# each step's lake requests by kind, invocations and time (release build, local lake, no
# redeliveries) at the original emulator's rate (batches of 10 records) and at 1,000
# posts/s per shard (batches of 500); `pinpipe bench-metrics --cost` the metrics' DynamoDB
# units; infra/bench/cost.py prices them with the template's memory sizes and list prices.
# Writes BENCHMARKS.md's "cost" section.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=infra/bench/release_bin.sh
source infra/bench/release_bin.sh   # bin, python, work (PINPIPE_BIN to bench a given build)
posts=${PINPIPE_COST_POSTS:-4000}
for batch in 10 500; do
  "$bin" demo --posts "$posts" --batch-size "$batch" --redeliver-every 0 --maintain-every 0 \
    --lake "$work/lake-$batch" --usage "$work/usage-$batch.json" >/dev/null 2>"$work/demo-$batch.log" ||
    { cat "$work/demo-$batch.log" >&2; exit 1; }
done
"$bin" bench-metrics --cost --pins-per-shard 2000 >"$work/metrics.md"
table=$(python3 infra/bench/cost.py template.yaml "$work/usage-10.json" "$work/usage-500.json" "$work/metrics.md")
section="## cost (infra/bench/cost.sh, $(date -u +%F), $(nproc) cores)

What a million posts (3 million records) cost end to end, computed from this run's
measurements: each step's lake requests by kind (counted by the lake's store), Lambda
invocations and time (measured here on a local lake with the release build: Lambda's own
speed, cold starts and S3 latency are not measured, so Lambda's lines are estimates), the
metrics' DynamoDB units (counted by the DynamoDB-rules front), the template's memory sizes,
and us-east-1 list prices as last read (2026-12, not checked live from here): API Gateway
REST \$3.50 per million requests; Kinesis on demand \$0.04 a stream-hour, \$0.08 per GB in
(records rounded up to 1 KB), \$0.04 per GB read; Lambda arm64 \$0.0000133334 per GB-s and
\$0.20 per million requests; S3 \$0.005 per 1,000 PUT/COPY/POST/LIST and \$0.0004 per 1,000
GET; DynamoDB on demand \$0.625 per million write units and \$0.125 per million read
units; MSK two kafka.t3.small brokers \$0.0456 an hour each. The daily job runs once a
day and table maintenance every 15 minutes for as long as the posts take.

$table"
echo "$section" | python3 infra/bench/write_section.py cost
echo "$section"
