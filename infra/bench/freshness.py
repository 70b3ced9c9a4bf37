"""Freshness of the real-time metrics (issue 16): PUT a pin through ingest, then ask
`GET /metrics/profiles/{poster_name}?window=5m` until it is counted.

Usage: freshness.py API STREAM SAMPLES RATE LABEL. Each sample is a real pin (the
first of shared/data/sample_pin.jsonl) with its own poster name and `ind`, sent at RATE
per second; a checker asks about the oldest pending profile every 50 ms. Prints one Markdown
row: label, samples, p50, p99, max (seconds from the PUT's start to the first answer
that counts it).
"""
import json
import pathlib
import statistics
import sys
import threading
import time
import urllib.parse
import urllib.request

api, stream, samples, rate, label = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
shared = pathlib.Path(__file__).resolve().parents[3] / "shared" / "data"
pin = json.loads((shared / "sample_pin.jsonl").read_text().splitlines()[0])
run = f"{int(time.time() * 1000) % 10**9}"


def request(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(api + path, data=data, method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=900) as answer:
        return json.loads(answer.read())


def put(i):
    name = f"freshness {label} {run} {i}"
    record = dict(pin, poster_name=name, index=int(run) * 1000 + i, follower_count="1k")
    started = time.monotonic()
    request("PUT", f"/streams/{stream}/record", {"StreamName": stream, "Data": record, "PartitionKey": name})
    return name, started


def counted(name):
    answer = request("GET", f"/metrics/profiles/{urllib.parse.quote(name)}?window=5m")
    return answer["posts"] >= 1


def warm_up():
    """The first record: watch compiles ingest and stream-metrics on first use."""
    name, _ = put(-1)
    deadline = time.monotonic() + 1800
    while not counted(name):
        if time.monotonic() > deadline:
            sys.exit("the warm-up record was not counted within 30 minutes")
        time.sleep(1)


warm_up()
pending, lock, latencies = {}, threading.Lock(), []


def checker():
    """Asks about the oldest pending record only (records are counted in order), and on
    through the next ones while they are counted, so each answer is seen within one
    request and 50 ms of being given."""
    while True:
        with lock:
            names = list(pending.items())
        if not names and len(latencies) == samples:
            return
        for name, started in names:
            if not counted(name):
                break
            with lock:
                latencies.append(time.monotonic() - started)
                del pending[name]
        time.sleep(0.05)


thread = threading.Thread(target=checker)
thread.start()
for i in range(samples):
    tick = time.monotonic()
    name, started = put(i)
    with lock:
        pending[name] = started
    time.sleep(max(0.0, 1 / rate - (time.monotonic() - tick)))
thread.join(timeout=600)
if len(latencies) < samples:
    sys.exit(f"{samples - len(latencies)} of {samples} records were not counted within 10 minutes")
latencies.sort()
p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
print(f"| {label} | {samples} | {statistics.median(latencies):.2f} | {p99:.2f} | {latencies[-1]:.2f} |")
