-- update: PATCH /books?id=eq.N with {"price": ...} (return=minimal).
\set id random(1, 100000)
\set p random(1, 99)
UPDATE books SET price = b.price FROM (SELECT * FROM json_to_recordset(('[{"price":' || :p || '.99}]')::json) AS b(price numeric) LIMIT 1) AS b WHERE books.id = :id;
