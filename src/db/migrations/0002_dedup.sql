-- Deduplicated uploads share a confirmed upload's blob instead of moving bytes again.
ALTER TABLE uploads ADD COLUMN deduplicated boolean NOT NULL DEFAULT false;
-- Finds a confirmed blob by content within an org: the dedup lookup.
CREATE INDEX uploads_org_sha256_confirmed_idx ON uploads (org_id, sha256) WHERE status = 'confirmed';
