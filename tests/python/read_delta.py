"""Reads a Delta table with DuckDB's delta extension (delta-kernel-rs, an
implementation independent of ours) and prints what the tests check, as JSON:
the columns with their DuckDB types, the row count, and the sorted `ind`s.

usage: read_delta.py TABLE_URI   (a local path or s3://bucket/path on moto)
"""
import glob
import json
import os
import sys

import duckdb
import duckdb_extension_delta
import duckdb_extension_httpfs


def load(con, package, name):
    # `INSTALL` needs the internet; the PyPI packages ship the extension files.
    ext = glob.glob(os.path.join(os.path.dirname(package.__file__), "extensions", "*", f"{name}.duckdb_extension"))[0]
    con.execute(f"LOAD '{ext}'")


uri = sys.argv[1]
con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
if uri.startswith("s3://"):
    load(con, duckdb_extension_httpfs, "httpfs")
load(con, duckdb_extension_delta, "delta")
if uri.startswith("s3://"):
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    assert endpoint.startswith("http://127.0.0.1"), endpoint
    con.execute(
        "CREATE SECRET moto (TYPE S3, KEY_ID 'testing', SECRET 'testing', REGION 'us-east-1', "
        f"ENDPOINT '{endpoint.removeprefix('http://')}', URL_STYLE 'path', USE_SSL false)"
    )
rel = con.sql(f"SELECT * FROM delta_scan('{uri}')")
columns = [[name, str(dtype)] for name, dtype in zip(rel.columns, rel.dtypes)]
inds = [row[0] for row in con.sql(f"SELECT ind FROM delta_scan('{uri}') ORDER BY ind").fetchall()]
first = con.sql(f"SELECT * FROM delta_scan('{uri}') ORDER BY ind LIMIT 1").fetchall()
print(json.dumps({"columns": columns, "rows": len(inds), "inds": inds, "first": [str(v) for v in first[0]] if first else None}))
