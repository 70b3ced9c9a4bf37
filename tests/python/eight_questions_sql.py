"""SPEC §4's eight questions as SQL, written independently of pinpipe's Polars
queries, in the subset Athena (Trino) and DuckDB both accept: the repo's files
`functions/pinpipe/src/analytics/sql/<stem>.sql`, the same text the template's
Athena named queries carry. Each reads three relations of the posts counted once:
`pin_posts`, `geo_posts`, `user_posts` (SPEC §3's columns), which each engine
defines over its tables. Used by the analytics test (DuckDB over the silver Delta
tables) and by the analytics bench (DuckDB over raw NDJSON cleaned in SQL). Run with
`SET TimeZone = 'UTC'` (years are UTC calendar years).
"""
import os

SQL_DIR = os.path.join(os.path.dirname(__file__), "../../functions/pinpipe/src/analytics/sql")
STEMS = [
    "q1_category_by_country",
    "q2_category_by_year",
    "q3a_top_user_by_country",
    "q3b_top_country",
    "q4_category_by_age_group",
    "q5_median_followers_by_age_group",
    "q6_users_joined_by_year",
    "q7_median_followers_by_join_year",
    "q8_median_followers_by_age_group_and_join_year",
]


def _read(stem):
    with open(os.path.join(SQL_DIR, f"{stem}.sql")) as f:
        return f.read()


QUERIES = {stem: _read(stem) for stem in STEMS}
