-- Dbify's schema introspection: one statement, one row, every part built as JSON by
-- PostgreSQL (decoded by schema/introspect.py). $1 = the exposed schemas (text[]).
-- Rows are positional JSON arrays to keep the payload small on large schemas; the
-- field order is documented next to each json_build_array and mirrored in introspect.py.
WITH
exposed AS (
  SELECT oid, nspname FROM pg_namespace WHERE nspname = ANY ($1::text[])
),
relations AS (
  SELECT c.oid, n.nspname, c.relname, c.relkind
  FROM pg_class c
  JOIN exposed n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p') AND NOT c.relispartition
),
columns AS (
  SELECT
    a.attrelid,
    json_agg(json_build_array(
      a.attname,                                                -- 0 name
      a.attnum,                                                 -- 1 position
      format_type(a.atttypid, NULL),                            -- 2 data_type
      t.typname,                                                -- 3 type_name
      t.typcategory,                                            -- 4 type_category
      NOT (a.attnotnull OR (t.typtype = 'd' AND t.typnotnull)), -- 5 nullable
      CASE WHEN a.attgenerated = '' THEN coalesce(              -- 6 default
        pg_get_expr(ad.adbin, ad.adrelid),
        CASE WHEN t.typtype = 'd' THEN pg_get_expr(t.typdefaultbin, 0) END
      ) END,
      a.attidentity <> '',                                      -- 7 is_identity
      a.attgenerated <> '',                                     -- 8 is_generated
      CASE                                                      -- 9 max_length
        WHEN coalesce(nullif(t.typbasetype, 0), t.oid) IN ('bpchar'::regtype, 'varchar'::regtype)
          AND coalesce(nullif(a.atttypmod, -1), t.typtypmod) > 4
        THEN coalesce(nullif(a.atttypmod, -1), t.typtypmod) - 4
      END,
      coalesce(nullif(t.typbasetype, 0), t.oid)::bigint,        -- 10 base type oid (enums)
      CASE WHEN t.typcategory = 'A' THEN format_type(t.typelem, NULL) END,  -- 11 element_type
      dsc.description,                                          -- 12 description
      a.attgenerated = '' AND a.attidentity <> 'a' AND (        -- 13 updatable
        r.relkind IN ('r', 'p')
        OR (r.relkind IN ('v', 'f') AND pg_column_is_updatable(r.oid, a.attnum, false))
      )
    ) ORDER BY a.attnum) AS items
  FROM pg_attribute a
  JOIN relations r ON r.oid = a.attrelid
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
  LEFT JOIN pg_description dsc
    ON dsc.objoid = a.attrelid AND dsc.classoid = 'pg_class'::regclass AND dsc.objsubid = a.attnum
  WHERE a.attnum > 0 AND NOT a.attisdropped
  GROUP BY a.attrelid
),
relation_rows AS (
  SELECT json_agg(json_build_array(
    r.oid::bigint,                                              -- 0 oid
    r.nspname,                                                  -- 1 schema
    r.relname,                                                  -- 2 name
    r.relkind,                                                  -- 3 kind
    dsc.description,                                            -- 4 description
    CASE WHEN r.relkind IN ('v', 'f')                           -- 5 updatable bitmask
      THEN pg_relation_is_updatable(r.oid, true) END,
    has_any_column_privilege(r.oid, 'SELECT'),                  -- 6..9 privileges
    has_any_column_privilege(r.oid, 'INSERT'),
    has_any_column_privilege(r.oid, 'UPDATE'),
    has_table_privilege(r.oid, 'DELETE'),
    coalesce(cols.items, '[]'::json)                            -- 10 columns
  ) ORDER BY r.nspname, r.relname) AS items
  FROM relations r
  LEFT JOIN columns cols ON cols.attrelid = r.oid
  LEFT JOIN pg_description dsc
    ON dsc.objoid = r.oid AND dsc.classoid = 'pg_class'::regclass AND dsc.objsubid = 0
),
-- Keys and foreign keys of every user table, not only exposed ones: views in exposed
-- schemas inherit them from tables anywhere.
key_rows AS (
  SELECT json_agg(json_build_array(
    con.conrelid::bigint,                                       -- 0 table oid
    n.nspname,                                                  -- 1 schema
    c.relname,                                                  -- 2 name
    con.contype,                                                -- 3 'p' or 'u'
    ARRAY(                                                      -- 4 columns, key order
      SELECT att.attname FROM unnest(con.conkey) WITH ORDINALITY AS k (attnum, ord)
      JOIN pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = k.attnum
      ORDER BY k.ord
    ),
    con.conkey                                                  -- 5 attnums
  ) ORDER BY con.conrelid, con.contype, con.conname) AS items
  FROM pg_constraint con
  JOIN pg_class c ON c.oid = con.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE con.contype IN ('p', 'u')
    AND n.nspname NOT IN ('pg_catalog', 'information_schema')
),
foreign_key_rows AS (
  SELECT json_agg(json_build_array(
    con.conname,                                                -- 0 constraint
    con.conrelid::bigint,                                       -- 1 table oid
    sn.nspname,                                                 -- 2 table schema
    sc.relname,                                                 -- 3 table name
    ARRAY(                                                      -- 4 columns
      SELECT att.attname FROM unnest(con.conkey) WITH ORDINALITY AS k (attnum, ord)
      JOIN pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = k.attnum
      ORDER BY k.ord
    ),
    con.conkey,                                                 -- 5 attnums
    con.confrelid::bigint,                                      -- 6 referenced oid
    tn.nspname,                                                 -- 7 referenced schema
    tc.relname,                                                 -- 8 referenced name
    ARRAY(                                                      -- 9 referenced columns
      SELECT att.attname FROM unnest(con.confkey) WITH ORDINALITY AS k (attnum, ord)
      JOIN pg_attribute att ON att.attrelid = con.confrelid AND att.attnum = k.attnum
      ORDER BY k.ord
    ),
    con.confkey                                                 -- 10 referenced attnums
  ) ORDER BY con.conrelid, con.conname) AS items
  FROM pg_constraint con
  JOIN pg_class sc ON sc.oid = con.conrelid
  JOIN pg_namespace sn ON sn.oid = sc.relnamespace
  JOIN pg_class tc ON tc.oid = con.confrelid
  JOIN pg_namespace tn ON tn.oid = tc.relnamespace
  -- a foreign key on a partitioned table is cloned onto each partition; keep the parent's
  WHERE con.contype = 'f' AND con.conparentid = 0
),
view_rows AS (
  SELECT json_agg(json_build_array(
    c.oid::bigint,                                              -- 0 oid
    n.nspname,                                                  -- 1 schema
    c.relname,                                                  -- 2 name
    ARRAY(                                                      -- 3 column names by attnum
      SELECT att.attname FROM pg_attribute att
      WHERE att.attrelid = c.oid AND att.attnum > 0 AND NOT att.attisdropped
      ORDER BY att.attnum
    ),
    rw.ev_action::text                                          -- 4 query tree
  )) AS items
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_rewrite rw ON rw.ev_class = c.oid AND rw.ev_type = '1'
  WHERE c.relkind IN ('v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
),
function_rows AS (
  SELECT json_agg(json_build_array(
    n.nspname,                                                  -- 0 schema
    p.proname,                                                  -- 1 name
    p.proargnames,                                              -- 2 argument names
    p.proargmodes,                                              -- 3 argument modes
    ARRAY(                                                      -- 4 argument types
      SELECT format_type(arg.typ, NULL)
      FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) WITH ORDINALITY AS arg (typ, ord)
      ORDER BY arg.ord
    ),
    p.pronargs,                                                 -- 5 input arguments
    p.pronargdefaults,                                          -- 6 of which defaulted
    format_type(p.prorettype, NULL),                            -- 7 return type
    p.proretset,                                                -- 8 returns set
    rt.typtype,                                                 -- 9 return type's kind
    rn.nspname,                                                 -- 10 return relation schema
    rc.relname,                                                 -- 11 return relation name
    p.provolatile,                                              -- 12 volatility
    dsc.description,                                            -- 13 description
    has_function_privilege(p.oid, 'EXECUTE')                    -- 14 executable
  ) ORDER BY n.nspname, p.proname, p.oid) AS items
  FROM pg_proc p
  JOIN exposed n ON n.oid = p.pronamespace
  JOIN pg_type rt ON rt.oid = p.prorettype
  LEFT JOIN pg_class rc ON rc.oid = rt.typrelid AND rc.relkind IN ('r', 'v', 'm', 'f', 'p')
  LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
  LEFT JOIN pg_description dsc
    ON dsc.objoid = p.oid AND dsc.classoid = 'pg_proc'::regclass AND dsc.objsubid = 0
  WHERE p.prokind = 'f' AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype)
),
enum_rows AS (
  SELECT json_agg(json_build_array(
    t.oid::bigint,                                              -- 0 oid
    format_type(t.oid, NULL),                                   -- 1 name as in data_type
    ARRAY(SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder)
  )) AS items
  FROM pg_type t
  JOIN pg_namespace n ON n.oid = t.typnamespace
  WHERE t.typtype = 'e' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
)
SELECT json_build_object(
  'relations', coalesce((SELECT items FROM relation_rows), '[]'::json),
  'keys', coalesce((SELECT items FROM key_rows), '[]'::json),
  'foreign_keys', coalesce((SELECT items FROM foreign_key_rows), '[]'::json),
  'views', coalesce((SELECT items FROM view_rows), '[]'::json),
  'functions', coalesce((SELECT items FROM function_rows), '[]'::json),
  'enums', coalesce((SELECT items FROM enum_rows), '[]'::json),
  'role', current_user,
  'server_version', current_setting('server_version_num')::integer
)::text
