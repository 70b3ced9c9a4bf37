"""The whole pipeline's cost per million posts (issue 30), from what `pinpipe demo --usage`
measured (lake requests by kind, invocations and time per step, release build, local
lake) at two rates, the metrics' DynamoDB units (`pinpipe bench-metrics --cost`), the
template's memory sizes, and list prices. Prints a Markdown section.

usage: cost.py TEMPLATE USAGE_SLOW.json USAGE_BUSY.json METRICS_COST.md
"""
import json
import re
import sys

template_path, slow_path, busy_path, metrics_path = sys.argv[1:5]

# us-east-1 list prices as last read (2026-12; not checked live from here: no internet).
PRICES = {
    "api_request": 3.50 / 1e6,            # API Gateway REST, per request (first 333M)
    "kinesis_stream_hour": 0.04,          # Kinesis on demand, per stream-hour (the template's mode)
    "kinesis_gb_in": 0.08,                # per GB in, each record rounded up to 1 KB
    "kinesis_gb_out": 0.04,               # per GB read, per consumer
    "lambda_gb_s": 0.0000133334,          # arm64 (the template's default)
    "lambda_request": 0.20 / 1e6,
    "s3_put": 0.005 / 1000,               # PUT, COPY, POST, LIST
    "s3_get": 0.0004 / 1000,              # GET and others
    "dynamodb_wru": 0.625 / 1e6,
    "dynamodb_rru": 0.125 / 1e6,
    "msk_broker_hour": 0.0456,            # kafka.t3.small, per broker-hour (two brokers)
}
MILLION = 1_000_000


def memory_sizes(path):
    """Each function's MemorySize in MB (the Globals default where it sets none)."""
    text = open(path).read()
    default = int(re.search(r"Globals:\n  Function:(?:\n    .*)*?\n    MemorySize: (\d+)", text).group(1))
    sizes = {}
    for name in ["IngestFunction", "StreamCleanerFunction", "StreamMetricsFunction", "BatchSinkFunction",
                 "DailyAnalyticsFunction", "TableMaintenanceFunction"]:
        block = text.split(f"\n  {name}:\n", 1)[1].split("\n  # ---", 1)[0]
        block = re.split(r"\n  [A-Z]\w+:\n", block, 1)[0]
        found = re.search(r"\n      MemorySize: (\d+)", block)
        sizes[name] = int(found.group(1)) if found else default
    return sizes


def metrics_units(path):
    """Write and read units per 1,000 pins, at 1 and 1,000 pins/s per shard."""
    rows = {}
    for line in open(path):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > 6 and cells[0] in ("1", "1000"):
            rows[int(cells[0])] = (float(cells[4]), float(cells[5]))
    return rows


FUNCTIONS = {
    "ingest": "IngestFunction",
    "stream-cleaner": "StreamCleanerFunction",
    "stream-metrics": "StreamMetricsFunction",
    "batch-sink": "BatchSinkFunction",
    "daily-analytics": "DailyAnalyticsFunction",
    "table-maintenance": "TableMaintenanceFunction",
}


