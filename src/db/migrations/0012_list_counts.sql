-- Lists answer an exact `count` without scanning the org: counters kept by triggers in the same
-- transaction as the rows they count, so every writer (the API, the sweeper, a seed in SQL) keeps them
-- true, and a rolled-back change leaves them as they were. A counter is the sum of its shards; each
-- backend adds to its own shard, so writers in one hot org do not queue on one row.
CREATE TABLE list_counts (
  -- no foreign key: deleting an org cascades into the counted rows, whose triggers write here
  org_id  uuid NOT NULL,
  list    text NOT NULL,
  -- a folder's id for counts within it; the nil uuid for the whole org
  scope   uuid NOT NULL,
  shard   smallint NOT NULL,
  n       bigint NOT NULL,
  PRIMARY KEY (org_id, list, scope, shard)
);

-- The counters one file row is in: every file, and the live ones (not in the trash), org-wide and per folder.
CREATE FUNCTION file_count_keys(f files)
RETURNS TABLE (list text, scope uuid) LANGUAGE sql IMMUTABLE AS $$
  SELECT k.list, k.scope FROM (VALUES
    ('files', '00000000-0000-0000-0000-000000000000'::uuid),
    ('files', f.folder_id),
    (CASE WHEN f.deleted_at IS NULL THEN 'files_live' END, '00000000-0000-0000-0000-000000000000'::uuid),
    (CASE WHEN f.deleted_at IS NULL THEN 'files_live' END, f.folder_id)
  ) AS k(list, scope)
  WHERE k.list IS NOT NULL AND k.scope IS NOT NULL
$$;

-- For any counted table: its trigger names the function giving a row's counters (TG_ARGV[0]). One
-- statement's changes make a single upsert per counter (a bulk insert is one pass, not a row at a
-- time); an update counts its rows out under their old counters and in under their new ones, and
-- only what changed is written. Ordered, so two transactions meeting on a shard lock in one order.
CREATE FUNCTION count_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  changes text;
BEGIN
  changes := CASE TG_OP
    WHEN 'INSERT' THEN format('SELECT r.org_id, k.list, k.scope, 1 AS delta FROM new_rows r, LATERAL %I(r) k', TG_ARGV[0])
    WHEN 'DELETE' THEN format('SELECT r.org_id, k.list, k.scope, -1 AS delta FROM old_rows r, LATERAL %I(r) k', TG_ARGV[0])
    ELSE format('SELECT r.org_id, k.list, k.scope, -1 AS delta FROM old_rows r, LATERAL %I(r) k
                 UNION ALL SELECT r.org_id, k.list, k.scope, 1 FROM new_rows r, LATERAL %I(r) k', TG_ARGV[0], TG_ARGV[0])
  END;
  EXECUTE format(
    'INSERT INTO list_counts AS c (org_id, list, scope, shard, n)
     SELECT org_id, list, scope, pg_backend_pid() %% 32, sum(delta) FROM (%s) d
     GROUP BY 1, 2, 3 HAVING sum(delta) <> 0 ORDER BY 1, 2, 3
     ON CONFLICT (org_id, list, scope, shard) DO UPDATE SET n = c.n + EXCLUDED.n', changes);
  RETURN NULL;
END $$;

CREATE TRIGGER files_count_insert AFTER INSERT ON files
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows('file_count_keys');
CREATE TRIGGER files_count_update AFTER UPDATE ON files
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows('file_count_keys');
CREATE TRIGGER files_count_delete AFTER DELETE ON files
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows('file_count_keys');

-- The files already there.
INSERT INTO list_counts (org_id, list, scope, shard, n)
SELECT f.org_id, k.list, k.scope, 0, count(*)
FROM files f CROSS JOIN LATERAL file_count_keys(f) k
GROUP BY 1, 2, 3;

-- `q` on a files list: a substring of the filename or label, found through trigrams rather than a scan.
-- pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX files_search_idx ON files USING gin (filename gin_trgm_ops, label gin_trgm_ops);

-- Every edit moves a file's tip: an UPDATE of its row that changes no indexed column. With room left
-- on the page it is a heap-only update, which touches none of the row's six indexes (two of them GIN).
ALTER TABLE files SET (fillfactor = 80);
