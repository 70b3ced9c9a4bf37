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
# SPEC §3, in two steps so that each value is trimmed once: `tidy` trims surrounding
# white space (the no-break space too) as the values are read; `txt` (on a trimmed
# column) makes a placeholder null, and `followers` reads `7k`/`1.2M`/`523`.
# (Trimmed only when the first or last character is white space: most values have none,
# and trim with a character set costs ~4× the check.)
con.execute(
    "CREATE MACRO tidy(x) AS CASE WHEN contains(' \t\n\r\u00a0', x[1]) OR contains(' \t\n\r\u00a0', x[-1]) "
    "THEN trim(x, ' \t\n\r\u00a0') ELSE x END"
)
con.execute(f"CREATE MACRO txt(x) AS CASE WHEN x IN ({PLACEHOLDERS}) THEN NULL ELSE x END")
con.execute(
    f"""CREATE MACRO followers(x) AS CASE
         WHEN x IS NULL OR x IN ({PLACEHOLDERS}) THEN NULL
         WHEN x[-1] = 'k' THEN (TRY_CAST(left(x, length(x) - 1) AS DOUBLE) * 1000)::BIGINT
         WHEN x[-1] = 'M' THEN (TRY_CAST(left(x, length(x) - 1) AS DOUBLE) * 1000000)::BIGINT
         ELSE TRY_CAST(x AS BIGINT) END"""
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


# Each kind's text columns, trimmed once as they are read.
TEXT = {
    "pin": ["unique_id", "title", "description", "poster_name", "follower_count", "tag_list", "is_image_or_video",
            "image_src", "save_location", "category"],
    "geo": ["country"],
    "user": ["first_name", "last_name"],
}
SELECT = {
    "pin": """TRY_CAST(coalesce("index", ind) AS BIGINT) AS ind, txt(unique_id) AS unique_id, txt(title) AS title,
              txt(description) AS description, followers(follower_count) AS follower_count,
              txt(poster_name) AS poster_name, txt(tag_list) AS tag_list, txt(is_image_or_video) AS is_image_or_video,
              txt(image_src) AS image_src,
              CASE WHEN starts_with(txt(save_location), 'Local save in ') THEN txt(save_location)[15:]
                   ELSE txt(save_location) END AS save_location,
              txt(category) AS category""",
    "geo": """TRY_CAST(ind AS BIGINT) AS ind, txt(country) AS country,
              [TRY_CAST(latitude AS DOUBLE), TRY_CAST(longitude AS DOUBLE)] AS coordinates,
              TRY_CAST(timestamp AS TIMESTAMPTZ) AS timestamp""",
    "user": """TRY_CAST(ind AS BIGINT) AS ind, txt(first_name) || ' ' || txt(last_name) AS user_name,
               TRY_CAST(age AS BIGINT) AS age, TRY_CAST(date_joined AS TIMESTAMPTZ) AS date_joined""",
}


POSTS = {
    "pin": "ind, category, poster_name, follower_count",
    "geo": "ind, country, timestamp",
    "user": "ind, user_name, age, date_joined",
}


def trimmed(kind):
    """The source with its text columns trimmed once."""
    others = [c for c in COLUMNS[kind] if c not in TEXT[kind]]
    columns = [f'"{c}"' for c in others] + [f'tidy("{c}") AS "{c}"' for c in TEXT[kind]]
    return f"(SELECT {', '.join(columns)} FROM {source(kind)})"

for kind in ("pin", "geo", "user"):
    # Cleaned once, persisted as pinpipe persists silver, then each post once.
    con.execute(f'CREATE TABLE "{kind}" AS SELECT {SELECT[kind]} FROM {trimmed(kind)}')
    con.execute(f"""COPY "{kind}" TO '{out}/silver_{kind}.parquet' (FORMAT parquet, COMPRESSION snappy)""")
    # Each post once, with the columns the questions read (as pinpipe reads silver).
    con.execute(f'CREATE TABLE {kind}_posts AS SELECT DISTINCT ON (ind) {POSTS[kind]} FROM "{kind}" WHERE ind IS NOT NULL')
for stem, sql in QUERIES.items():
    con.execute(f"COPY ({sql}) TO '{out}/{stem}.parquet' (FORMAT parquet, COMPRESSION snappy)")
print(con.sql(f"SELECT count(*) FROM read_parquet('{out}/q1_category_by_country.parquet')").fetchone()[0], "countries")
