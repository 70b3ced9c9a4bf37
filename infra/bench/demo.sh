#!/usr/bin/env bash
# Demo scaling (issue "A year of traffic"): `pinpipe demo` with one commit per record
# (--batch-size 1 --shards 1 --partitions 1 --redeliver-every 0, as a quiet stream
# gives) at N and 4N posts, with maintenance during the run at the schedule's cadence
# and, beside it, only at the end. Release build; writes BENCHMARKS.md's "demo" section.
# This machine's walls vary by up to ~20% between identical runs, so each run is made
# RUNS times (default 3), the three kinds taking turns, and the median is reported.
#   infra/bench/demo.sh [POSTS]
set -euo pipefail
cd "$(dirname "$0")/../.."
posts=${1:-1000}
runs=${RUNS:-3}
source infra/bench/release_bin.sh
run() { # posts maintain_every
  local lake="$work/lake-$1-$2"
  echo "[demo] $1 posts, maintenance every $2 invocations" >&2
  local m
  m=$("$python" infra/bench/measure.py "$bin" demo --posts "$1" --lake "$lake" --batch-size 1 --shards 1 \
    --partitions 1 --redeliver-every 0 --maintain-every "$2")
  rm -rf "$lake"
  echo "$m"
}
declare -A measured wall spread rss
specs=("$posts 360" "$((posts * 4)) 360" "$posts 0")
for ((round = 1; round <= runs; round++)); do
  for spec in "${specs[@]}"; do
    read -r n every <<<"$spec"
    measured[$n-$every]+="$(run "$n" "$every")"$'\n'
  done
done
of_runs() { # field format: the median of the runs' field, or with format "range" its range
  "$python" -c '
import json, statistics, sys
field, fmt = sys.argv[1], sys.argv[2]
values = [json.loads(l)[field] for l in sys.stdin if l.strip()]
print(format(statistics.median(values), fmt) if fmt != "range" else f"{min(values):.1f}–{max(values):.1f}")
' "$1" "$2"
}
for spec in "${specs[@]}"; do
  read -r n every <<<"$spec"
  wall[$n-$every]=$(of_runs wall_s .1f <<<"${measured[$n-$every]}")
  spread[$n-$every]=$(of_runs wall_s range <<<"${measured[$n-$every]}")
  rss[$n-$every]=$(of_runs peak_rss_mib .0f <<<"${measured[$n-$every]}")
done
ratio=$("$python" -c "print(f'{${wall[$((posts * 4))-360]} / ${wall[$posts-360]}:.2f}')")
section=$(cat <<MD
## demo (infra/bench/demo.sh, $(date -u +%F), $(nproc) cores)

\`pinpipe demo --batch-size 1 --shards 1 --partitions 1 --redeliver-every 0\`: one commit per
record, so N posts make N commits to each stream table (plus N bronze objects per topic),
then the daily job and maintenance. Release build, embedded default (in-process streams
and topics, local lake). Wall time and peak RSS of the whole run, median of $runs runs
(the walls' range beside it).

| posts | maintenance during the run | wall (s) | walls of the runs (s) | peak RSS (MiB) |
|---:|---|---:|---:|---:|
| $posts | every 360 invocations of a table | ${wall[$posts-360]} | ${spread[$posts-360]} | ${rss[$posts-360]} |
| $((posts * 4)) | every 360 invocations of a table | ${wall[$((posts * 4))-360]} | ${spread[$((posts * 4))-360]} | ${rss[$((posts * 4))-360]} |
| $posts | only at the end | ${wall[$posts-0]} | ${spread[$posts-0]} | ${rss[$posts-0]} |

4× the posts took **${ratio}×** the time with maintenance at the schedule's cadence (target ≤ 4×,
no allowance: $("$python" -c "print('met' if ${ratio} <= 4.0 else 'missed')")).
Without it each commit costs more with every small file added since the last compaction
(deltalake keeps its snapshot's file list up to date on every commit), so the total grows
with the square of the commits.

What grew, and what still grows. Listings of a local lake used to walk and stat the whole
directory whatever the offset (object_store's LocalFileSystem): each Delta log refresh
listed all of \`_delta_log\`, each sink delivery all of its partition (300 posts: 720k statx
calls). The lake's local store now reads the names and looks up only those after the
offset, and the sink lists a 16-key window: 6.67× became 4.75× (2026-11-30: 1,000 posts
111 → 90 s, 4,000 posts 740 → 425 s). A profile with call graphs (perf, dwarf, 700 posts,
2026-12-01) then put most of the run's CPU in deltalake moving a writer's loaded table on
after each commit: it replays the new commit together with the file list it holds, kept
as one Arrow batch per commit replayed since the table was loaded (log replay, expression
evaluation and Arrow slicing, ~55% of the run). A long-lived writer now loads its table
afresh from the newest checkpoint every 100 versions (\`delta::RELOAD_INTERVAL\`): on the
2026-12-01 machine 1,000 posts 147.5 → 78.6 s, 4,000 posts 701.7 → 427.3 s, and 1,000
posts maintained only at the end 377.4 → 105.7 s. The ratio rose (4.76× → 5.44×) because
the part that grows with history did not change: 4,000 posts take ~113 s more than four
1,000-post runs, as before (~112 s), about 6 µs more per earlier commit of a table on
every commit. Commit files' times (a 1,500-post run) showed that part as ~3.5 ms more per
commit per 1,000 earlier commits, about three quarters of it reading the local
\`_delta_log\` directory (~0.9 µs per name on ext4, three listings per commit; an ext4
directory does not shrink when log cleanup removes files, and a log keeps a week of
commits). A local lake now lists a Delta log from a version without reading the
directory: it looks up the names that can follow each version (\`<v>.checkpoint.parquet\`,
\`<v>.json\`, then \`_last_checkpoint\`) until one has neither, and reads the directory
only when \`_last_checkpoint\` names multi-part or v2 files, when nothing is at the first
version, or when the gap lies below the checkpoint it names (cleanup under way). Its
listings also stat each object in the listing's own blocking task, where a \`head\` per
object had opened every file in a task of its own. With both, the ratio is ${ratio}× (the
table above, median of 3; the 4,000-post run took 427.3 s before them). The same times
show what a commit costs within a checkpoint interval: ~7 ms right after a checkpoint,
rising to ~38 ms just before the next, as deltalake keeps a loaded table's file list
as one batch per commit since the checkpoint (a fresh load replays each commit as a batch
of its own) and works through all of them on every update. A shorter checkpoint interval
would flatten that, but each checkpoint carries a week of tombstones on a busy table, so
the interval stays 100. S3 lists from the offset and never reads a directory. The
allocator (glibc, ~30% of CPU) is flat.
MD
)
echo "$section" | python3 infra/bench/write_section.py demo
echo "$section"
