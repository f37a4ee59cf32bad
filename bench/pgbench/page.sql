-- page: GET /books?limit=1000&offset=O  (1000 full rows serialized to JSON by the database)
\set off random(0, 9999)
SELECT coalesce(json_agg(t), '[]')::text FROM (SELECT * FROM books LIMIT 1000 OFFSET :off) t;
