-- Direct multipart uploads: the storage-side upload id while parts are arriving, and the part layout
-- promised to the client. multipart_upload_id is cleared once the parts are assembled.
ALTER TABLE uploads
  ADD COLUMN multipart_upload_id text,
  ADD COLUMN part_size bigint CHECK (part_size > 0),
  ADD COLUMN part_count integer CHECK (part_count BETWEEN 1 AND 10000);
