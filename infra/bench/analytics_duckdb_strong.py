"""Bench peer (b'): the daily job as DuckDB SQL written the way a careful user writes
it (issue 33) — the same work as pinpipe's job on the same raw NDJSON files: read with
`read_json` and every column typed up front (no sampling, no inference), clean with SQL
macros (SPEC §3: trim with the no-break space, the placeholder list as an `IN`, `k`/`M`
follower counts), keep each post once (`DISTINCT ON (ind)`), persist the three cleaned
tables as Snappy Parquet (what pinpipe's silver is), then answer the eight questions
(infra/bench/duckdb_native_sql.py, DuckDB's own dialect) and `COPY` each answer to
Parquet. All cores, and no insertion order kept where none is needed.

usage: analytics_duckdb_strong.py RAW_GLOB OUT_DIR   (RAW_GLOB with `{kind}` for pin, geo, user)
"""
import os
import sys

import duckdb

import placeholders  # this directory is on sys.path when run as a script

from duckdb_native_sql import QUERIES  # noqa: E402

raw, out = sys.argv[1:3]
os.makedirs(out, exist_ok=True)
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute(f"SET threads = {os.cpu_count()}")
# Answers are sorted by their queries; the tables in between need no order.
con.execute("SET preserve_insertion_order = false")
PLACEHOLDERS = ", ".join("'" + p.replace("'", "''") + "'" for p in placeholders.PLACEHOLDERS)
# SPEC §3: surrounding white space (the no-break space too) trimmed; a placeholder is null.
con.execute("CREATE MACRO tidy(x) AS trim(x, ' ' || chr(9) || chr(10) || chr(13) || chr(160))")
con.execute(f"CREATE MACRO txt(x) AS CASE WHEN tidy(x) IN ({PLACEHOLDERS}) THEN NULL ELSE tidy(x) END")
con.execute(
    """CREATE MACRO followers(x) AS CASE
         WHEN txt(x) IS NULL THEN NULL
         WHEN txt(x) LIKE '%k' THEN (TRY_CAST(rtrim(txt(x), 'k') AS DOUBLE) * 1000)::BIGINT
         WHEN txt(x) LIKE '%M' THEN (TRY_CAST(rtrim(txt(x), 'M') AS DOUBLE) * 1000000)::BIGINT
         ELSE TRY_CAST(txt(x) AS BIGINT) END"""
)

# Every key the questions or the cleaned tables read, typed up front (text where the
# sources send numbers as text or text as numbers; cast once, in SQL).
COLUMNS = {
    "pin": {
        "index": "VARCHAR", "ind": "VARCHAR", "unique_id": "VARCHAR", "title": "VARCHAR", "description": "VARCHAR",
        "poster_name": "VARCHAR", "follower_count": "VARCHAR", "tag_list": "VARCHAR",
        "is_image_or_video": "VARCHAR", "image_src": "VARCHAR", "save_location": "VARCHAR", "category": "VARCHAR",
    },
    "geo": {"ind": "VARCHAR", "timestamp": "VARCHAR", "latitude": "VARCHAR", "longitude": "VARCHAR", "country": "VARCHAR"},
    "user": {"ind": "VARCHAR", "first_name": "VARCHAR", "last_name": "VARCHAR", "age": "VARCHAR", "date_joined": "VARCHAR"},
}


def source(kind):
    columns = "{" + ", ".join(f"'{k}': '{t}'" for k, t in COLUMNS[kind].items()) + "}"
    return (f"read_json('{raw.format(kind=kind)}', format = 'newline_delimited', columns = {columns}, "
            "ignore_errors = true)")


SELECT = {
    "pin": """TRY_CAST(coalesce("index", ind) AS BIGINT) AS ind, txt(unique_id) AS unique_id, txt(title) AS title,
              txt(description) AS description, followers(follower_count) AS follower_count,
              txt(poster_name) AS poster_name, txt(tag_list) AS tag_list, txt(is_image_or_video) AS is_image_or_video,
              txt(image_src) AS image_src, regexp_replace(txt(save_location), '^Local save in ', '') AS save_location,
              txt(category) AS category""",
    "geo": """TRY_CAST(ind AS BIGINT) AS ind, txt(country) AS country,
              [TRY_CAST(latitude AS DOUBLE), TRY_CAST(longitude AS DOUBLE)] AS coordinates,
              TRY_CAST(timestamp AS TIMESTAMPTZ) AS timestamp""",
    "user": """TRY_CAST(ind AS BIGINT) AS ind, txt(first_name) || ' ' || txt(last_name) AS user_name,
               TRY_CAST(age AS BIGINT) AS age, TRY_CAST(date_joined AS TIMESTAMPTZ) AS date_joined""",
}

for kind in ("pin", "geo", "user"):
    # Cleaned once, persisted as pinpipe persists silver, then each post once.
    con.execute(f'CREATE TABLE "{kind}" AS SELECT {SELECT[kind]} FROM {source(kind)}')
    con.execute(f"""COPY "{kind}" TO '{out}/silver_{kind}.parquet' (FORMAT parquet, COMPRESSION snappy)""")
    con.execute(f'CREATE TABLE {kind}_posts AS SELECT DISTINCT ON (ind) * FROM "{kind}" WHERE ind IS NOT NULL')
for stem, sql in QUERIES.items():
    con.execute(f"COPY ({sql}) TO '{out}/{stem}.parquet' (FORMAT parquet, COMPRESSION snappy)")
print(con.sql(f"SELECT count(*) FROM read_parquet('{out}/q1_category_by_country.parquet')").fetchone()[0], "countries")
