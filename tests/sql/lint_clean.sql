-- A database the linter finds nothing in (tests/lint): keys, indexed foreign keys,
-- row-level security, invoker views, named parameters.
SET client_min_messages = warning;
DO $$ BEGIN CREATE ROLE lint_clean_anon NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
CREATE TABLE public.teams (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE public.members (
  id serial PRIMARY KEY,
  team_id integer NOT NULL REFERENCES public.teams (id),
  display_name text NOT NULL
);
CREATE INDEX members_team_id_idx ON public.members (team_id);
ALTER TABLE public.teams ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.members ENABLE ROW LEVEL SECURITY;
CREATE POLICY teams_read ON public.teams FOR SELECT USING (true);
CREATE POLICY members_read ON public.members FOR SELECT USING (true);
CREATE VIEW public.team_names WITH (security_invoker = true) AS SELECT id, name FROM public.teams;
CREATE FUNCTION public.team_count(min_id integer) RETURNS bigint
  LANGUAGE sql STABLE AS $$ SELECT count(*) FROM public.teams WHERE id >= min_id $$;
GRANT USAGE ON SCHEMA public TO lint_clean_anon;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO lint_clean_anon;
