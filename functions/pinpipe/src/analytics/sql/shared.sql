-- Relations several questions share, defined after the posts CTEs (pin_posts,
-- geo_posts, user_posts) in every question's WITH (infra/deploy/athena_queries.py).
-- top_user_of_country: 3a's answer, per country the user with the most followers
-- (ties to the name ascending). pins_by_age_group: each post's pin with its user's
-- age group (18 and over) and the group's place in age order.
top_user_of_country AS (
    SELECT country, poster_name, follower_count
    FROM (
        SELECT g.country, p.poster_name, p.follower_count,
               row_number() OVER (PARTITION BY g.country ORDER BY p.follower_count DESC, p.poster_name) AS rank_in_group
        FROM pin_posts p JOIN geo_posts g ON p.ind = g.ind
        WHERE g.country IS NOT NULL AND p.poster_name IS NOT NULL AND p.follower_count IS NOT NULL
    ) ranked
    WHERE rank_in_group = 1
), pins_by_age_group AS (
    SELECT CASE WHEN u.age BETWEEN 18 AND 24 THEN '18-24' WHEN u.age BETWEEN 25 AND 35 THEN '25-35'
                WHEN u.age BETWEEN 36 AND 50 THEN '36-50' WHEN u.age > 50 THEN '+50' END AS age_group,
           CASE WHEN u.age BETWEEN 18 AND 24 THEN 0 WHEN u.age BETWEEN 25 AND 35 THEN 1
                WHEN u.age BETWEEN 36 AND 50 THEN 2 WHEN u.age > 50 THEN 3 END AS age_order,
           p.category, p.follower_count, u.date_joined
    FROM pin_posts p JOIN user_posts u ON p.ind = u.ind
    WHERE u.age >= 18
)
