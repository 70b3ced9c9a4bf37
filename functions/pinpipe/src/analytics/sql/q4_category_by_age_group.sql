-- 4. Most popular category per age group (in age order): age_group, category, category_count.
SELECT age_group, category, category_count
FROM (
    SELECT age_group, age_order, category, category_count,
           row_number() OVER (PARTITION BY age_group ORDER BY category_count DESC, category) AS rank_in_group
    FROM (
        SELECT age_group, age_order, category, count(*) AS category_count
        FROM (
            SELECT age_group, age_order, category FROM pins_by_age_group WHERE category IS NOT NULL
        ) grouped
        GROUP BY age_group, age_order, category
    ) counted
) ranked
WHERE rank_in_group = 1
ORDER BY age_order
