"""Table upkeep by another Delta engine (Python deltalake, i.e. delta-rs through
its own Python bindings, not our code), as an operator might run it beside
pinpipe. Prints what it did as JSON.

usage: delta_upkeep.py TABLE_PATH STEP...   (a local table directory)
  checkpoint   write a checkpoint of the latest version
  clean-log    remove every commit file older than the latest checkpoint, as
               log-retention cleanup does once those commits expire
  compact      compact small files (optimize)
  vacuum       full vacuum with zero retention
  txn=APP_ID   print the latest txn version of APP_ID as this engine reads it
"""
import json
import os
import sys

from deltalake import DeltaTable

path, steps = sys.argv[1], sys.argv[2:]
out = {}
for step in steps:
    dt = DeltaTable(path)
    if step == "checkpoint":
        dt.create_checkpoint()
        out["checkpoint"] = dt.version()
    elif step == "clean-log":
        log = os.path.join(path, "_delta_log")
        with open(os.path.join(log, "_last_checkpoint")) as f:
            checkpoint = json.load(f)["version"]
        removed = 0
        for name in sorted(os.listdir(log)):
            stem = name.split(".")[0]
            if name.endswith(".json") and stem.isdigit() and int(stem) < checkpoint:
                os.remove(os.path.join(log, name))
                removed += 1
        out["log_files_removed"] = removed
    elif step == "compact":
        metrics = dt.optimize.compact()
        out["files_compacted"] = metrics["numFilesRemoved"]
    elif step == "vacuum":
        out["files_vacuumed"] = len(dt.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False, full=True))
    elif step.startswith("txn="):
        out[step] = dt.transaction_version(step[4:])
    else:
        sys.exit(f"unknown step {step}")
print(json.dumps(out))
