#!/usr/bin/env bash
# The daily job at growing history: for each size (default 1M and 4M generated posts),
# a first run (bronze → silver → answers) of pinpipe beside (a) DuckDB SQL and, at the
# smallest size, (b) PySpark local[2] written as the original notebooks do it, on the
# same files — each engine run 3 times, alternating, median wall and its peak RSS —
# then pinpipe's next-day run (200k more posts landed) and a re-run with nothing new.
# Peak RSS is the whole process tree (sampled every 20 ms). Needs Java 17+ for
# PySpark; the peers' venv is $PINPIPE_CACHE/bench-venv. PINPIPE_BIN benches a given
# binary instead of building one. Writes BENCHMARKS.md's "analytics" section.
set -euo pipefail
cd "$(dirname "$0")/../.."
cache=${PINPIPE_CACHE:-$HOME/.cache/pinpipe}
venv=$cache/bench-venv
# shellcheck source=../venv.sh
source infra/venv.sh
ensure_venv "$venv" infra/bench/requirements.txt
py=$venv/bin/python
if [[ -n ${PINPIPE_BIN:-} ]]; then
  bin=$PINPIPE_BIN
else
  cargo build -q --release -p pinpipe-cli
  bin=${CARGO_TARGET_DIR:-target}/release/pinpipe
fi
work=$(mktemp -d "${PINPIPE_BENCH_DIR:-/tmp}/pinpipe-analytics.XXXXXX")
trap 'rm -rf "$work"' EXIT
sizes=${PINPIPE_BENCH_SIZES:-1000000 4000000}
spark_up_to=${PINPIPE_BENCH_SPARK_UP_TO:-1000000}
today=$(date -u +%F)
results=$work/results.jsonl

# Records one measurement: size, run, engine, the measure.py JSON, same-answers, parts.
record() { printf '{"posts": %s, "run": "%s", "engine": "%s", "m": %s, "same": "%s", "parts": "%s"}\n' "$@" >>"$results"; }
# The published run's directory (the pointer names its prefix).
published() { echo "$1/$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["prefix"])' "$1/analytics/run_date=$today/_latest.json")"; }
parts_of() { grep -o 'answered [^.]*' "$(published "$1")/report.md" | sed 's/answered //; s/ by.*//'; }
# As the template runs the daily-analytics function: with its glibc malloc settings
# (two arenas; freed memory kept for reuse), read from template.yaml.
malloc_env=$(grep -oE '^ +MALLOC_[A-Z_]+: "[0-9]+"' template.yaml | sed -E 's/^ +//; s/: "/=/; s/"$//' | paste -sd' ')
[[ $malloc_env == *MALLOC_ARENA_MAX=* ]] || { echo "no MALLOC_ settings found in template.yaml" >&2; exit 1; }
ours() { env $malloc_env RUST_LOG=warn "$py" infra/bench/measure.py "$bin" analytics --lake "$1" --date "$today"; }

for posts in $sizes; do
  raw=$work/raw-$posts lake=$work/lake-$posts
  "$bin" generate --posts "$posts" --resend --out "$raw" >/dev/null 2>&1
  # Every engine reads the same input: the records as the batch sink lands them, bronze
  # objects of 10,000 lines in two partitions (landing is the sink's job, untimed).
  "$bin" land-bronze --in "$raw" --lake "$lake" --records-per-object 10000 --partitions 2 >/dev/null 2>&1
  rm -rf "$raw"
  bronze="$lake/topics/0a1b2c3d4e5f.{kind}/partition=*/*.json"
  engines=(pinpipe duckdb-strong duckdb)
  ((posts <= spark_up_to)) && engines+=(pyspark)
  for round in 1 2 3; do
    for engine in "${engines[@]}"; do
      case $engine in
        pinpipe)
          rm -rf "$lake/delta" "$lake/analytics"
          record "$posts" first "pinpipe analytics (Polars)" "$(ours "$lake")" "—" "$(parts_of "$lake")" ;;
        duckdb-strong)
          rm -rf "$work/strong-$posts"
          m=$("$py" infra/bench/measure.py "$py" infra/bench/analytics_duckdb_strong.py "$bronze" "$work/strong-$posts")
          record "$posts" first "DuckDB SQL, typed and tuned" "$m" "$("$py" infra/bench/same_answers.py "$(published "$lake")" "$work/strong-$posts")" "" ;;
        duckdb)
          rm -rf "$work/duck-$posts"
          m=$("$py" infra/bench/measure.py "$py" infra/bench/analytics_duckdb.py "$bronze" "$work/duck-$posts")
          record "$posts" first "DuckDB SQL" "$m" "$("$py" infra/bench/same_answers.py "$(published "$lake")" "$work/duck-$posts")" "" ;;
        pyspark)
          [[ $round == 1 ]] || continue
          rm -rf "$work/spark-$posts"
          m=$("$py" infra/bench/measure.py "$py" infra/bench/analytics_pyspark.py "$bronze" "$work/spark-$posts")
          record "$posts" first "PySpark local[2]" "$m" "$("$py" infra/bench/same_answers.py "$(published "$lake")" "$work/spark-$posts")" "" ;;
      esac
    done
  done
  rm -rf "$work/duck-$posts" "$work/strong-$posts" "$work/spark-$posts"
  # The next day: 200k more posts (other ids, some re-sent) land; then a re-run.
  "$bin" generate --posts 200000 --seed 7 --resend --out "$work/next" >/dev/null 2>&1
  "$bin" land-bronze --in "$work/next" --lake "$lake" --records-per-object 10000 --partitions 2 >/dev/null 2>&1
  rm -rf "$work/next"
  record "$posts" "next day (+200k posts)" "pinpipe analytics (Polars)" "$(ours "$lake")" "—" "$(parts_of "$lake")"
  record "$posts" "re-run, nothing new" "pinpipe analytics (Polars)" "$(ours "$lake")" "—" "$(parts_of "$lake")"
  rm -rf "$lake"
