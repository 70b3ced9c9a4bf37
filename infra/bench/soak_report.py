"""Writes the soak section of BENCHMARKS.md from soak.sh's JSON files: only measured
figures, and each target's hit or miss read off them.
usage: soak_report.py WORK_DIR COMMITS MAINTAIN_EVERY"""
import json
import os
import sys

work, commits, every = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def load(name):
    with open(os.path.join(work, name)) as f:
        return json.load(f)


runs = {mode: load(f"{mode}.json") for mode in ["maintained", "unmaintained"]}
unmaintained = runs["unmaintained"]["commits_per_table"]
lines = [
    f"## soak (infra/bench/soak.sh, release, local-directory lake, {os.cpu_count()} cores)",
    "",
    f"{commits:,} commits per stream table (3 tables side by side, 2 shards each, 1–50 records per commit), each",
    "table through one warm stream cleaner; `maintained` runs table maintenance on the table (compact,",
    f"checkpoint, log cleanup, full vacuum) every {every} commits — the template's 15-minute schedule for two busy",
    f"shards at the 5 s batching window — with log, vacuum and tombstone retention of",
    f"{runs['maintained']['retention_secs']:.0f} s of bench time standing in for 7 days. `unmaintained` runs none, and",
    f"stops at {unmaintained:,} commits per table: its commits slow down as live files pile up (the windows below",
    "show it), so 20,000 would take hours. Targets: with maintenance, the last window's p99 ≤ 1.5× the first's;",
    "a cold invocation ≤ 1 s; live files and log bytes bounded by one retention period's worth.",
    "",
    "Append latency per window of 1,000 commits per table (ms):",
    "",
    "| commits | maintained p50 | maintained p99 | unmaintained p50 | unmaintained p99 |",
    "|---:|---:|---:|---:|---:|",
]
for i, m in enumerate(runs["maintained"]["windows"]):
    u = runs["unmaintained"]["windows"][i] if i < len(runs["unmaintained"]["windows"]) else None
    other = f"{u['p50_ms']:.1f} | {u['p99_ms']:.1f}" if u else "– | –"
    lines.append(f"| {m['commits']:,} | {m['p50_ms']:.1f} | {m['p99_ms']:.1f} | {other} |")
lines += ["", "At the end:", "", "| | maintained | unmaintained |", "|---|---:|---:|"]


def per_table(mode, key):
    return ", ".join(f"{s[key]:,}" for s in runs[mode]["state"])


cold = {mode: load(f"{mode}.cold.json") for mode in runs}
rss = {mode: load(f"{mode}.cold-rss.json") for mode in runs}
scan = {mode: load(f"{mode}.scan.json") for mode in runs}
rows = [
    ("total wall of the commits (s)", lambda m: f"{runs[m]['elapsed_s']:.0f}"),
    ("maintenance runs (longest, ms)", lambda m: f"{runs[m]['maintenance_runs']} ({runs[m]['maintenance_wall_ms_max']:.0f})"),
    ("live data files (pin, geo, user)", lambda m: per_table(m, "live_files")),
    ("`_delta_log` files (pin, geo, user)", lambda m: per_table(m, "log_files")),
    ("`_delta_log` KiB (pin, geo, user)", lambda m: ", ".join(f"{s['log_bytes'] / 1024:,.0f}" for s in runs[m]["state"])),
    ("cold invocation, ms (pin, geo, user)", lambda m: ", ".join(f"{c['cold_invocation_ms']:.0f}" for c in cold[m])),
    ("cold invocations' process: wall s, peak RSS MiB", lambda m: f"{rss[m]['wall_s']:.2f}, {rss[m]['peak_rss_mib']:.0f}"),
    ("DuckDB full scan, s (pin, geo, user)", lambda m: ", ".join(f"{scan[m][k]['scan_s']:.2f}" for k in ["pin", "geo", "user"])),
]
for label, value in rows:
    lines.append(f"| {label} | {value('maintained')} | {value('unmaintained')} |")

m = runs["maintained"]["windows"]
ratio = m[-1]["p99_ms"] / m[0]["p99_ms"]
worst_cold = max(c["cold_invocation_ms"] for c in cold["maintained"])
lines += [
    "",
    f"- p99, last window vs first, maintained: {ratio:.2f}× — target ≤ 1.5×: {'met' if ratio <= 1.5 else 'missed'}.",
    f"- slowest cold invocation, maintained: {worst_cold:.0f} ms — target ≤ 1,000 ms: {'met' if worst_cold <= 1000 else 'missed'}.",
]
u = runs["unmaintained"]["windows"]
lines.append(f"- p99, last window vs first, unmaintained: {u[-1]['p99_ms'] / u[0]['p99_ms']:.2f}×.")
print("\n".join(lines))
