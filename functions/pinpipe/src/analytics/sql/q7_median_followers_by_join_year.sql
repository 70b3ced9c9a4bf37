-- 7. Median follower count per join year, 2015–2020: post_year, median_follower_count.
-- The exact median: the middle one or two of the group's non-null counts in order
-- (1-based positions floor((n + 1) / 2) and floor((n + 2) / 2)), averaged; a group
-- whose counts are all null shows with a null median.
WITH rows_in_group AS (
    SELECT post_year, follower_count
    FROM (
        SELECT year(u.date_joined) AS post_year, p.follower_count
        FROM pin_posts p JOIN user_posts u ON p.ind = u.ind
        WHERE u.date_joined IS NOT NULL
    ) dated
    WHERE post_year BETWEEN 2015 AND 2020
), ranked AS (
    SELECT post_year, follower_count,
           row_number() OVER (PARTITION BY post_year ORDER BY follower_count) AS position,
           count(*) OVER (PARTITION BY post_year) AS counted
    FROM rows_in_group
    WHERE follower_count IS NOT NULL
), medians AS (
    SELECT post_year, avg(CAST(follower_count AS DOUBLE)) AS median_follower_count
    FROM ranked
    WHERE position IN (floor((counted + 1) / 2.0), floor((counted + 2) / 2.0))
    GROUP BY post_year
), groups_seen AS (
    SELECT DISTINCT post_year FROM rows_in_group
)
SELECT s.post_year, m.median_follower_count
FROM groups_seen s LEFT JOIN medians m ON s.post_year = m.post_year
ORDER BY s.post_year
