-- Liveness of the processes that serve the API: each keeps its row's heartbeat fresh while it runs. An
-- in-flight Idempotency-Key record names the process running its first request, so a retry on another
-- process can tell a request still running (its owner heartbeats) from one whose process died mid-way.
CREATE TABLE process_leases (
  id            text PRIMARY KEY,
  started_at    timestamptz NOT NULL DEFAULT now(),
  heartbeat_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX process_leases_heartbeat_idx ON process_leases (heartbeat_at);

-- Null for records written before this migration: they keep the old rule (abandoned after 300 s).
ALTER TABLE idempotency_keys ADD COLUMN owner_id text;
