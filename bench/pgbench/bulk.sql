-- bulk: POST /books with 1,000 objects (return=minimal). The 1,000-object JSON is built
-- by PostgreSQL here (pgbench cannot hold it as a parameter), which costs the limit a
-- little more than receiving it would.
INSERT INTO books (author_id, title, isbn, price, pages, published_at) SELECT b.author_id, b.title, b.isbn, b.price, b.pages, b.published_at FROM json_to_recordset((SELECT json_agg(json_build_object('author_id', 1 + (i * 7) % 10000, 'title', 'Bench bulk ' || i, 'isbn', '978-0-00-000000-0', 'price', 12.5, 'pages', 320, 'published_at', '2024-01-01T00:00:00Z')) FROM generate_series(1, 1000) AS i)) AS b(author_id integer, title text, isbn text, price numeric, pages integer, published_at timestamptz);
