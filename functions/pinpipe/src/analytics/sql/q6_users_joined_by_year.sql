-- 6. Users who joined each year, 2015–2020: post_year, number_users_joined — distinct
-- (user_name, date_joined) pairs with neither null.
SELECT post_year, count(*) AS number_users_joined
FROM (
    SELECT DISTINCT user_name, date_joined, year(date_joined) AS post_year
    FROM user_posts
    WHERE user_name IS NOT NULL AND date_joined IS NOT NULL
) users
WHERE post_year BETWEEN 2015 AND 2020
GROUP BY post_year
ORDER BY post_year
