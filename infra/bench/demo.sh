#!/usr/bin/env bash
# Demo scaling (issue "A year of traffic"): `pinpipe demo` with one commit per record
# (--batch-size 1 --shards 1 --partitions 1 --redeliver-every 0, as a quiet stream
# gives) at N and 4N posts, with maintenance during the run at the schedule's cadence
# and, beside it, only at the end. Release build; writes BENCHMARKS.md's "demo" section.
#   infra/bench/demo.sh [POSTS]
set -euo pipefail
cd "$(dirname "$0")/../.."
posts=${1:-1000}
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
declare -A wall rss
for spec in "$posts 360" "$((posts * 4)) 360" "$posts 0"; do
  read -r n every <<<"$spec"
  m=$(run "$n" "$every")
  wall[$n-$every]=$(echo "$m" | "$python" -c 'import json,sys; print(format(json.load(sys.stdin)["wall_s"], ".1f"))')
  rss[$n-$every]=$(echo "$m" | "$python" -c 'import json,sys; print(format(json.load(sys.stdin)["peak_rss_mib"], ".0f"))')
done
ratio=$("$python" -c "print(f'{${wall[$((posts * 4))-360]} / ${wall[$posts-360]}:.2f}')")
section=$(cat <<MD
## demo (infra/bench/demo.sh, $(date -u +%F), $(nproc) cores)

\`pinpipe demo --batch-size 1 --shards 1 --partitions 1 --redeliver-every 0\`: one commit per
record, so N posts make N commits to each stream table (plus N bronze objects per topic),
then the daily job and maintenance. Release build, embedded default (in-process streams
and topics, local lake). Wall time and peak RSS of the whole run.

| posts | maintenance during the run | wall (s) | peak RSS (MiB) |
|---:|---|---:|---:|
| $posts | every 360 invocations of a table | ${wall[$posts-360]} | ${rss[$posts-360]} |
| $((posts * 4)) | every 360 invocations of a table | ${wall[$((posts * 4))-360]} | ${rss[$((posts * 4))-360]} |
| $posts | only at the end | ${wall[$posts-0]} | ${rss[$posts-0]} |

4× the posts took **${ratio}×** the time with maintenance at the schedule's cadence (target ≤ ~4×:
$("$python" -c "print('met' if ${ratio} <= 4.4 else 'missed')")).
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
every commit. A profile of a 2,000-post demo with this change (perf, dwarf call graphs,
the first table's first and last tenth of commits) finds it in reading the local
\`_delta_log\` directory to list after an offset (\`local_dir::entries_after\`, getdents:
1.6% → 7.7% of CPU) and in deltalake's log replay (18% → 23%). An ext4 directory does not
shrink when its files are removed, so a run with 17 s log and vacuum retention grew as
much (before this change, 500 → 2,000 posts: 4.63× with 7 days, 4.93× with 17 s); S3
lists from the offset and does not pay it. Next: on a local lake, list \`_delta_log\`
after an offset by probing the names that can follow it instead of reading the
directory. The allocator (glibc, ~30% of CPU) is flat.
MD
)
echo "$section" | python3 infra/bench/write_section.py demo
echo "$section"
