"""PostgREST read compatibility: a table of requests and the SQL that must give the same
rows. Each case's expected body is computed by PostgreSQL from plain SQL (the oracle),
so a case fails if Dbify filters, orders, pages or embeds differently."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from tests.compat.oracle import rows_of


@dataclass(frozen=True)
class Case:
    query: str
    sql: str


CASES = [
    # select: columns, aliases, casts, JSON paths
    Case(
        "books?select=id,title&order=id&limit=5", "select id, title from books order by id limit 5"
    ),
    Case("books?select=name:title,id&id=eq.3", "select title as name, id from books where id = 3"),
    Case(
        "books?select=id,price::text&id=lt.4&order=id",
        "select id, price::text as price from books where id < 4 order by id",
    ),
    Case(
        "authors?select=id,genre:metadata->>genre,awards:metadata->awards&id=lte.3&order=id",
        "select id, metadata->>'genre' as genre, metadata->'awards' as awards from authors "
        "where id <= 3 order by id",
    ),
    Case(
        "books?select=id,format:extra->>format&id=eq.2",
        "select id, extra->>'format' as format from books where id = 2",
    ),
    Case(
        "authors?select=metadata->genre&id=eq.1",
        "select metadata->'genre' as genre from authors where id = 1",
    ),
    Case("employees", "select * from employees"),
    # comparison operators
    Case(
        "books?select=id&price=gt.40&order=id", "select id from books where price > 40 order by id"
    ),
    Case(
        "books?select=id&price=gte.40.99&order=id",
        "select id from books where price >= 40.99 order by id",
    ),
    Case(
        "books?select=id&pages=lt.130&order=id",
        "select id from books where pages < 130 order by id",
    ),
    Case(
        "books?select=id&pages=lte.130&order=id",
        "select id from books where pages <= 130 order by id",
    ),
    Case(
        "books?select=id&author_id=neq.1&id=lt.10&order=id",
        "select id from books where author_id <> 1 and id < 10 order by id",
    ),
    Case(
        "books?select=id&title=like.*winter*&order=id",
        "select id from books where title like '%winter%' order by id",
    ),
    Case(
        "books?select=id&title=ilike.*WINTER&order=id",
        "select id from books where title ilike '%winter' order by id",
    ),
    Case(
        "books?select=id&title=match.^Book 00[1-5]&order=id",
        "select id from books where title ~ '^Book 00[1-5]' order by id",
    ),
    Case(
        "books?select=id&title=imatch.SEA$&order=id",
        "select id from books where title ~* 'sea$' order by id",
    ),
    Case(
        "books?select=id&id=in.(1,5,9)&order=id",
        "select id from books where id in (1, 5, 9) order by id",
    ),
    Case(
        'authors?select=id&name=in.("Author 01","Author 02")&order=id',
        "select id from authors where name in ('Author 01', 'Author 02') order by id",
    ),
    Case(
        "books?select=id&price=is.null&order=id",
        "select id from books where price is null order by id",
    ),
    Case(
        "books?select=id&price=not.is.null&id=lt.15&order=id",
        "select id from books where price is not null and id < 15 order by id",
    ),
    Case(
        "authors?select=id&active=is.false&order=id",
        "select id from authors where active is false order by id",
    ),
    Case(
        "authors?select=id&active=is.true&id=lt.5&order=id",
        "select id from authors where active is true and id < 5 order by id",
    ),
    Case(
        "books?select=id&price=isdistinct.45.99&id=lt.12&order=id",
        "select id from books where price is distinct from 45.99 and id < 12 order by id",
    ),
    Case(
        "books?select=id&id=not.in.(1,2,3)&id=lt.6&order=id",
        "select id from books where id not in (1, 2, 3) and id < 6 order by id",
    ),
    Case(
        "books?select=id&title=not.like.Book 0*&order=id",
        "select id from books where title not like 'Book 0%' order by id",
    ),
    # quantifiers
    Case(
        "books?select=id&id=eq(any).{1,4,7}&order=id",
        "select id from books where id = any('{1,4,7}') order by id",
    ),
    Case(
        "books?select=id&title=like(any).{*sea,*winter}&id=lt.20&order=id",
        "select id from books where title like any('{%sea,%winter}') and id < 20 order by id",
    ),
    Case(
        "books?select=id&title=like(all).{Book*,*sea}&order=id",
        "select id from books where title like all('{Book%,%sea}') order by id",
    ),
    Case(
        "books?select=id&pages=gt(all).{200,300}&id=lt.30&order=id",
        "select id from books where pages > all('{200,300}') and id < 30 order by id",
    ),
    # arrays and ranges
    Case(
        "books?select=id&keywords=cs.{rare}&order=id",
        "select id from books where keywords @> '{rare}' order by id",
    ),
    Case(
        "books?select=id&ratings=cd.{1,2,3}&order=id",
        "select id from books where ratings <@ '{1,2,3}' order by id",
    ),
    Case(
        "books?select=id&ratings=ov.{5}&id=lt.30&order=id",
        "select id from books where ratings && '{5}' and id < 30 order by id",
    ),
    Case(
        "orders?select=id&quantity_range=cs.3&order=id",
        "select id from orders where quantity_range @> 3 order by id",
    ),
    Case(
        "orders?select=id&quantity_range=sl.[10,20)&order=id",
        "select id from orders where quantity_range << '[10,20)' order by id",
    ),
    Case(
        "orders?select=id&quantity_range=sr.[-5,0)&order=id",
        "select id from orders where quantity_range >> '[-5,0)' order by id",
    ),
    Case(
        "orders?select=id&quantity_range=nxr.[0,6)&order=id",
        "select id from orders where quantity_range &< '[0,6)' order by id",
    ),
    Case(
        "orders?select=id&quantity_range=nxl.[1,2)&order=id",
        "select id from orders where quantity_range &> '[1,2)' order by id",
    ),
    Case(
        "orders?select=id&quantity_range=adj.[5,9)&order=id",
        "select id from orders where quantity_range -|- '[5,9)' order by id",
    ),
    Case(
        'authors?select=id&metadata=cs.{"genre":"poetry"}&order=id',
        'select id from authors where metadata @> \'{"genre":"poetry"}\' order by id',
    ),
    # full-text search
    Case(
        "books?select=id&search=fts.winter&order=id",
        "select id from books where search @@ to_tsquery('winter') order by id",
    ),
    Case(
        "books?select=id&search=fts(english).machines&order=id",
        "select id from books where search @@ to_tsquery('english', 'machines') order by id",
    ),
    Case(
        "books?select=id&search=plfts.sea book&order=id",
        "select id from books where search @@ plainto_tsquery('sea book') order by id",
    ),
    Case(
        "books?select=id&search=phfts(english).the sea&order=id",
        "select id from books where search @@ phraseto_tsquery('english', 'the sea') order by id",
    ),
    Case(
        "books?select=id&search=wfts.winter -sea&order=id",
        "select id from books where search @@ websearch_to_tsquery('winter -sea') order by id",
    ),
    Case(
        "books?select=id&search=not.fts.book&order=id",
        "select id from books where not (search @@ to_tsquery('book')) order by id",
    ),
    # JSON path filters
    Case(
        "authors?select=id&metadata->>genre=eq.poetry&order=id",
        "select id from authors where metadata->>'genre' = 'poetry' order by id",
    ),
    Case(
        "authors?select=id&metadata->awards=eq.3&order=id",
        "select id from authors where metadata->'awards' = '3' order by id",
    ),
    # logic trees
    Case(
        "books?select=id&or=(id.eq.1,id.eq.3)&order=id",
        "select id from books where id = 1 or id = 3 order by id",
    ),
    Case(
        "books?select=id&or=(price.gt.50,and(pages.lt.120,id.lt.50))&order=id",
        "select id from books where price > 50 or (pages < 120 and id < 50) order by id",
    ),
    Case(
        "books?select=id&not.or=(id.gt.3,price.is.null)&order=id",
        "select id from books where not (id > 3 or price is null) order by id",
    ),
    Case(
        "books?select=id&and=(id.gt.5,id.lt.9,or(pages.gt.300,in_stock.not.is.true))&order=id",
        "select id from books where id > 5 and id < 9 and (pages > 300 or in_stock is not true) order by id",
    ),
    Case(
        "books?select=id&or=(title.ilike.*SEA*,id.in.(2,4))&id=lt.20&order=id",
        "select id from books where (title ilike '%sea%' or id in (2, 4)) and id < 20 order by id",
    ),
    # order
    Case(
        "books?select=id,price&order=price.desc.nullslast,id&limit=15",
        "select id, price from books order by price desc nulls last, id limit 15",
    ),
    Case(
        "books?select=id,price&order=price.asc.nullsfirst,id&limit=15",
        "select id, price from books order by price asc nulls first, id limit 15",
    ),
    Case(
        "books?select=id,price&order=price.desc,id.desc&limit=15",
        "select id, price from books order by price desc, id desc limit 15",
    ),
    Case(
        "authors?select=id&order=metadata->>genre.desc,id",
        "select id from authors order by metadata->>'genre' desc, id",
    ),
    Case(
        "authors?select=id,birth_date&order=birth_date.nullsfirst,id",
        "select id, birth_date from authors order by birth_date nulls first, id",
    ),
    # limit / offset
    Case(
        "books?select=id&order=id&limit=10&offset=20",
        "select id from books order by id limit 10 offset 20",
    ),
    Case("books?select=id&order=id&offset=195", "select id from books order by id offset 195"),
    Case("books?select=id&order=id&limit=0", "select id from books limit 0"),
    # embedding: many-to-one, one-to-many, one-to-one, many-to-many, nested
    Case(
        "books?select=id,author:authors(name)&id=lt.4&order=id",
        "select b.id, json_build_object('name', a.name) as author from books b join authors a on a.id = b.author_id "
        "where b.id < 4 order by b.id",
    ),
    Case(
        "books?select=id,publishers(name)&id=in.(9,10)&order=id",
        "select b.id, (select json_build_object('name', p.name) from publishers p where p.id = b.publisher_id) "
        "as publishers from books b where b.id in (9, 10) order by b.id",
    ),
    Case(
        "authors?select=id,books(id)&id=lt.3&order=id",
        "select a.id, (select coalesce(json_agg(json_build_object('id', b.id)), '[]') from books b "
        "where b.author_id = a.id) as books from authors a where a.id < 3 order by a.id",
    ),
    Case(
        "users?select=username,profiles(bio)&username=in.(user01,user16)&order=username",
        "select u.username, (select json_build_object('bio', p.bio) from profiles p where p.user_id = u.id) "
        "as profiles from users u where username in ('user01', 'user16') order by username",
    ),
    Case(
        "films?select=title,actors(name)&id=eq.1",
        "select f.title, (select coalesce(json_agg(json_build_object('name', a.name)), '[]') from roles r "
        "join actors a on a.id = r.actor_id where r.film_id = f.id) as actors from films f where f.id = 1",
    ),
    Case(
        # Self-relationships, PostgREST's convention: the column names the parent...
        "employees?select=name,manager:manager_id(name)&id=eq.4",
        "select e.name, json_build_object('name', m.name) as manager from employees e "
        "join employees m on m.id = e.manager_id where e.id = 4",
    ),
    Case(
        # ...and the table name with the column as hint names the children.
        "employees?select=name,reports:employees!manager_id(name)&id=eq.2",
        "select e.name, (select coalesce(json_agg(json_build_object('name', r.name) order by r.id), '[]') "
        "from employees r where r.manager_id = e.id) as reports from employees e where e.id = 2",
    ),
    Case(
        "books?select=id,authors(name,books(id))&id=eq.1",
        "select b.id, (select json_build_object('name', a.name, 'books', (select coalesce(json_agg("
        "json_build_object('id', b2.id)), '[]') from books b2 where b2.author_id = a.id)) from authors a "
        "where a.id = b.author_id) as authors from books b where b.id = 1",
    ),
    Case(
        "authors?select=id,books(id)&books.id=lt.40&books.order=id.desc&books.limit=1&id=lt.3&order=id",
        "select a.id, (select coalesce(json_agg(json_build_object('id', x.id)), '[]') from (select b.id from "
        "books b where b.author_id = a.id and b.id < 40 order by b.id desc limit 1) x) as books "
        "from authors a where a.id < 3 order by a.id",
    ),
    Case(
        "authors?select=id,books!inner(id)&books.price=gt.52&order=id",
        "select a.id, (select json_agg(json_build_object('id', b.id)) from books b "
        "where b.author_id = a.id and b.price > 52) as books from authors a "
        "where exists (select 1 from books b where b.author_id = a.id and b.price > 52) order by a.id",
    ),
    Case(
        "books?select=id,...authors(author_name:name)&id=lt.3&order=id",
        "select b.id, a.name as author_name from books b join authors a on a.id = b.author_id "
        "where b.id < 3 order by b.id",
    ),
    Case(
        "messages?select=id,sender:users!sender_id(username)&id=eq.1",
        "select m.id, json_build_object('username', u.username) as sender from messages m "
        "join users u on u.id = m.sender_id where m.id = 1",
    ),
    Case(
        "messages?select=id,to:users!messages_recipient_id_fkey(username)&id=eq.1",
        "select m.id, json_build_object('username', u.username) as to from messages m "
        "join users u on u.id = m.recipient_id where m.id = 1",
    ),
    Case(
        "printings?select=id,editions(released_on)&id=eq.1",
        "select p.id, json_build_object('released_on', e.released_on) as editions from printings p "
        "join editions e on e.book_id = p.book_id and e.edition_no = p.edition_no where p.id = 1",
    ),
    Case(
        "book_summaries?select=id,author_names(name)&id=eq.1",
        "select s.id, json_build_object('name', a.name) as author_names from book_summaries s "
        "join author_names a on a.id = s.writer_id where s.id = 1",
    ),
    Case(
        "books?select=id,author:authors(name)&order=author(name).desc,id&limit=5",
        "select b.id, json_build_object('name', a.name) as author from books b join authors a "
        "on a.id = b.author_id order by a.name desc, b.id limit 5",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.query for c in CASES])
def test_read_matches_sql(case: Case, api: httpx.Client, fixture_database_url: str) -> None:
    response = api.get("/" + case.query)
    assert response.status_code in (200, 206), response.text
    assert response.json() == rows_of(fixture_database_url, case.sql)
    # The second time, a read with simple filters only is served from the memo of its
    # raw shape (dataplane/statement_cache.py): the same answer, byte for byte.
    again = api.get("/" + case.query)
    assert (again.status_code, again.content) == (response.status_code, response.content)
    for header in ("content-type", "content-range", "preference-applied"):
        assert again.headers.get(header) == response.headers.get(header)


@pytest.mark.parametrize(
    ("queries", "sql"),
    [
        (
            ("books?id=eq.1&select=id,title", "books?id=eq.2&select=id,title"),
            "select id, title from books where id = {}",
        ),
        (
            ("books?id=gte.3&id=lt.6&order=id", "books?id=gte.7&id=lt.9&order=id"),
            "select * from books where id >= {} and id < {} order by id",
        ),
        (
            (
                "authors?select=id,books(id)&books.id=gt.2&id=eq.1",
                "authors?select=id,books(id)&books.id=gt.20&id=eq.2",
            ),
            "select a.id, (select coalesce(json_agg(json_build_object('id', b.id)), '[]') "
            "from books b where b.author_id = a.id and b.id > {}) as books "
            "from authors a where a.id = {}",
        ),
    ],
)
def test_a_remembered_shape_binds_new_values(
    queries: tuple[str, str], sql: str, api: httpx.Client, fixture_database_url: str
) -> None:
    """The memo's second request has other operands: it must bind them, in their places."""
    for query in queries:
        operands = [part.rpartition(".")[2] for part in query.split("?")[1].split("&")
                    if "=" in part and part.split("=")[0] not in ("select", "order")]  # fmt: skip
        response = api.get("/" + query)
        assert response.status_code == 200, response.text
        assert response.json() == rows_of(fixture_database_url, sql.format(*operands)), query
