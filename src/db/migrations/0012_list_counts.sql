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
CREATE FUNCTION file_count_keys(folder_id uuid, live boolean)
RETURNS TABLE (list text, scope uuid) LANGUAGE sql IMMUTABLE AS $$
  SELECT k.list, k.scope FROM (VALUES
    ('files', '00000000-0000-0000-0000-000000000000'::uuid),
    ('files', folder_id),
    (CASE WHEN live THEN 'files_live' END, '00000000-0000-0000-0000-000000000000'::uuid),
    (CASE WHEN live THEN 'files_live' END, folder_id)
  ) AS k(list, scope)
  WHERE k.list IS NOT NULL AND k.scope IS NOT NULL
$$;

-- One statement's changes in a single upsert per counter (a bulk insert is one pass, not a row at a
-- time); ordered, so two transactions meeting on a shard take its rows in the same order.
CREATE FUNCTION count_files() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  my_shard smallint := pg_backend_pid() % 32;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO list_counts AS c (org_id, list, scope, shard, n)
    SELECT r.org_id, k.list, k.scope, my_shard, count(*)
    FROM new_rows r CROSS JOIN LATERAL file_count_keys(r.folder_id, r.deleted_at IS NULL) k
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (org_id, list, scope, shard) DO UPDATE SET n = c.n + EXCLUDED.n;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO list_counts AS c (org_id, list, scope, shard, n)
    SELECT r.org_id, k.list, k.scope, my_shard, -count(*)
    FROM old_rows r CROSS JOIN LATERAL file_count_keys(r.folder_id, r.deleted_at IS NULL) k
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (org_id, list, scope, shard) DO UPDATE SET n = c.n + EXCLUDED.n;
  ELSE
    -- Only rows that moved folder or went into or out of the trash change a count.
    INSERT INTO list_counts AS c (org_id, list, scope, shard, n)
    SELECT d.org_id, k.list, k.scope, my_shard, sum(d.delta)
    FROM (
      SELECT o.org_id, o.folder_id, o.deleted_at IS NULL AS live, -1 AS delta
        FROM old_rows o JOIN new_rows n USING (id)
        WHERE o.folder_id IS DISTINCT FROM n.folder_id OR (o.deleted_at IS NULL) <> (n.deleted_at IS NULL)
      UNION ALL
      SELECT n.org_id, n.folder_id, n.deleted_at IS NULL, 1
        FROM old_rows o JOIN new_rows n USING (id)
        WHERE o.folder_id IS DISTINCT FROM n.folder_id OR (o.deleted_at IS NULL) <> (n.deleted_at IS NULL)
    ) d CROSS JOIN LATERAL file_count_keys(d.folder_id, d.live) k
    GROUP BY 1, 2, 3 HAVING sum(d.delta) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (org_id, list, scope, shard) DO UPDATE SET n = c.n + EXCLUDED.n;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER files_count_insert AFTER INSERT ON files
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_files();
CREATE TRIGGER files_count_update AFTER UPDATE ON files
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_files();
CREATE TRIGGER files_count_delete AFTER DELETE ON files
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION count_files();

-- The files already there.
INSERT INTO list_counts (org_id, list, scope, shard, n)
SELECT f.org_id, k.list, k.scope, 0, count(*)
FROM files f CROSS JOIN LATERAL file_count_keys(f.folder_id, f.deleted_at IS NULL) k
GROUP BY 1, 2, 3;

-- `q` on a files list: a substring of the filename or label, found through trigrams rather than a scan.
-- pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX files_search_idx ON files USING gin (filename gin_trgm_ops, label gin_trgm_ops);
