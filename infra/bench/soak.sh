#!/usr/bin/env bash
# Soak (issue "A year of traffic"): many small commits to each stream table, with
# table maintenance at a realistic cadence and, beside it in the same run, without.
# Release build; writes BENCHMARKS.md's "soak" section.
#   infra/bench/soak.sh [COMMITS_PER_TABLE] [MAINTAIN_EVERY] [UNMAINTAINED_COMMITS]
# Maintenance every 360 commits per table: the template's 15-minute schedule for a
# table fed by two busy shards at the 5 s batching window. Without maintenance each
# commit costs more as live files pile up (quadratic in total), so that run stops
# at UNMAINTAINED_COMMITS; the report says so.
set -euo pipefail
cd "$(dirname "$0")/../.."
commits=${1:-20000}
every=${2:-360}
unmaintained=${3:-2000}
source infra/bench/release_bin.sh
for mode in maintained unmaintained; do
  every_arg=$every n=$commits
  [[ $mode == unmaintained ]] && every_arg=0 n=$unmaintained
  echo "[soak] $mode: $n commits per table, maintenance every $every_arg" >&2
  "$bin" bench-soak --lake "$work/$mode" --commits "$n" --maintain-every "$every_arg" >"$work/$mode.json"
  "$python" infra/bench/measure.py "$bin" bench-soak --lake "$work/$mode" --cold >"$work/$mode.cold-rss.json"
  "$bin" bench-soak --lake "$work/$mode" --cold >"$work/$mode.cold.json"
  "$python" infra/bench/soak_scan.py "$work/$mode" >"$work/$mode.scan.json"
done
section=$("$python" infra/bench/soak_report.py "$work" "$commits" "$every")
echo "$section" | python3 infra/bench/write_section.py soak
echo "$section"
