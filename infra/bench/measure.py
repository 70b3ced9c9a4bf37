"""Runs a command and prints its wall time and the peak RSS of its whole process
tree (sampled every 20 ms: PySpark's JVM is a child of its Python driver) as JSON.

usage: measure.py CMD [ARGS...]
"""
import json
import subprocess
import sys
import time

import psutil

started = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
root = psutil.Process(proc.pid)
peak = 0
while proc.poll() is None:
    try:
        tree = [root] + root.children(recursive=True)
        peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
    except psutil.Error:
        pass
    time.sleep(0.02)
wall = time.perf_counter() - started
stderr = proc.stderr.read().decode(errors="replace")
if proc.returncode != 0:
    sys.exit(f"{sys.argv[1:]} failed ({proc.returncode}):\n{stderr[-3000:]}")
print(json.dumps({"wall_s": wall, "peak_rss_mib": peak / 2**20}))
