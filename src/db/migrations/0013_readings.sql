-- Readings: what the processing job found in a confirmed upload's bytes (reference 004), kept beside
-- it, with a person's correction kept apart from what was extracted. One reading per upload; file
-- versions that share an upload share its reading.
CREATE TABLE readings (
  id              uuid PRIMARY KEY,
  org_id          uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  upload_id       uuid NOT NULL UNIQUE REFERENCES uploads(id) ON DELETE CASCADE,
  kind            text NOT NULL CHECK (kind IN ('pdf', 'csv', 'json', 'jsonl', 'image', 'text', 'cad', 'unsupported')),
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ready', 'failed')),
  -- the job that is to decide this reading; a re-triggered reading names a newer one
  job_id          uuid NOT NULL,
  content         jsonb,
  edited_content  jsonb,
  -- why it failed: {reason, message}
  error           jsonb,
  -- a small image of the content; a blob key the sweeper must know, or it would be taken for an orphan
  thumbnail_key   text,
  thumbnail_type  text,
  thumbnail_size  bigint,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT readings_failed_has_error CHECK ((status = 'failed') = (error IS NOT NULL))
);
CREATE INDEX readings_list_idx ON readings (org_id, created_at DESC, id DESC);
CREATE INDEX readings_kind_idx ON readings (org_id, kind, created_at DESC, id DESC);
CREATE INDEX readings_status_idx ON readings (org_id, status, created_at DESC, id DESC);
CREATE INDEX readings_thumbnail_idx ON readings (thumbnail_key) WHERE thumbnail_key IS NOT NULL;

-- The text of readings for full-text search, in pieces: a tsvector cannot exceed 1 MiB, and a long
-- document indexed whole would either fail to insert or lose its end. A piece is a PDF page or a
-- stretch of text of at most 64 KiB.
CREATE TABLE reading_chunks (
  reading_id  uuid NOT NULL REFERENCES readings(id) ON DELETE CASCADE,
  chunk       integer NOT NULL,
  org_id      uuid NOT NULL,
  upload_id   uuid NOT NULL,
  body        text NOT NULL,
  tsv         tsvector NOT NULL GENERATED ALWAYS AS (to_tsvector('english', body)) STORED,
  PRIMARY KEY (reading_id, chunk)
);
CREATE INDEX reading_chunks_search_idx ON reading_chunks USING gin (tsv);
-- The planner takes most words for common here and plans a parallel scan: starting its workers cost
-- 20–60 ms for a scan of under 1 ms (measured at 1M pieces). Searches are short: no workers.
ALTER TABLE reading_chunks SET (parallel_workers = 0);

-- Names, for the same search: the words of an upload's name and of a file's filename and label. The
-- text parser takes "gearbox-report.txt" for one file-name token; punctuation inside a name parts
-- words here, in names and in the words searched for alike.
CREATE FUNCTION name_words(name text) RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT to_tsvector('simple', regexp_replace(name, '[[:punct:]]+', ' ', 'g'))
$$;
CREATE FUNCTION name_query(q text) RETURNS tsquery LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT websearch_to_tsquery('simple', regexp_replace(q, '(\w)[[:punct:]]+(?=\w)', '\1 ', 'g'))
$$;
-- Stored, not an index expression: a search rechecks and ranks its candidates on the row, and
-- recomputing the words there (a regexp and a parse per row) cost ~30 ms per 500 candidates at 1M rows.
ALTER TABLE uploads ADD COLUMN name_tsv tsvector GENERATED ALWAYS AS (name_words(name)) STORED;
ALTER TABLE files ADD COLUMN name_tsv tsvector GENERATED ALWAYS AS (name_words(filename || ' ' || label)) STORED;
CREATE INDEX uploads_name_search_idx ON uploads USING gin (name_tsv);
CREATE INDEX files_name_search_idx ON files USING gin (name_tsv);

-- Readings are counted as files are (migration 0012): per org, by kind, by status, and by both.
CREATE FUNCTION reading_count_keys(r readings)
RETURNS TABLE (list text, scope uuid) LANGUAGE sql IMMUTABLE AS $$
  VALUES ('readings', '00000000-0000-0000-0000-000000000000'::uuid),
         ('readings:kind:' || r.kind, '00000000-0000-0000-0000-000000000000'::uuid),
         ('readings:status:' || r.status, '00000000-0000-0000-0000-000000000000'::uuid),
         ('readings:kind:' || r.kind || ':status:' || r.status, '00000000-0000-0000-0000-000000000000'::uuid)
$$;
CREATE TRIGGER readings_count_insert AFTER INSERT ON readings
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows('reading_count_keys');
CREATE TRIGGER readings_count_update AFTER UPDATE ON readings
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows('reading_count_keys');
CREATE TRIGGER readings_count_delete AFTER DELETE ON readings
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows('reading_count_keys');
