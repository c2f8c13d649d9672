-- Content policy per organisation: the content types its uploads may have, the largest upload, and a
-- storage quota. An org without a row has the server's default policy: the types of
-- STOWAGE_REFUSED_CONTENT_TYPES (executables) refused, anything else allowed, no limit of its own.
CREATE TABLE content_policies (
  org_id                 uuid PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
  -- null: any type that is not refused; otherwise only these (exact, or `type/*`)
  allowed_content_types  text[],
  -- null: the server's default list; '{}' refuses nothing. Refused wins over allowed.
  refused_content_types  text[],
  -- null: only the limits of the upload flows themselves
  max_upload_bytes       bigint CHECK (max_upload_bytes > 0),
  -- null: no quota
  quota_bytes            bigint CHECK (quota_bytes >= 0),
  updated_at             timestamptz NOT NULL DEFAULT now()
);

-- The bytes an org's uploads hold against its quota, so that an admission never sums the org's
-- uploads: kept by triggers in the same transaction as the uploads' changes (whoever makes them: the
-- API, the confirm job, the sweeper, SQL by hand), so a rolled-back change leaves them as they were.
-- Sharded as list_counts is (0012): each backend adds to its own row, so the writers of one hot org
-- do not queue on a single row; the usage is the sum of an org's shards.
CREATE TABLE upload_usage (
  -- no foreign key: deleting an org cascades into uploads, whose triggers write here
  org_id           uuid NOT NULL,
  shard            smallint NOT NULL,
  -- live bytes: confirmed uploads whose bytes are not purged (the trash holds its bytes until then)
  confirmed_bytes  bigint NOT NULL,
  -- bytes promised: the declared sizes of pending uploads
  pending_bytes    bigint NOT NULL,
  PRIMARY KEY (org_id, shard)
);

-- What one upload row weighs against the quota.
CREATE FUNCTION upload_bytes(u uploads)
RETURNS TABLE (confirmed bigint, pending bigint) LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN u.status = 'confirmed' AND u.blob_purged_at IS NULL THEN coalesce(u.size_bytes, 0) ELSE 0 END,
         CASE WHEN u.status = 'pending' THEN coalesce(u.declared_size, 0) ELSE 0 END
$$;

-- One statement's changes make one upsert per org: the rows' old weight out, their new weight in, and
-- nothing written when the weights did not move (most updates: a job id, a folder, updated_at).
CREATE FUNCTION count_upload_bytes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  changes text;
BEGIN
  changes := CASE TG_OP
    WHEN 'INSERT' THEN 'SELECT r.org_id, b.confirmed, b.pending FROM new_rows r, LATERAL upload_bytes(r) b'
    WHEN 'DELETE' THEN 'SELECT r.org_id, -b.confirmed, -b.pending FROM old_rows r, LATERAL upload_bytes(r) b'
    ELSE 'SELECT r.org_id, -b.confirmed, -b.pending FROM old_rows r, LATERAL upload_bytes(r) b
          UNION ALL SELECT r.org_id, b.confirmed, b.pending FROM new_rows r, LATERAL upload_bytes(r) b'
  END;
  EXECUTE format(
    'INSERT INTO upload_usage AS u (org_id, shard, confirmed_bytes, pending_bytes)
     SELECT org_id, pg_backend_pid() %% 32, sum(confirmed), sum(pending) FROM (%s) d (org_id, confirmed, pending)
     GROUP BY 1 HAVING sum(confirmed) <> 0 OR sum(pending) <> 0 ORDER BY 1
     ON CONFLICT (org_id, shard) DO UPDATE
       SET confirmed_bytes = u.confirmed_bytes + EXCLUDED.confirmed_bytes, pending_bytes = u.pending_bytes + EXCLUDED.pending_bytes',
    changes);
  RETURN NULL;
END $$;

CREATE TRIGGER uploads_bytes_insert AFTER INSERT ON uploads
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_upload_bytes();
CREATE TRIGGER uploads_bytes_update AFTER UPDATE ON uploads
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_upload_bytes();
CREATE TRIGGER uploads_bytes_delete AFTER DELETE ON uploads
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION count_upload_bytes();

-- The uploads already there (CREATE TRIGGER above holds writers off until this commits).
INSERT INTO upload_usage (org_id, shard, confirmed_bytes, pending_bytes)
SELECT u.org_id, 0, sum(b.confirmed), sum(b.pending)
FROM uploads u CROSS JOIN LATERAL upload_bytes(u) b
GROUP BY 1
HAVING sum(b.confirmed) <> 0 OR sum(b.pending) <> 0;