done

rows=$(python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
groups = {}
for r in rows:
    groups.setdefault((r["posts"], r["run"], r["engine"]), []).append(r)
out = ["| posts of history | run | engine | wall (median) | peak RSS | runs | pinpipe is faster by | same answers as pinpipe | answered |",
       "|---:|---|---|---:|---:|---:|---:|---|---|"]
for (posts, run, engine), rs in groups.items():
    walls = sorted(r["m"]["wall_s"] for r in rs)
    median = statistics.median(walls)
    rss = max(r["m"]["peak_rss_mib"] for r in rs)
    ours = statistics.median(r["m"]["wall_s"] for r in groups[(posts, run, "pinpipe analytics (Polars)")])
    ratio = "" if engine.startswith("pinpipe") else f"{median / ours:.1f}×"
    same = ", ".join(sorted({r["same"] for r in rs}))
    parts = ", ".join(sorted({r["parts"] for r in rs if r["parts"]}))
    out.append(f"| {posts:,} | {run} | {engine} | {median:.2f} s | {rss:.0f} MiB | {len(rs)} | {ratio} | {same} | {parts} |")


def ratio(posts, engine):
    rs = groups.get((posts, "first", engine))
    if not rs:
        return None
    ours = statistics.median(r["m"]["wall_s"] for r in groups[(posts, "first", "pinpipe analytics (Polars)")])
    return statistics.median(r["m"]["wall_s"] for r in rs) / ours


def peak(posts, run):
    rs = groups.get((posts, run, "pinpipe analytics (Polars)"))
    return max(r["m"]["peak_rss_mib"] for r in rs) if rs else None


out.append("")
verdicts = []
for posts, engine, target, label in [
    (1_000_000, "DuckDB SQL, typed and tuned", 3.0, "≥ 3× the typed, tuned DuckDB at 1M (issue 33)"),
    (4_000_000, "DuckDB SQL, typed and tuned", 2.5, "≥ 2.5× the typed, tuned DuckDB at 4M (issue 33)"),
    (1_000_000, "DuckDB SQL, typed and tuned", 4.0, "aim: ≥ 4× the typed, tuned DuckDB at 1M (issue 33)"),
    (1_000_000, "DuckDB SQL", 3.0, "≥ 3× the first DuckDB peer at 1M (issue 13)"),
    (4_000_000, "DuckDB SQL", 2.0, "≥ 2× the first DuckDB peer at 4M (issue 13)"),
    (1_000_000, "PySpark local[2]", 20.0, "≥ 20× PySpark at 1M (issue 13)"),
]:
    r = ratio(posts, engine)
    if r is not None:
        verdicts.append(f"- {label}: {r:.2f}× — **{'met' if r >= target else 'missed'}**")
first, next_day = peak(1_000_000, "first"), peak(4_000_000, "next day (+200k posts)")
if first and next_day:
    ok = next_day <= 1.2 * first and next_day * 1048576 < 768e6
    verdicts.append(f"- next-day peak RSS at 4M ≤ 1.2× the 1M first run and < 768 MB: {next_day:.0f} MiB, "
                    f"{next_day / first:.2f}× — **{'met' if ok else 'missed'}**")
out.append("Verdicts, computed from the medians above (no allowance):\n")
out.extend(verdicts)
print("\n".join(out))
PY
)
section="## analytics (infra/bench/analytics.sh, $(date -u +%F), $(nproc) cores)

Targets (issue 13): next-day peak RSS at 4M posts of history ≤ 1.2× the 1M first run
and under 768 MB; ≥ 3× DuckDB at 1M and ≥ 2× at 4M; ≥ 20× PySpark. Each engine
starts from the same raw NDJSON files (generated with the re-send pattern, landed as
the batch sink lands them: bronze objects of 10,000 lines, two partitions), cleans it,
persists the cleaned tables (pinpipe: the silver Delta tables, Snappy Parquet; peers:
Parquet — the typed, tuned DuckDB peer with Snappy), answers the eight questions and
writes each answer as Parquet. The peers: \`analytics_duckdb_strong.py\` (issue 33,
DuckDB written as a careful user writes it: \`read_json\` with every column typed up
front, the cleaning as SQL macros, \`DISTINCT ON (ind)\`, all cores, no insertion order
kept; the ratio targets are against it), \`analytics_duckdb.py\` (the first DuckDB
peer, of issue 6: \`read_ndjson_auto\` with inference, a window per kind; kept for
history) and \`analytics_pyspark.py\` (as the original notebooks do it). First runs: each
engine 3 times, alternating (PySpark once), median wall, highest peak RSS of the
runs. Next day: 200k more posts landed in bronze, then pinpipe's daily run; re-run:
the same date again with nothing new. Peak RSS is the whole process tree (PySpark's
JVM included); pinpipe runs as the daily-analytics function does, with the
template's glibc malloc settings: \`$malloc_env\`.
\"answered\": whole, or in parts by \`ind\` (silver over
\`PINPIPE_ANALYTICS_PART_ROWS\`, default 1M rows). Reproduce:
\`infra/bench/analytics.sh\` (sizes via \`PINPIPE_BENCH_SIZES\`).

$rows

$(cat infra/bench/analytics_history.md)"
echo "$section" | python3 infra/bench/write_section.py analytics
echo "$section"
