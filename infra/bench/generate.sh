#!/usr/bin/env bash
# Generator and cleaner throughput (issue: "at least 1M posts per minute to files").
# Release build; writes the table into BENCHMARKS.md's "generate" section.
set -euo pipefail
[[ -x /usr/bin/time ]] || { apt-get update -qq && apt-get install -y -qq time; }
cd "$(dirname "$0")/../.."
cargo build -q --release -p pinpipe-cli
bin=${CARGO_TARGET_DIR:-target}/release/pinpipe
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
measure() { # command...; prints "seconds peak-kB"
  /usr/bin/time -o "$out/time" -f '%e %M' "$@" >/dev/null 2>&1
  cat "$out/time"
}
rows=""
for posts in 100000 1000000; do
  read -r secs rss < <(measure "$bin" generate --posts "$posts" --seed 42 --out "$out/$posts")
  rows+="| \`pinpipe generate --posts $posts\` | $secs s | $(awk "BEGIN{printf \"%.1fM\", $posts/$secs*60/1e6}") posts/min | $((rss / 1024)) MiB |"$'\n'
  read -r secs rss < <(measure "$bin" clean --kind pin --in "$out/$posts/pin.jsonl" --out "$out/clean.jsonl")
  rows+="| \`pinpipe clean --kind pin\` on those $posts pins | $secs s | $(awk "BEGIN{printf \"%.0fk\", $posts/$secs/1e3}") records/s | $((rss / 1024)) MiB |"$'\n'
done
table="## generate (infra/bench/generate.sh, $(date -u +%F), $(nproc) cores)

Target: at least 1M posts per minute to files.

| command | wall | rate | peak RSS |
|---|---|---|---|
$rows"
echo "$table" | python3 infra/bench/write_section.py generate
echo "$table"
