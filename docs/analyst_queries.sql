-- Analyst queries over the shoprec feature tables (Spark SQL).
-- Run one with `shoprec sql "<query>"`, or from any Spark client connected to `shoprec lake serve`.
-- :as_of is the feature date you look at, e.g. DATE'2026-01-14'; every query below is tested
-- (tests/test_analyst_queries.py, and from plain PySpark clients in three time zones in tests/analysts/).

-- name: best_converting_items
-- Items that turn views into purchases best, among those with enough traffic to trust the rate.
SELECT i.item_id, i.category_id, i.views_30d, i.purchases_30d,
       round(i.conversion_rate_30d, 4) AS conversion_rate, i.price
FROM features.item_daily i
WHERE i.as_of_date = :as_of AND i.views_30d >= 10
ORDER BY i.conversion_rate_30d DESC, i.item_id
LIMIT 20;

-- name: buyers_going_quiet
-- Customers who bought in the last 30 days but have not been seen for a week: a win-back audience.
SELECT u.user_id, u.purchases_30d, round(u.spend_30d, 2) AS spend_30d, u.days_since_last_event,
       u.top_category_1
FROM features.user_daily u
WHERE u.as_of_date = :as_of AND u.purchases_30d > 0 AND u.days_since_last_event >= 7
ORDER BY u.spend_30d DESC, u.user_id;

-- name: favourite_category_share
-- For each category: how many users have it as their strongest interest, and how strongly.
SELECT c.category_id, count(*) AS users, round(avg(c.affinity_share), 3) AS avg_share,
       sum(c.purchases_30d) AS purchases_30d
FROM features.user_category c
WHERE c.as_of_date = :as_of AND c.category_rank = 1
GROUP BY c.category_id
ORDER BY users DESC, c.category_id;

-- name: daily_funnel
-- The shop's daily conversion funnel over the 30 days up to :as_of.
SELECT e.event_date,
       sum(CASE WHEN e.event_type = 'view' THEN 1 ELSE 0 END) AS views,
       sum(CASE WHEN e.event_type = 'click' THEN 1 ELSE 0 END) AS clicks,
       sum(CASE WHEN e.event_type = 'cart' THEN 1 ELSE 0 END) AS carts,
       sum(CASE WHEN e.event_type = 'purchase' THEN 1 ELSE 0 END) AS purchases,
       count(DISTINCT e.user_id) AS active_users
FROM clean.events e
WHERE e.event_date BETWEEN date_sub(:as_of, 29) AND :as_of
GROUP BY e.event_date
ORDER BY e.event_date;

-- name: bought_together
-- The strongest session partners of the most viewed item, with their current catalogue attributes.
WITH top_item AS (
  SELECT item_id FROM features.item_daily WHERE as_of_date = :as_of ORDER BY views_30d DESC, item_id LIMIT 1
)
SELECT c.item_id, c.other_item_id, c.co_view_sessions, c.co_buy_sessions, round(c.score, 3) AS score,
       i.category_id, i.brand_id, i.price
FROM features.item_cooccurrence c
JOIN top_item t ON c.item_id = t.item_id
LEFT JOIN clean.items i ON i.item_id = c.other_item_id AND i.is_current
WHERE c.as_of_date = :as_of
ORDER BY c.pair_rank
LIMIT 10;

-- name: trending_items
-- Items whose last week runs well above their 30-day pace.
SELECT item_id, category_id, views_7d, views_30d, round(trend_7d_vs_30d, 2) AS trend
FROM features.item_daily
WHERE as_of_date = :as_of AND views_7d >= 5
ORDER BY trend_7d_vs_30d DESC, item_id
LIMIT 20;
