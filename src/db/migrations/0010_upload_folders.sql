-- An upload may name the folder its file goes to: confirming it also makes version 1 of a file there,
-- and the upload then names that file. A folder deleted before the upload is confirmed leaves the
-- file at the root rather than refusing the delete for a transfer still in flight.
ALTER TABLE uploads
  ADD COLUMN folder_id uuid REFERENCES folders(id) ON DELETE SET NULL,
  ADD COLUMN file_id   uuid REFERENCES files(id) ON DELETE SET NULL;
