-- filter: GET /books?author_id=eq.A&order=published_at.desc&limit=20
\set aid random(1, 10000)
SELECT coalesce(json_agg(t), '[]')::text FROM (SELECT * FROM books WHERE author_id = :aid ORDER BY published_at DESC LIMIT 20) t;
