"""SQL that loads ../shared/data/sample_*.jsonl into the original project's three
tables (pinterest_data, geolocation_data, user_data), for the emulator's MySQL
source. Column order follows the samples; datetimes become DATETIME, so the
emulator reads them back as the original script did (json.dumps(..., default=str)).

usage: python3 mysql_samples.py DATA_DIR DATABASE USER PASSWORD > load.sql
"""
import json
import re
import sys

TABLES = {"pin": "pinterest_data", "geo": "geolocation_data", "user": "user_data"}
DATETIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


def sql_string(text):
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def column_type(values):
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) is False and isinstance(v, int) for v in present):
        return "BIGINT"
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "DOUBLE"
    if present and all(isinstance(v, str) and DATETIME.match(v) for v in present):
        return "DATETIME"
    return "TEXT"


def literal(value):
    if value is None:
        return "NULL"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return sql_string(value if isinstance(value, str) else json.dumps(value))


def main(data_dir, database, user, password):
    # Titles hold emoji: four-byte UTF-8 throughout.
    print("SET NAMES utf8mb4;")
    print(f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4;")
    print(f"CREATE USER IF NOT EXISTS '{user}'@'127.0.0.1' IDENTIFIED BY {sql_string(password)};")
    print(f"GRANT SELECT ON `{database}`.* TO '{user}'@'127.0.0.1';")
    print(f"USE `{database}`;")
    for kind, table in TABLES.items():
        with open(f"{data_dir}/sample_{kind}.jsonl", encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        rows = [json.loads(r) if isinstance(r, str) else r for r in rows]
        columns = list(rows[0].keys())
        for row in rows:
            columns += [c for c in row if c not in columns]
        types = {c: column_type([r.get(c) for r in rows]) for c in columns}
        print(f"DROP TABLE IF EXISTS `{table}`;")
        print(f"CREATE TABLE `{table}` (" + ", ".join(f"`{c}` {types[c]}" for c in columns) + ") CHARACTER SET utf8mb4;")
        for row in rows:
            values = ", ".join(literal(row.get(c)) for c in columns)
            print(f"INSERT INTO `{table}` VALUES ({values});")


if __name__ == "__main__":
    main(*sys.argv[1:5])
