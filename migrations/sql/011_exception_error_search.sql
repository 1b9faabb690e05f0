-- The inbox's text filter looks for what a person types anywhere in an
-- exception's error (ILIKE '%…%'). A B-tree cannot serve a pattern that
-- starts with a wildcard, so without this index a rare text meant reading
-- every exception. A trigram GIN index serves ILIKE with any pattern of
-- three or more characters. Only exceptions are indexed this way, not
-- messages: exceptions are written on failures, so the index costs the
-- accept path nothing.
--
-- pg_trgm ships with PostgreSQL (Debian's postgresql package includes the
-- contrib modules) and is a trusted extension since PostgreSQL 13, so the
-- owner of the database can create it without being a superuser.
--
-- The index is built inside the migration's transaction, which blocks
-- writes to exceptions while it builds: about half a minute for a million
-- exceptions (docs/benchmarks.md). On a large existing installation create
-- it beforehand with CREATE INDEX CONCURRENTLY under the same name; the
-- IF NOT EXISTS below then keeps it.
create extension if not exists pg_trgm;

create index if not exists exceptions_message_trgm_idx on exceptions using gin (message gin_trgm_ops);
