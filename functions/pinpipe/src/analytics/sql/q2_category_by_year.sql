-- 2. Most popular category per year, 2018–2022 (UTC years of geo.timestamp):
-- post_year, category, category_count.
SELECT post_year, category, category_count
FROM (
    SELECT post_year, category, category_count,
           row_number() OVER (PARTITION BY post_year ORDER BY category_count DESC, category) AS rank_in_group
    FROM (
        SELECT post_year, category, count(*) AS category_count
        FROM (
            SELECT year(g."timestamp") AS post_year, p.category
            FROM pin_posts p JOIN geo_posts g ON p.ind = g.ind
            WHERE p.category IS NOT NULL AND g."timestamp" IS NOT NULL
        ) dated
        WHERE post_year BETWEEN 2018 AND 2022
        GROUP BY post_year, category
    ) counted
) ranked
WHERE rank_in_group = 1
ORDER BY post_year
