-- embed: GET /authors?id=eq.A&select=id,name,books(id,title)  (lateral json_agg)
\set aid random(1, 10000)
SELECT coalesce(json_agg(t), '[]')::text FROM (SELECT a.id, a.name, coalesce(b.books, '[]') AS books FROM authors a LEFT JOIN LATERAL (SELECT json_agg(x) AS books FROM (SELECT bk.id, bk.title FROM books bk WHERE bk.author_id = a.id) x) b ON true WHERE a.id = :aid) t;
