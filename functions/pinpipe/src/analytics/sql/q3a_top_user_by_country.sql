-- 3a. User with the most followers per country (ties to the name ascending):
-- country, poster_name, follower_count.
SELECT country, poster_name, follower_count
FROM top_user_of_country
ORDER BY country
