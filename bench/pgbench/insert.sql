-- insert: what a good implementation runs for POST /books (one object, return=minimal):
-- the body as one json parameter expanded by json_to_recordset; the count is the
-- command tag's (INSERT 0 1), as Dbify runs a write that returns nothing.
\set a random(1, 10000)
INSERT INTO books (author_id, title, isbn, price, pages, published_at) SELECT b.author_id, b.title, b.isbn, b.price, b.pages, b.published_at FROM json_to_recordset(('[{"author_id":' || :a || ',"title":"Bench insert","isbn":"978-0-00-000000-0","price":12.5,"pages":320,"published_at":"2024-01-01T00:00:00Z"}]')::json) AS b(author_id integer, title text, isbn text, price numeric, pages integer, published_at timestamptz);
