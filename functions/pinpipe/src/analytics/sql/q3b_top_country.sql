-- 3b. The country whose top user has the most followers (ties to the country
-- ascending): country, follower_count. The top users are 3a's.
SELECT country, follower_count
FROM top_user_of_country
ORDER BY follower_count DESC, country
LIMIT 1
