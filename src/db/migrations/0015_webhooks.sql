-- Webhooks: endpoints per org, and an outbox. The events are written by triggers on the tables whose
-- changes they report, so they commit with the change or not at all, whoever makes it (the API, a
-- job, the sweeper, SQL by hand); each event is fanned out at once into one delivery per endpoint
-- listening, and the deliveries table is the queue the dispatcher claims from.

-- A time-ordered uuid (v7) made in SQL, for rows the triggers create.
CREATE FUNCTION uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
  SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
    PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
    52, 1), 53, 1), 'hex')::uuid
$$;

CREATE TABLE webhooks (
  id                          uuid PRIMARY KEY,
  org_id                      uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  url                         text NOT NULL,
  events                      text[] NOT NULL,
  description                 text,
  enabled                     boolean NOT NULL DEFAULT true,
  -- why the service disabled it (410 Gone, failing for days); NULL when a person did, or it is enabled
  disabled_reason             text,
  -- deliveries are signed with it, so it is kept as it is shown, once, at creation
  secret                      text NOT NULL,
  -- the secret before the last rotation, still signed with until it expires, so receivers can switch
  previous_secret             text,
  previous_secret_expires_at  timestamptz,
  -- since when every attempt has failed; a success clears it
  failing_since               timestamptz,
  created_by_key_id           uuid,
  created_at                  timestamptz NOT NULL DEFAULT now(),
  updated_at                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_org_idx ON webhooks (org_id, created_at DESC, id DESC);
-- What the outbox triggers ask on every change: does any endpoint of this org listen?
CREATE INDEX webhooks_listening_idx ON webhooks (org_id) WHERE enabled;

-- No foreign key to orgs: deleting an org cascades into rows whose triggers may write here.
CREATE TABLE webhook_events (
  id          uuid PRIMARY KEY,
  org_id      uuid NOT NULL,
  type        text NOT NULL,
  -- the object the event is about (an upload, a file, a reading, a preview's upload)
  subject_id  uuid NOT NULL,
  -- the how-many-th event about its subject, so receivers can order what arrives in any order
  sequence    bigint NOT NULL,
  data        jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_events_created_idx ON webhook_events (created_at);

-- Per subject, the number of events it has had: kept apart from the events so that it never goes
-- back when old events are removed, and so that two transactions reporting on one subject queue on
-- its row (the later one numbers after the earlier).
CREATE TABLE webhook_event_sequences (
  subject_id  uuid PRIMARY KEY,
  n           bigint NOT NULL
);

CREATE TABLE webhook_deliveries (
  id                uuid PRIMARY KEY,
  org_id            uuid NOT NULL,
  webhook_id        uuid NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
  event_id          uuid NOT NULL REFERENCES webhook_events(id) ON DELETE CASCADE,
  -- pending (due, waiting for a retry, or being sent), succeeded, failed (dead-lettered)
  status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
  attempts          integer NOT NULL DEFAULT 0,
  -- when it is next due; a claim pushes it one lease ahead, so a delivery whose sender died is due again then
  next_attempt_at   timestamptz NOT NULL DEFAULT now(),
  last_attempt_at   timestamptz,
  last_status_code  integer,
  last_error        text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_list_idx ON webhook_deliveries (webhook_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_status_idx ON webhook_deliveries (webhook_id, status, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);
-- A burst of events (thousands in one statement) must reach the planner's statistics soon: with the
-- default thresholds the claim is planned for a handful of due rows and sorts the whole backlog per claim.
ALTER TABLE webhook_deliveries SET (autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 500);

-- The deliveries lists count through list_counts (0012): all of an endpoint's, and per status.
CREATE FUNCTION webhook_delivery_count_keys(d webhook_deliveries)
RETURNS TABLE (list text, scope uuid) LANGUAGE sql IMMUTABLE AS $$
  VALUES ('webhook_deliveries', d.webhook_id), ('webhook_deliveries_' || d.status, d.webhook_id)
$$;
CREATE TRIGGER webhook_deliveries_count_insert AFTER INSERT ON webhook_deliveries
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows('webhook_delivery_count_keys');
CREATE TRIGGER webhook_deliveries_count_update AFTER UPDATE ON webhook_deliveries
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows('webhook_delivery_count_keys');
CREATE TRIGGER webhook_deliveries_count_delete AFTER DELETE ON webhook_deliveries
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows('webhook_delivery_count_keys');

-- What one changed row reports: (type, subject, data) rows, from its old and new versions (either
-- NULL for an insert or a delete). One function per table a trigger below watches.
CREATE FUNCTION upload_webhook_events(o uploads, n uploads)
RETURNS TABLE (type text, subject_id uuid, data jsonb) LANGUAGE sql STABLE AS $$
  SELECT 'upload.' || n.status, n.id, jsonb_build_object(
    'upload_id', n.id, 'name', n.name, 'status', n.status, 'size_bytes', n.size_bytes, 'sha256', n.sha256,
    'content_type', coalesce(n.detected_content_type, n.content_type), 'failure_reason', n.failure_reason,
    'folder_id', n.folder_id, 'deduplicated', n.deduplicated)
  WHERE n.status IN ('confirmed', 'failed') AND n.status IS DISTINCT FROM o.status
$$;

CREATE FUNCTION file_version_webhook_events(o file_versions, n file_versions)
RETURNS TABLE (type text, subject_id uuid, data jsonb) LANGUAGE sql STABLE AS $$
  SELECT 'file.version_created', n.file_id, jsonb_build_object(
    'file_id', n.file_id, 'version', n.ver, 'cid', n.cid, 'prev_cid', n.prev_cid, 'upload_id', n.upload_id,
    'folder_id', n.folder_id)
  WHERE n.file_id IS NOT NULL
$$;

-- Into the trash, or removed while still live; a file purged from the trash was reported when it went there.
CREATE FUNCTION file_webhook_events(o files, n files)
RETURNS TABLE (type text, subject_id uuid, data jsonb) LANGUAGE sql STABLE AS $$
  SELECT 'file.deleted', o.id, jsonb_build_object(
    'file_id', o.id, 'version', o.ver, 'folder_id', o.folder_id, 'permanent', n.id IS NULL)
  WHERE o.deleted_at IS NULL AND (n.id IS NULL OR n.deleted_at IS NOT NULL)
$$;

CREATE FUNCTION reading_webhook_events(o readings, n readings)
RETURNS TABLE (type text, subject_id uuid, data jsonb) LANGUAGE sql STABLE AS $$
  SELECT 'reading.ready', n.id, jsonb_build_object('reading_id', n.id, 'upload_id', n.upload_id, 'kind', n.kind)
  WHERE n.status = 'ready' AND (o.status IS DISTINCT FROM 'ready' OR o.job_id IS DISTINCT FROM n.job_id)
$$;

CREATE FUNCTION preview_webhook_events(o previews, n previews)
RETURNS TABLE (type text, subject_id uuid, data jsonb) LANGUAGE sql STABLE AS $$
  SELECT 'preview.ready', n.upload_id, jsonb_build_object(
    'upload_id', n.upload_id, 'size_bytes', n.size_bytes, 'content_type', 'model/gltf-binary')
  WHERE n.status = 'ok' AND (o.status IS DISTINCT FROM 'ok' OR o.job_id IS DISTINCT FROM n.job_id)
$$;

-- The outbox: one statement's events, written only where an enabled endpoint of the org listens to
-- their type (an org without webhooks pays one index probe per statement), numbered per subject,
-- fanned out into deliveries, and the dispatchers woken when the transaction commits.
-- TG_ARGV: the table's events function, and the column pairing an updated row's old and new versions.
CREATE FUNCTION emit_webhook_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  candidates text;
  delivered bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM webhooks WHERE enabled) THEN
    RETURN NULL;
  END IF;
  candidates := CASE TG_OP
    WHEN 'INSERT' THEN format('SELECT r.org_id, e.* FROM new_rows r, LATERAL %I(NULL::%I, r) e', TG_ARGV[0], TG_TABLE_NAME)
    WHEN 'DELETE' THEN format('SELECT r.org_id, e.* FROM old_rows r, LATERAL %I(r, NULL::%I) e', TG_ARGV[0], TG_TABLE_NAME)
    ELSE format('SELECT r.org_id, e.* FROM new_rows r JOIN old_rows o ON o.%I = r.%I, LATERAL %I(o, r) e',
                TG_ARGV[1], TG_ARGV[1], TG_ARGV[0])
  END;
  EXECUTE format(
    'WITH events AS MATERIALIZED (
       SELECT uuid_v7() AS id, c.org_id, c.type, c.subject_id, c.data,
              row_number() OVER (PARTITION BY c.subject_id) AS nth
       FROM (%s) c
       WHERE EXISTS (SELECT 1 FROM webhooks w WHERE w.org_id = c.org_id AND w.enabled AND c.type = ANY (w.events))
     ),
     numbered AS (
       INSERT INTO webhook_event_sequences AS s (subject_id, n)
       SELECT subject_id, count(*) FROM events GROUP BY subject_id ORDER BY subject_id
       ON CONFLICT (subject_id) DO UPDATE SET n = s.n + EXCLUDED.n
       RETURNING s.subject_id, s.n
     ),
     written AS (
       INSERT INTO webhook_events (id, org_id, type, subject_id, sequence, data)
       SELECT e.id, e.org_id, e.type, e.subject_id, q.n - count(*) OVER (PARTITION BY e.subject_id) + e.nth,
              e.data || jsonb_build_object(''sequence'', q.n - count(*) OVER (PARTITION BY e.subject_id) + e.nth)
       FROM events e JOIN numbered q USING (subject_id)
       RETURNING id, org_id, type
     )
     INSERT INTO webhook_deliveries (id, org_id, webhook_id, event_id)
     SELECT uuid_v7(), w.org_id, w.id, e.id
     FROM written e JOIN webhooks w ON w.org_id = e.org_id AND w.enabled AND e.type = ANY (w.events)', candidates);
  GET DIAGNOSTICS delivered = ROW_COUNT;
  IF delivered > 0 THEN
    -- the workers' wake channel (src/jobs/wake-listener.ts), naming the dispatcher's kind
    PERFORM pg_notify('stowage_jobs', 'webhook-delivery');
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER uploads_webhook_insert AFTER INSERT ON uploads
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION emit_webhook_events('upload_webhook_events', 'id');
CREATE TRIGGER uploads_webhook_update AFTER UPDATE ON uploads
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION emit_webhook_events('upload_webhook_events', 'id');
CREATE TRIGGER file_versions_webhook_insert AFTER INSERT ON file_versions
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION emit_webhook_events('file_version_webhook_events', 'file_id');
CREATE TRIGGER files_webhook_update AFTER UPDATE ON files
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION emit_webhook_events('file_webhook_events', 'id');
CREATE TRIGGER files_webhook_delete AFTER DELETE ON files
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION emit_webhook_events('file_webhook_events', 'id');
CREATE TRIGGER readings_webhook_insert AFTER INSERT ON readings
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION emit_webhook_events('reading_webhook_events', 'id');
CREATE TRIGGER readings_webhook_update AFTER UPDATE ON readings
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION emit_webhook_events('reading_webhook_events', 'id');
CREATE TRIGGER previews_webhook_insert AFTER INSERT ON previews
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION emit_webhook_events('preview_webhook_events', 'upload_id');
CREATE TRIGGER previews_webhook_update AFTER UPDATE ON previews
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION emit_webhook_events('preview_webhook_events', 'upload_id');
