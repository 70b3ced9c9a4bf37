"""The bench's DuckDB peer at its best: SPEC §4's eight questions in DuckDB's own
dialect (QUALIFY, GROUP BY ALL, quantile_cont for exact medians) over three views of
the posts counted once: `pin_posts`, `geo_posts`, `user_posts`. The portable text
(the repo's SQL files, also Athena's) gives the same answers but runs slower on
DuckDB (window-function medians; 10.0 s against 8.8–9.2 s at 1M), so the peer does
not use it.
Run with `SET TimeZone = 'UTC'` (years are UTC calendar years).
"""

AGE_GROUP = """CASE WHEN age BETWEEN 18 AND 24 THEN '18-24' WHEN age BETWEEN 25 AND 35 THEN '25-35'
                    WHEN age BETWEEN 36 AND 50 THEN '36-50' WHEN age > 50 THEN '+50' END"""
AGE_ORDER = """CASE WHEN age BETWEEN 18 AND 24 THEN 0 WHEN age BETWEEN 25 AND 35 THEN 1
                    WHEN age BETWEEN 36 AND 50 THEN 2 WHEN age > 50 THEN 3 END"""
PIN_GEO = "pin_posts p JOIN geo_posts g ON p.ind = g.ind"
PIN_USER = "pin_posts p JOIN user_posts u ON p.ind = u.ind"

TOP_USERS = f"""
    SELECT g.country, p.poster_name, p.follower_count FROM {PIN_GEO}
    WHERE g.country IS NOT NULL AND p.poster_name IS NOT NULL AND p.follower_count IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY g.country ORDER BY p.follower_count DESC, p.poster_name) = 1"""

QUERIES = {
    "q1_category_by_country": f"""
        SELECT country, category, category_count FROM (
            SELECT g.country, p.category, count(*) AS category_count FROM {PIN_GEO}
            WHERE g.country IS NOT NULL AND p.category IS NOT NULL GROUP BY g.country, p.category)
        QUALIFY row_number() OVER (PARTITION BY country ORDER BY category_count DESC, category) = 1
        ORDER BY country""",
    "q2_category_by_year": f"""
        SELECT post_year, category, category_count FROM (
            SELECT year(g.timestamp) AS post_year, p.category, count(*) AS category_count FROM {PIN_GEO}
            WHERE p.category IS NOT NULL AND year(g.timestamp) BETWEEN 2018 AND 2022 GROUP BY ALL)
        QUALIFY row_number() OVER (PARTITION BY post_year ORDER BY category_count DESC, category) = 1
        ORDER BY post_year""",
    "q3a_top_user_by_country": f"{TOP_USERS} ORDER BY country",
    "q3b_top_country": f"SELECT country, follower_count FROM ({TOP_USERS}) ORDER BY follower_count DESC, country LIMIT 1",
    "q4_category_by_age_group": f"""
        SELECT age_group, category, category_count FROM (
            SELECT {AGE_GROUP} AS age_group, {AGE_ORDER} AS age_order, p.category, count(*) AS category_count
            FROM {PIN_USER} WHERE p.category IS NOT NULL AND u.age >= 18 GROUP BY ALL)
        QUALIFY row_number() OVER (PARTITION BY age_group ORDER BY category_count DESC, category) = 1
        ORDER BY age_order""",
    "q5_median_followers_by_age_group": f"""
        SELECT age_group, median_follower_count FROM (
            SELECT {AGE_GROUP} AS age_group, {AGE_ORDER} AS age_order,
                   quantile_cont(p.follower_count::DOUBLE, 0.5) AS median_follower_count
            FROM {PIN_USER} WHERE u.age >= 18 GROUP BY ALL)
        ORDER BY age_order""",
    "q6_users_joined_by_year": """
        SELECT year(date_joined) AS post_year, count(*) AS number_users_joined FROM (
            SELECT DISTINCT user_name, date_joined FROM user_posts
            WHERE user_name IS NOT NULL AND date_joined IS NOT NULL)
        WHERE year(date_joined) BETWEEN 2015 AND 2020 GROUP BY ALL ORDER BY post_year""",
    "q7_median_followers_by_join_year": f"""
        SELECT year(u.date_joined) AS post_year, quantile_cont(p.follower_count::DOUBLE, 0.5) AS median_follower_count
        FROM {PIN_USER} WHERE year(u.date_joined) BETWEEN 2015 AND 2020 GROUP BY ALL ORDER BY post_year""",
    "q8_median_followers_by_age_group_and_join_year": f"""
        SELECT age_group, post_year, median_follower_count FROM (
            SELECT {AGE_GROUP} AS age_group, {AGE_ORDER} AS age_order, year(u.date_joined) AS post_year,
                   quantile_cont(p.follower_count::DOUBLE, 0.5) AS median_follower_count
            FROM {PIN_USER} WHERE u.age >= 18 AND year(u.date_joined) BETWEEN 2015 AND 2020 GROUP BY ALL)
        ORDER BY age_order, post_year""",
}
