-- pk: what a good implementation runs for GET /books?id=eq.N (PostgREST's shape).
\set id random(1, 100000)
SELECT coalesce(json_agg(t), '[]')::text FROM (SELECT * FROM books WHERE id = :id) t;
