-- 4. Most popular category per age group (in age order): age_group, category, category_count.
SELECT age_group, category, category_count
FROM (
    SELECT age_group, age_order, category, category_count,
           row_number() OVER (PARTITION BY age_group ORDER BY category_count DESC, category) AS rank_in_group
    FROM (
        SELECT age_group, age_order, category, count(*) AS category_count
        FROM (
            SELECT CASE WHEN u.age BETWEEN 18 AND 24 THEN '18-24' WHEN u.age BETWEEN 25 AND 35 THEN '25-35'
                     WHEN u.age BETWEEN 36 AND 50 THEN '36-50' WHEN u.age > 50 THEN '+50' END AS age_group,
                   CASE WHEN u.age BETWEEN 18 AND 24 THEN 0 WHEN u.age BETWEEN 25 AND 35 THEN 1
                     WHEN u.age BETWEEN 36 AND 50 THEN 2 WHEN u.age > 50 THEN 3 END AS age_order,
                   p.category
            FROM pin_posts p JOIN user_posts u ON p.ind = u.ind
            WHERE p.category IS NOT NULL AND u.age >= 18
        ) grouped
        GROUP BY age_group, age_order, category
    ) counted
) ranked
WHERE rank_in_group = 1
ORDER BY age_order
