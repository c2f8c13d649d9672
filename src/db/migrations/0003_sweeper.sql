-- What the sweeper needs: when a dead upload's blob was removed, and indexes for its bounded scans.
ALTER TABLE uploads ADD COLUMN blob_purged_at timestamptz;
CREATE INDEX uploads_pending_expiry_idx ON uploads (expires_at) WHERE status = 'pending';
CREATE INDEX uploads_dead_unpurged_idx ON uploads (updated_at)
  WHERE status IN ('cancelled', 'failed') AND blob_purged_at IS NULL;
