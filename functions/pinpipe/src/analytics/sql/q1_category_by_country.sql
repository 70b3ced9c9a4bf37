-- 1. Most popular category per country: country, category, category_count.
SELECT country, category, category_count
FROM (
    SELECT country, category, category_count,
           row_number() OVER (PARTITION BY country ORDER BY category_count DESC, category) AS rank_in_group
    FROM (
        SELECT g.country, p.category, count(*) AS category_count
        FROM pin_posts p JOIN geo_posts g ON p.ind = g.ind
        WHERE g.country IS NOT NULL AND p.category IS NOT NULL
        GROUP BY g.country, p.category
    ) counted
) ranked
WHERE rank_in_group = 1
ORDER BY country
