"""SPEC §4's eight questions written independently as DuckDB SQL over the silver
Delta tables (read with DuckDB's delta extension), beside what our job wrote
(read with DuckDB's Parquet reader). Prints JSON for the Rust test to compare:
{stem: {"duckdb": rows, "ours": rows, "columns": [[name, type], ...]}}.

usage: analytics_duckdb.py LAKE_DIR ID RUN_DATE
"""
import glob
import json
import os
import sys

import duckdb
import duckdb_extension_delta

sys.path.insert(0, os.path.dirname(__file__))
from eight_questions_sql import QUERIES  # noqa: E402

lake, deployment, run_date = sys.argv[1:4]
con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
ext = glob.glob(os.path.join(os.path.dirname(duckdb_extension_delta.__file__), "extensions", "*", "delta.duckdb_extension"))[0]
con.execute(f"LOAD '{ext}'")
# Years are calendar years in UTC.
con.execute("SET TimeZone = 'UTC'")

for kind in ("pin", "geo", "user"):
    # Each post once: any one of its rows (re-sent posts are identical).
    con.execute(
        f"CREATE VIEW {kind}_posts AS SELECT * FROM delta_scan('{lake}/delta/batch/{deployment}_{kind}') "
        "QUALIFY row_number() OVER (PARTITION BY ind) = 1"
    )

# The run published for the date (the pointer names its prefix).
with open(f"{lake}/analytics/run_date={run_date}/_latest.json") as f:
    prefix = json.load(f)["prefix"]
out = {}
for stem, sql in QUERIES.items():
    ours = con.sql(f"SELECT * FROM read_parquet('{lake}/{prefix}{stem}.parquet', hive_partitioning = false)")
    out[stem] = {
        "duckdb": [list(row) for row in con.sql(sql).fetchall()],
        "ours": [list(row) for row in ours.fetchall()],
        "columns": [[name, str(dtype)] for name, dtype in zip(ours.columns, ours.dtypes)],
    }
print(json.dumps(out))
