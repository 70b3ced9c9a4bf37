#!/usr/bin/env bash
# Metrics writer throughput per shard (issue 16): 500-record batches arriving 1 ms
# apart, in process and on moto's DynamoDB, beside the stream cleaner, in one run.
# Release build (or PINPIPE_BIN), one core; needs the local stack (moto) up; writes BENCHMARKS.md's
# "metrics" section.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=infra/bench/release_bin.sh
source infra/bench/release_bin.sh   # bin, python, work (PINPIPE_BIN to bench a given build)
eval "$(infra/stack.sh env)"
lake=$work
# `--dynamodb` adds a row on DynamoDB at AWS_ENDPOINT_URL; on moto it does not finish
# (moto copies the whole table for every transaction), so it is left out here.
rows=$(taskset -c 0 "$bin" bench-metrics --batch 500 --batches 20 --lake "$lake/lake")
section="## metrics (infra/bench/metrics.sh, $(date -u +%F), one core of $(nproc))

Target (issue 16): the metrics writer keeps up with a shard's 1,000 records/s. 20
batches of 500 generated records per kind (the template's BatchSize), arriving 1 ms
apart, each batch one invocation; the stream cleaner on the same events beside it.
In-process store only: on moto's DynamoDB the run does not finish in minutes (moto
copies the whole table for every transaction), and moto's speed says nothing of
DynamoDB's. \"commits per batch\" is the number of TransactWriteItems a batch costs on
DynamoDB; at DynamoDB's typical 10–25 ms per transaction that bounds a shard's pin
throughput — not measured here.

$rows

Freshness (PUT /streams/…/record → counted in GET /metrics/…) through \`cargo lambda
watch\`: the \"freshness\" section (infra/bench/freshness.sh). Not measured: the writer on
real DynamoDB (none here)."
echo "$section" | python3 infra/bench/write_section.py metrics
echo "$section"
