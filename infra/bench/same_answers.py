"""Whether a peer's eight answers equal ours, row for row (read with DuckDB).

usage: same_answers.py OURS_DIR PEER_DIR   (a peer's answer is STEM.parquet or a STEM/ directory)
"""
import os
import sys

import duckdb

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../tests/python"))
from eight_questions_sql import QUERIES  # noqa: E402

ours, peer = sys.argv[1:3]
differ = []
for stem in QUERIES:
    theirs = f"{peer}/{stem}.parquet" if os.path.exists(f"{peer}/{stem}.parquet") else f"{peer}/{stem}/*.parquet"
    a = duckdb.sql(f"SELECT * FROM read_parquet('{ours}/{stem}.parquet', hive_partitioning = false)").fetchall()
    b = duckdb.sql(f"SELECT * FROM read_parquet('{theirs}', hive_partitioning = false)").fetchall()
    if a != b:
        differ.append(stem)
print("yes" if not differ else "no: " + ", ".join(differ))
