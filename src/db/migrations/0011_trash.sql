-- Trash: a deleted upload or file keeps its row (and its bytes) until the retention period ends, so
-- it can be recovered; the sweeper purges it then. These indexes find what is due without a scan.
ALTER TABLE uploads ADD COLUMN deleted_at timestamptz;
CREATE INDEX uploads_trash_idx ON uploads (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX files_trash_idx ON files (deleted_at) WHERE deleted_at IS NOT NULL;
-- Which uploads a file was made from: purging the file purges those no other row still uses.
CREATE INDEX uploads_file_idx ON uploads (file_id) WHERE file_id IS NOT NULL;
