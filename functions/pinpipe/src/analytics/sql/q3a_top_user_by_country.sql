-- 3a. User with the most followers per country (ties to the name ascending):
-- country, poster_name, follower_count.
SELECT country, poster_name, follower_count
FROM (
    SELECT g.country, p.poster_name, p.follower_count,
           row_number() OVER (PARTITION BY g.country ORDER BY p.follower_count DESC, p.poster_name) AS rank_in_group
    FROM pin_posts p JOIN geo_posts g ON p.ind = g.ind
    WHERE g.country IS NOT NULL AND p.poster_name IS NOT NULL AND p.follower_count IS NOT NULL
) ranked
WHERE rank_in_group = 1
ORDER BY country
