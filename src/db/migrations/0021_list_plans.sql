-- Plans that bench/scale.ts found wrong at 1M rows per org (issue 13): each list below is again a few
-- index probes or one index range, whatever the size of the org, of the parent, or of another org.

-- readings?file_id asks which uploads a file's versions hold. A file edited 200k times (metadata edits
-- keep one upload) had all its versions read to answer "one upload". With this index the answer is a
-- skip scan, one probe per distinct upload (readings/repo.ts, uploadsOfFile).
CREATE INDEX file_versions_file_upload_idx ON file_versions (file_id, upload_id);

-- `q` on the parts and files lists: the trigram indexes covered every org, so a term common in another
-- org made a small org's search read all of that org's matches (126k at 1M rows) to keep its own few.
-- With org_id as the index's first column (a btree_gin operator class) an org's search reads the
-- org's posting lists only: GIN intersects them with the trigrams' and skips the rest.
-- btree_gin is a trusted extension (PostgreSQL 13+), shipped with pg_trgm in contrib: the database's
-- owner may create it.
-- The indexes keep their names (0012, 0018): each is replaced by its org-led form.
CREATE EXTENSION IF NOT EXISTS btree_gin;
DROP INDEX parts_search_idx;
CREATE INDEX parts_search_idx ON parts USING gin (org_id, part_number gin_trgm_ops, description gin_trgm_ops);
DROP INDEX files_search_idx;
CREATE INDEX files_search_idx ON files USING gin (org_id, filename gin_trgm_ops, label gin_trgm_ops);
