"""Recounts SPEC §12's metrics from stream Delta tables with DuckDB's delta extension,
as an independent reader: the posts of a window (each once, distinct `ind`) per profile
(`poster_name`, with the follower count of its latest-arrived post), per category (pin
table) and per country (geo table).

usage: recount_metrics.py PIN_TABLE GEO_TABLE POSTS_JSON   (prints JSON)
POSTS_JSON: the window's posts as [{kind, ind, arrival (first, ms), seq (its sequence number)}, …].
Prints {"profile": {name: [posts, follower_count]}, "category": {name: [posts, null]}, …}.
"""
import glob
import json
import os
import sys

import duckdb
import duckdb_extension_delta

pin_table, geo_table, posts_file = sys.argv[1:4]
con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
# `INSTALL` needs the internet; the PyPI package ships the extension file.
package = os.path.dirname(duckdb_extension_delta.__file__)
con.execute(f"LOAD '{glob.glob(os.path.join(package, 'extensions', '*', 'delta.duckdb_extension'))[0]}'")
con.execute(
    f"CREATE TABLE posts AS SELECT * FROM read_json('{posts_file}', format = 'array', "
    "columns = {kind: 'VARCHAR', ind: 'BIGINT', arrival: 'BIGINT', seq: 'VARCHAR'})"
)


def counts(table, kind, column, followers):
    # A post delivered more than once is one row per delivery, all alike: one per ind.
    follower = (
        "arg_max(follower_count, (arrival, length(seq), seq)) FILTER (WHERE follower_count IS NOT NULL)"
        if followers
        else "NULL"
    )
    rows = con.execute(
        f"""SELECT {column}, count(*), {follower}
            FROM (SELECT DISTINCT * FROM delta_scan('{table}')) AS t JOIN posts USING (ind)
            WHERE posts.kind = '{kind}' AND {column} IS NOT NULL GROUP BY {column}"""
    ).fetchall()
    return {key: [n, f] for key, n, f in rows}


print(json.dumps({
    "profile": counts(pin_table, "pin", "poster_name", True),
    "category": counts(pin_table, "pin", "category", False),
    "country": counts(geo_table, "geo", "country", False),
}))
