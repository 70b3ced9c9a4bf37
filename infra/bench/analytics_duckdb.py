"""Bench peer (b): the daily job as DuckDB SQL on the same raw NDJSON files —
clean in SQL (SPEC §3's rules for what the questions read and the rest of the
columns), persist the cleaned tables as Parquet, answer the eight questions
(infra/bench/duckdb_native_sql.py), write each answer as Parquet.

usage: analytics_duckdb.py RAW_DIR OUT_DIR
"""
import os
import sys

import duckdb

import placeholders  # this directory is on sys.path when run as a script

from duckdb_native_sql import QUERIES  # noqa: E402

# The input: where each kind's raw NDJSON is, `{kind}` standing for pin, geo or user
# (the bench passes the bronze objects pinpipe reads, so both read the same files).
raw, out = sys.argv[1:3]
os.makedirs(out, exist_ok=True)
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
PLACEHOLDERS = ", ".join(f"'{p}'" for p in placeholders.PLACEHOLDERS)
con.execute(f"CREATE MACRO txt(x) AS CASE WHEN trim(x::VARCHAR) IN ({PLACEHOLDERS}) THEN NULL ELSE trim(x::VARCHAR) END")
con.execute(
    """CREATE MACRO followers(x) AS CASE
         WHEN txt(x) IS NULL THEN NULL
         WHEN txt(x) LIKE '%k' THEN (TRY_CAST(rtrim(txt(x), 'k') AS DOUBLE) * 1000)::BIGINT
         WHEN txt(x) LIKE '%M' THEN (TRY_CAST(rtrim(txt(x), 'M') AS DOUBLE) * 1000000)::BIGINT
         ELSE TRY_CAST(txt(x) AS BIGINT) END"""
)


def ndjson(kind):
    return f"read_ndjson_auto('{raw.format(kind=kind)}', ignore_errors = true)"


con.execute(
    f"""CREATE TABLE pin AS SELECT
          coalesce(TRY_CAST(COLUMNS('^(index|ind)$') AS BIGINT)) AS ind, txt(unique_id) AS unique_id, txt(title) AS title,
          txt(description) AS description, followers(follower_count) AS follower_count, txt(poster_name) AS poster_name,
          txt(tag_list) AS tag_list, txt(is_image_or_video) AS is_image_or_video, txt(image_src) AS image_src,
          regexp_replace(txt(save_location), '^Local save in ', '') AS save_location, txt(category) AS category
        FROM {ndjson('pin')}"""
)
con.execute(
    f"""CREATE TABLE geo AS SELECT TRY_CAST(ind AS BIGINT) AS ind, txt(country) AS country,
          [TRY_CAST(latitude AS DOUBLE), TRY_CAST(longitude AS DOUBLE)] AS coordinates,
          TRY_CAST(timestamp AS TIMESTAMPTZ) AS timestamp
        FROM {ndjson('geo')}"""
)
con.execute(
    f"""CREATE TABLE "user" AS SELECT TRY_CAST(ind AS BIGINT) AS ind,
          txt(first_name) || ' ' || txt(last_name) AS user_name, TRY_CAST(age AS BIGINT) AS age,
          TRY_CAST(date_joined AS TIMESTAMPTZ) AS date_joined
        FROM {ndjson('user')}"""
)
for kind in ("pin", "geo", "user"):
    con.execute(f"""COPY "{kind}" TO '{out}/silver_{kind}.parquet' (FORMAT parquet)""")
    con.execute(f"""CREATE VIEW {kind}_posts AS SELECT * FROM "{kind}" QUALIFY row_number() OVER (PARTITION BY ind) = 1""")
for stem, sql in QUERIES.items():
    con.execute(f"COPY ({sql}) TO '{out}/{stem}.parquet' (FORMAT parquet)")
print(con.sql(f"SELECT count(*) FROM read_parquet('{out}/q1_category_by_country.parquet')").fetchone()[0], "countries")
