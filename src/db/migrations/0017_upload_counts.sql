-- The uploads list's `count` and the storage summary from counters (list_counts, 0012), not from a scan
-- of the org: kept by triggers in the same transaction as the uploads, whoever writes them.

-- The counters one upload row is in, each with what it adds to it. Every list filter has its own:
-- the trash shown or not ('uploads' / 'uploads:live'), crossed with all statuses, one status, or all but
-- cancelled (the default). The summary adds the bytes and one counter per content type as the summary
-- shows it (detected, else declared, else 'unknown'), so a confirm that learns the type moves the row.
CREATE FUNCTION upload_count_keys(u uploads)
RETURNS TABLE (list text, scope uuid, amount bigint) LANGUAGE sql IMMUTABLE AS $$
  SELECT k.list, '00000000-0000-0000-0000-000000000000'::uuid, k.amount FROM (VALUES
    ('uploads', 1::bigint),
    ('uploads:status:' || u.status, 1),
    (CASE WHEN u.status <> 'cancelled' THEN 'uploads:uncancelled' END, 1),
    (CASE WHEN u.deleted_at IS NULL THEN 'uploads:live' END, 1),
    (CASE WHEN u.deleted_at IS NULL THEN 'uploads:live:status:' || u.status END, 1),
    (CASE WHEN u.deleted_at IS NULL AND u.status <> 'cancelled' THEN 'uploads:live:uncancelled' END, 1),
    ('uploads:type:' || coalesce(u.detected_content_type, u.content_type, 'unknown'), 1),
    ('uploads:bytes', coalesce(u.size_bytes, 0))
  ) AS k(list, amount)
  WHERE k.list IS NOT NULL AND k.amount <> 0
$$;

-- count_rows (0012) adds one per row; a sum of bytes needs each row's amount. Otherwise the same: one
-- upsert per counter per statement, only what changed, in one order, on this backend's shard.
CREATE FUNCTION sum_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  changes text;
BEGIN
  changes := CASE TG_OP
    WHEN 'INSERT' THEN format('SELECT r.org_id, k.list, k.scope, k.amount AS delta FROM new_rows r, LATERAL %I(r) k', TG_ARGV[0])
    WHEN 'DELETE' THEN format('SELECT r.org_id, k.list, k.scope, -k.amount AS delta FROM old_rows r, LATERAL %I(r) k', TG_ARGV[0])
    ELSE format('SELECT r.org_id, k.list, k.scope, -k.amount AS delta FROM old_rows r, LATERAL %I(r) k
                 UNION ALL SELECT r.org_id, k.list, k.scope, k.amount FROM new_rows r, LATERAL %I(r) k', TG_ARGV[0], TG_ARGV[0])
  END;
  EXECUTE format(
    'INSERT INTO list_counts AS c (org_id, list, scope, shard, n)
     SELECT org_id, list, scope, pg_backend_pid() %% 32, sum(delta) FROM (%s) d
     GROUP BY 1, 2, 3 HAVING sum(delta) <> 0 ORDER BY 1, 2, 3
     ON CONFLICT (org_id, list, scope, shard) DO UPDATE SET n = c.n + EXCLUDED.n', changes);
  RETURN NULL;
END $$;

CREATE TRIGGER uploads_count_insert AFTER INSERT ON uploads
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sum_rows('upload_count_keys');
CREATE TRIGGER uploads_count_update AFTER UPDATE ON uploads
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sum_rows('upload_count_keys');
CREATE TRIGGER uploads_count_delete AFTER DELETE ON uploads
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION sum_rows('upload_count_keys');

-- The uploads already there (CREATE TRIGGER above holds writers off until this commits).
INSERT INTO list_counts (org_id, list, scope, shard, n)
SELECT u.org_id, k.list, k.scope, 0, sum(k.amount)
FROM uploads u CROSS JOIN LATERAL upload_count_keys(u) k
GROUP BY 1, 2, 3;

-- Content types are open-ended text: the summary finds an org's type counters through this index
-- rather than among all of the org's counters (folders have theirs, one per folder and shard).
CREATE INDEX list_counts_upload_types_idx ON list_counts (org_id) WHERE list LIKE 'uploads:type:%';

-- A status filter walks its own slice of the org, newest first; without it a rare status (failed,
-- cancelled) is found by reading the org's whole history. The default list (not cancelled, not in the
-- trash) and the include_* variants walk uploads_org_created_idx and skip the few rows they hide.
CREATE INDEX uploads_org_status_created_idx ON uploads (org_id, status, created_at DESC, id DESC);
