-- The parts, revisions and datasets lists answer `count` from counters (list_counts, 0012) rather than a
-- scan: kept by count_rows in the same transaction as the rows, whoever writes them — the API, a part's
-- delete cascading to its revisions and their links, SQL by hand.

-- The counters one part is in: every part of the org, and those of its classification (scoped by the
-- classification's id, as a folder's files are by the folder's).
CREATE FUNCTION part_count_keys(p parts)
RETURNS TABLE (list text, scope uuid) LANGUAGE sql IMMUTABLE AS $$
  SELECT k.list, k.scope FROM (VALUES
    ('parts', '00000000-0000-0000-0000-000000000000'::uuid),
    ('parts:classification', p.classification_id)
  ) AS k(list, scope)
  WHERE k.scope IS NOT NULL
$$;

-- A revisions list is one part's: its counter is scoped by the part.
CREATE FUNCTION part_revision_count_keys(r part_revisions)
RETURNS TABLE (list text, scope uuid) LANGUAGE sql IMMUTABLE AS $$
  SELECT 'part_revisions'::text, r.part_id
$$;

-- A datasets list is one revision's: all its links (include_inactive=true), and the active ones (the default).
CREATE FUNCTION dataset_link_count_keys(l dataset_links)
RETURNS TABLE (list text, scope uuid) LANGUAGE sql IMMUTABLE AS $$
  SELECT k.list, l.part_revision_id FROM (VALUES
    ('dataset_links'),
    (CASE WHEN l.is_active THEN 'dataset_links:active' END)
  ) AS k(list)
  WHERE k.list IS NOT NULL
$$;

CREATE TRIGGER parts_count_insert AFTER INSERT ON parts
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows('part_count_keys');
CREATE TRIGGER parts_count_update AFTER UPDATE ON parts
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows('part_count_keys');
CREATE TRIGGER parts_count_delete AFTER DELETE ON parts
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows('part_count_keys');

CREATE TRIGGER part_revisions_count_insert AFTER INSERT ON part_revisions
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows('part_revision_count_keys');
CREATE TRIGGER part_revisions_count_update AFTER UPDATE ON part_revisions
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows('part_revision_count_keys');
CREATE TRIGGER part_revisions_count_delete AFTER DELETE ON part_revisions
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows('part_revision_count_keys');

CREATE TRIGGER dataset_links_count_insert AFTER INSERT ON dataset_links
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows('dataset_link_count_keys');
CREATE TRIGGER dataset_links_count_update AFTER UPDATE ON dataset_links
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows('dataset_link_count_keys');
CREATE TRIGGER dataset_links_count_delete AFTER DELETE ON dataset_links
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows('dataset_link_count_keys');

-- The rows already there (CREATE TRIGGER above holds writers off until this commits).
INSERT INTO list_counts (org_id, list, scope, shard, n)
SELECT p.org_id, k.list, k.scope, 0, count(*)
FROM parts p CROSS JOIN LATERAL part_count_keys(p) k
GROUP BY 1, 2, 3;
INSERT INTO list_counts (org_id, list, scope, shard, n)
SELECT r.org_id, k.list, k.scope, 0, count(*)
FROM part_revisions r CROSS JOIN LATERAL part_revision_count_keys(r) k
GROUP BY 1, 2, 3;
INSERT INTO list_counts (org_id, list, scope, shard, n)
SELECT l.org_id, k.list, k.scope, 0, count(*)
FROM dataset_links l CROSS JOIN LATERAL dataset_link_count_keys(l) k
GROUP BY 1, 2, 3;

-- A classification filter walks its own slice of the org, newest first, and stops at the page; the
-- index it replaces found the slice but left it to be sorted whole.
CREATE INDEX parts_org_classification_created_idx ON parts (org_id, classification_id, created_at DESC, id DESC)
  WHERE classification_id IS NOT NULL;
DROP INDEX parts_org_classification_idx;

-- `q` on the parts list: a substring of the part number or description, found through trigrams (pg_trgm,
-- created by 0012) rather than by reading the org. No counter knows a search's size: it is counted here.
CREATE INDEX parts_search_idx ON parts USING gin (part_number gin_trgm_ops, description gin_trgm_ops);

-- The default datasets list (active links only) walks the revision's active links without stepping over
-- the superseded history; include_inactive walks dataset_links_revision_created_idx.
CREATE INDEX dataset_links_revision_active_created_idx ON dataset_links (part_revision_id, created_at DESC, id DESC)
  WHERE is_active;
