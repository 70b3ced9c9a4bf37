"""Reads every NDJSON object under a prefix with DuckDB's read_json (a reader that
knows nothing of pinpipe) and prints the row count and the sorted `index`/`ind`s.

usage: read_json.py PREFIX   (a local directory or s3://bucket/path on moto)
"""
import glob
import json
import os
import sys

import duckdb
import duckdb_extension_httpfs

prefix = sys.argv[1].rstrip("/")
con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
if prefix.startswith("s3://"):
    ext = glob.glob(os.path.join(os.path.dirname(duckdb_extension_httpfs.__file__), "extensions", "*", "httpfs.duckdb_extension"))[0]
    con.execute(f"LOAD '{ext}'")
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    assert endpoint.startswith("http://127.0.0.1"), endpoint
    con.execute(
        "CREATE SECRET moto (TYPE S3, KEY_ID 'testing', SECRET 'testing', REGION 'us-east-1', "
        f"ENDPOINT '{endpoint.removeprefix('http://')}', URL_STYLE 'path', USE_SSL false)"
    )
rows = con.sql(
    f"SELECT coalesce(json_extract(json, '$.index'), json_extract(json, '$.ind'))::BIGINT AS ind "
    f"FROM read_ndjson_objects('{prefix}/**/*.json', hive_partitioning = false) ORDER BY ind"
).fetchall()
print(json.dumps({"rows": len(rows), "inds": [r[0] for r in rows]}))
