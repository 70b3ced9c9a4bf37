"""SPEC §4's eight questions written independently as SQL over the silver Delta
tables (read with DuckDB's delta extension), beside what our job wrote (read with
DuckDB's Parquet reader). The SQL run is the exact text of the template's Athena
named queries (infra/deploy/athena_queries.py: the repo's question files after the
posts-counted-once CTEs), with the deployment id filled in as CloudFormation does
and the Glue tables as views of the same name. Prints JSON for the Rust test to compare:
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
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../infra/deploy"))
from athena_queries import query  # noqa: E402
from eight_questions_sql import QUERIES  # noqa: E402

lake, deployment, run_date = sys.argv[1:4]
con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
ext = glob.glob(os.path.join(os.path.dirname(duckdb_extension_delta.__file__), "extensions", "*", "delta.duckdb_extension"))[0]
con.execute(f"LOAD '{ext}'")
# Years are calendar years in UTC.
con.execute("SET TimeZone = 'UTC'")

for kind in ("pin", "geo", "user"):
    # The Glue table of the silver table, as Athena would see it.
    con.execute(f"""CREATE VIEW "{deployment}_{kind}" AS SELECT * FROM delta_scan('{lake}/delta/batch/{deployment}_{kind}')""")

# The run published for the date, as a user reads it: every date's answers globbed,
# the date picked by its Hive-style folder. Its files must be the run the pointer names.
with open(f"{lake}/analytics/run_date={run_date}/_latest.json") as f:
    prefix = json.load(f)["prefix"]
out = {}
for stem, sql in QUERIES.items():
    ours = con.sql(
        f"SELECT * EXCLUDE (run_date) FROM read_parquet('{lake}/analytics/*/{stem}.parquet', hive_partitioning = true, hive_types = {{'run_date': VARCHAR}}) WHERE run_date = '{run_date}'"
    )
    pointed = con.sql(f"SELECT * FROM read_parquet('{lake}/{prefix}{stem}.parquet', hive_partitioning = false)").fetchall()
    assert ours.fetchall() == pointed, f"{stem}: the date's folder is not the run the pointer names"
    ours = con.sql(
        f"SELECT * EXCLUDE (run_date) FROM read_parquet('{lake}/analytics/*/{stem}.parquet', hive_partitioning = true, hive_types = {{'run_date': VARCHAR}}) WHERE run_date = '{run_date}'"
    )
    out[stem] = {
        "duckdb": [list(row) for row in con.sql(query(sql).replace("${DeploymentId}", deployment)).fetchall()],
        "ours": [list(row) for row in ours.fetchall()],
        "columns": [[name, str(dtype)] for name, dtype in zip(ours.columns, ours.dtypes)],
    }
print(json.dumps(out))
