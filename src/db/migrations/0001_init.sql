-- Organisations, API keys, uploads, jobs and idempotency records: the uploads foundation.

CREATE TABLE orgs (
  id          uuid PRIMARY KEY,
  name        text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  id            uuid PRIMARY KEY,
  org_id        uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  prefix        text NOT NULL UNIQUE,
  secret_hash   bytea NOT NULL,
  scopes        text[] NOT NULL,
  label         text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz
);
CREATE INDEX api_keys_org_idx ON api_keys (org_id, created_at DESC);

CREATE TABLE jobs (
  id           uuid PRIMARY KEY,
  org_id       uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  kind         text NOT NULL,
  subject_id   uuid NOT NULL,
  status       text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
  attempts     integer NOT NULL DEFAULT 0,
  error        text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  started_at   timestamptz,
  finished_at  timestamptz
);
CREATE INDEX jobs_subject_idx ON jobs (subject_id);

CREATE TABLE uploads (
  id                     uuid PRIMARY KEY,
  org_id                 uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  name                   text NOT NULL,
  content_type           text,
  declared_size          bigint CHECK (declared_size >= 0),
  declared_sha256        text CHECK (declared_sha256 ~ '^[0-9a-f]{64}$'),
  size_bytes             bigint,
  sha256                 text,
  detected_content_type  text,
  status                 text NOT NULL DEFAULT 'pending'
                           CHECK (status IN ('pending', 'confirmed', 'failed', 'cancelled')),
  failure_reason         text,
  -- not unique: deduplicated uploads share one blob
  blob_key               text NOT NULL,
  confirm_job_id         uuid REFERENCES jobs(id),
  -- no foreign key: it would lock the key's row on every insert, and it is only provenance
  created_by_key_id      uuid,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  confirmed_at           timestamptz,
  -- pending rows past this moment are abandoned; the sweeper fails them as 'expired'
  expires_at             timestamptz NOT NULL
);
CREATE INDEX uploads_org_created_idx ON uploads (org_id, created_at DESC, id DESC);
CREATE INDEX uploads_blob_key_idx ON uploads (blob_key);

CREATE TABLE idempotency_keys (
  org_id           uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  key              text NOT NULL,
  method           text NOT NULL,
  path             text NOT NULL,
  body_hash        text NOT NULL,
  state            text NOT NULL CHECK (state IN ('in_flight', 'done')),
  response_status  integer,
  response_body    text,
  response_type    text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  expires_at       timestamptz NOT NULL,
  PRIMARY KEY (org_id, key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);
