"""Recounts SPEC §12's metrics from stream Delta tables with DuckDB's delta extension,
as an independent reader: each post once (distinct `ind`), per profile (`poster_name`),
per category (pin table) and per country (geo table).

usage: recount_metrics.py PIN_TABLE GEO_TABLE   (prints JSON)
"""
import glob
import json
import os
import sys

import duckdb
import duckdb_extension_delta

pin_table, geo_table = sys.argv[1:3]
con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
# `INSTALL` needs the internet; the PyPI package ships the extension file.
package = os.path.dirname(duckdb_extension_delta.__file__)
con.execute(f"LOAD '{glob.glob(os.path.join(package, 'extensions', '*', 'delta.duckdb_extension'))[0]}'")


def counts(table, column):
    rows = con.execute(
        f"SELECT {column}, count(DISTINCT ind) FROM delta_scan('{table}') "
        f"WHERE {column} IS NOT NULL GROUP BY {column}"
    ).fetchall()
    return {key: n for key, n in rows}


print(json.dumps({
    "profile": counts(pin_table, "poster_name"),
    "category": counts(pin_table, "category"),
    "country": counts(geo_table, "country"),
}))
