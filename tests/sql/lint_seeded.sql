-- A database with one instance of each problem the linter looks for (tests/lint).
SET client_min_messages = warning;
DO $$ BEGIN CREATE ROLE lint_anon NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
CREATE TABLE public.accounts (id serial PRIMARY KEY, email text NOT NULL, password_hash text);
CREATE TABLE public.audit_log (happened_at timestamptz, what text);            -- no primary key
CREATE TABLE public.posts (
  id serial PRIMARY KEY,
  author_id integer REFERENCES public.accounts (id),                           -- no index
  editor_id integer REFERENCES public.accounts (id),                           -- ambiguous
  "Title" text,                                                                 -- needs quoting
  "order" integer                                                               -- query key
);
CREATE INDEX ON public.posts (editor_id);
CREATE VIEW public.post_titles AS SELECT "Title" FROM public.posts;            -- no key, definer
CREATE FUNCTION public.echo(text) RETURNS text LANGUAGE sql AS $$ SELECT $1 $$; -- unnamed
CREATE FUNCTION public.whoami() RETURNS text LANGUAGE sql SECURITY DEFINER AS $$ SELECT current_user::text $$;
CREATE SCHEMA other;
CREATE TABLE other.accounts (id serial PRIMARY KEY);                           -- name clash
GRANT USAGE ON SCHEMA public, other TO lint_anon;
GRANT SELECT ON ALL TABLES IN SCHEMA public, other TO lint_anon;
GRANT INSERT, UPDATE ON public.accounts TO lint_anon;                           -- anon writes
