-- One GLB preview per confirmed 3D CAD upload, made by the preview job after confirm.
CREATE TABLE previews (
  upload_id       uuid PRIMARY KEY REFERENCES uploads(id) ON DELETE CASCADE,
  org_id          uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ok', 'failed')),
  -- the job that is to decide this preview; a re-requested preview names a newer one
  job_id          uuid NOT NULL,
  -- the GLB; a blob key the sweeper must know, or it would be taken for an orphan
  blob_key        text,
  size_bytes      bigint,
  failure_reason  text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT previews_ok_has_blob CHECK (status <> 'ok' OR blob_key IS NOT NULL)
);
CREATE INDEX previews_blob_key_idx ON previews (blob_key) WHERE blob_key IS NOT NULL;
