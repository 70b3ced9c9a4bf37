-- 8. Median follower count per age group and join year, 2015–2020:
-- age_group, post_year, median_follower_count (age groups in age order).
-- The exact median: the middle one or two of the group's non-null counts in order
-- (1-based positions floor((n + 1) / 2) and floor((n + 2) / 2)), averaged; a group
-- whose counts are all null shows with a null median.
WITH rows_in_group AS (
    SELECT age_group, age_order, post_year, follower_count
    FROM (
        SELECT age_group, age_order, year(date_joined) AS post_year, follower_count
        FROM pins_by_age_group
        WHERE date_joined IS NOT NULL
    ) dated
    WHERE post_year BETWEEN 2015 AND 2020
), ranked AS (
    SELECT age_group, age_order, post_year, follower_count,
           row_number() OVER (PARTITION BY age_group, age_order, post_year ORDER BY follower_count) AS position,
           count(*) OVER (PARTITION BY age_group, age_order, post_year) AS counted
    FROM rows_in_group
    WHERE follower_count IS NOT NULL
), medians AS (
    SELECT age_group, age_order, post_year, avg(CAST(follower_count AS DOUBLE)) AS median_follower_count
    FROM ranked
    WHERE position IN (floor((counted + 1) / 2.0), floor((counted + 2) / 2.0))
    GROUP BY age_group, age_order, post_year
), groups_seen AS (
    SELECT DISTINCT age_group, age_order, post_year FROM rows_in_group
)
SELECT s.age_group, s.post_year, m.median_follower_count
FROM groups_seen s LEFT JOIN medians m ON s.age_group = m.age_group AND s.age_order = m.age_order AND s.post_year = m.post_year
ORDER BY s.age_order, s.post_year