def priced(usage, rate_posts_s, per_shard_label, memory, dynamo):
    posts = usage["posts"]
    scale = MILLION / posts
    days = MILLION / rate_posts_s / 86_400
    lines = []
    records = 3 * MILLION
    # Kinesis on demand: three streams for as long as a million posts take; the records in,
    # and read out by the stream cleaner and stream-metrics (pin and geo only).
    gb = records * 1024 / 1e9
    kinesis = 3 * 24 * days * PRICES["kinesis_stream_hour"] + gb * PRICES["kinesis_gb_in"] + \
        (gb + 2 / 3 * gb) * PRICES["kinesis_gb_out"]
    lines.append(("Kinesis (on demand: 3 streams' hours, 3M records in, read by the cleaner and metrics)", kinesis))
    requests = next(step["invocations"] for step in usage["steps"] if step["step"] == "ingest") * scale
    lines.append((f"API Gateway ({requests:,.0f} requests: one per record, each post on both paths, as the original emulator sends)",
                  requests * PRICES["api_request"]))
    s3_puts = s3_gets = 0.0
    lambda_cost = 0.0
    detail = []
    for step in usage["steps"]:
        name = FUNCTIONS[step["step"]]
        mb = memory[name]
        if step["step"] == "table-maintenance":
            # On its schedule: every 15 minutes for as long as the posts take.
            invocations = 96 * max(days, 1 / 96)
            seconds = step["seconds"] * invocations
            puts, gets = (step["puts"] + step["lists"] + step["others"]) * invocations, step["gets"] * invocations
        elif step["step"] == "daily-analytics":
            # Once a day; its time scaled from this run's (fixed costs of a run included: an overstatement).
            invocations = max(days, 1.0)
            seconds = step["seconds"] * scale
            puts, gets = (step["puts"] + step["lists"] + step["others"]) * scale, step["gets"] * scale
        else:
            invocations = step["invocations"] * scale
            seconds = step["seconds"] * scale
            puts, gets = (step["puts"] + step["lists"] + step["others"]) * scale, step["gets"] * scale
        cost = seconds * mb / 1024 * PRICES["lambda_gb_s"] + invocations * PRICES["lambda_request"]
        lambda_cost += cost
        s3_puts += puts
        s3_gets += gets
        detail.append(f"{step['step']} {invocations:,.0f} invocations, {seconds:,.0f} s at {mb} MB")
    lines.append((f"Lambda ({'; '.join(detail)})", lambda_cost))
    lines.append((f"S3 requests ({s3_puts:,.0f} PUT/LIST/COPY/DELETE, {s3_gets:,.0f} GET)",
                  s3_puts * PRICES["s3_put"] + s3_gets * PRICES["s3_get"]))
    wru, rru = dynamo
    lines.append((f"DynamoDB (metrics: {wru * MILLION / 1000:,.0f} write units, {rru * MILLION / 1000:,.0f} read units per million pins)",
                  (wru * PRICES["dynamodb_wru"] + rru * PRICES["dynamodb_rru"]) * MILLION / 1000))
    lines.append(("MSK (two kafka.t3.small brokers, fixed, for as long as the posts take)",
                  2 * 24 * days * PRICES["msk_broker_hour"]))
    lines.append(("Athena (not run: AnalyticsEngine=polars, the default)", 0.0))
    return lines, days


# What would cut each line, were it the largest.
CUTS = {
    "API Gateway": "send `PUT /streams/…/records` and Kafka REST batches (up to 500 records a request) instead of one request per record: the line falls ~500-fold",
    "Kinesis": "fewer always-on streams (one stream for the three kinds) or provisioned shards: on demand, a stream's hours are paid however little flows",
    "S3 requests": "fuller batches (a longer batching window or a higher BatchSize): each commit costs a fixed handful of requests however few records it carries",
    "DynamoDB": "the metrics design in \"metrics-cost\": no per-post marker, each shard's window written once",
    "Lambda": "arm64 is already the default; fewer, fuller invocations",
    "MSK": "a cluster shared with other workloads (it is fixed, not per post)",
}

memory = memory_sizes(template_path)
dynamo = metrics_units(metrics_path)
out = []
for label, path, rate, units in [
    ("the original emulator's rate (2 posts/s; batches of 10 records)", slow_path, 2, dynamo[1]),
    ("1,000 posts/s per shard (batches of 500, the BatchSize)", busy_path, 1_000, dynamo[1000]),
]:
    usage = json.load(open(path))
    lines, days = priced(usage, rate, label, memory, units)
    total = sum(cost for _, cost in lines)
    largest = max(lines, key=lambda l: l[1])
    out.append(f"**Per million posts at {label}** — {days:,.2f} days of traffic; measured on "
               f"{usage['posts']:,} posts (`pinpipe demo --batch-size {usage['batch_size']}`), scaled:\n")
    out.append("| line | USD per million posts |\n|---|---:|")
    for what, cost in lines:
        out.append(f"| {what} | {cost:,.2f} |")
    out.append(f"| **total** | **{total:,.2f}** |\n")
    name = largest[0].split(" (")[0]
    out.append(f"Largest line: **{name}** ({largest[1] / total:.0%} of the total). What would cut it: {CUTS.get(name, 'n/a')}.\n")
print("\n".join(out))
