"""Times a full scan of each soak stream table with DuckDB's delta extension (a reader
that is not ours). usage: soak_scan.py LAKE_DIR; prints JSON per table."""
import glob
import json
import os
import sys
import time

import duckdb
import duckdb_extension_delta

lake = sys.argv[1]
con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
ext = glob.glob(os.path.join(os.path.dirname(duckdb_extension_delta.__file__), "extensions", "*", "delta.duckdb_extension"))[0]
con.execute(f"LOAD '{ext}'")
out = {}
for kind in ["pin", "geo", "user"]:
    table = os.path.join(lake, "delta", "stream", f"soak_{kind}_table")
    started = time.perf_counter()
    rows = con.sql(f"SELECT count(*), count(DISTINCT ind) FROM delta_scan('{table}')").fetchone()
    out[kind] = {"scan_s": time.perf_counter() - started, "rows": rows[0]}
print(json.dumps(out))
