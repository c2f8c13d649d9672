-- Uploads made through the tus protocol (/api/v1/tus): the upload row is the upload, this row holds
-- what tus adds to it. upload_offset counts the bytes held in storage: the multipart upload's full
-- parts plus the tail, the bytes past the last full part kept as a blob of their own (tail_key) until
-- the next PATCH completes the part. A PATCH writes only while it holds the writer lease (writer,
-- writer_until), taken where upload_offset is the offset it names: two PATCHes racing on any
-- processes of a cluster cannot both write, and a writer that died frees the upload when its lease
-- runs out. upload_metadata is the Upload-Metadata header as the client sent it, for HEAD.
CREATE TABLE tus_uploads (
  upload_id        uuid PRIMARY KEY REFERENCES uploads(id) ON DELETE CASCADE,
  upload_offset    bigint NOT NULL DEFAULT 0 CHECK (upload_offset >= 0),
  upload_metadata  text,
  tail_key         text,
  writer           uuid,
  writer_until     timestamptz
);
-- The sweeper asks which of the blobs it walks are tails of uploads still in progress.
CREATE INDEX tus_uploads_tail_idx ON tus_uploads (tail_key) WHERE tail_key IS NOT NULL;
