-- 5. Median follower count per age group (in age order): age_group, median_follower_count.
-- The exact median: the middle one or two of the group's non-null counts in order
-- (1-based positions floor((n + 1) / 2) and floor((n + 2) / 2)), averaged; a group
-- whose counts are all null shows with a null median.
WITH rows_in_group AS (
    SELECT age_group, age_order, follower_count FROM pins_by_age_group
), ranked AS (
    SELECT age_group, age_order, follower_count,
           row_number() OVER (PARTITION BY age_group, age_order ORDER BY follower_count) AS position,
           count(*) OVER (PARTITION BY age_group, age_order) AS counted
    FROM rows_in_group
    WHERE follower_count IS NOT NULL
), medians AS (
    SELECT age_group, age_order, avg(CAST(follower_count AS DOUBLE)) AS median_follower_count
    FROM ranked
    WHERE position IN (floor((counted + 1) / 2.0), floor((counted + 2) / 2.0))
    GROUP BY age_group, age_order
), groups_seen AS (
    SELECT DISTINCT age_group, age_order FROM rows_in_group
)
SELECT s.age_group, m.median_follower_count
FROM groups_seen s LEFT JOIN medians m ON s.age_group = m.age_group AND s.age_order = m.age_order
ORDER BY s.age_order
