-- The folders list's `count` from a counter (list_counts, 0012) rather than a count of the level: kept
-- by count_rows in the same transaction as the folders, whoever writes them (a create, a move, a
-- delete, SQL by hand). A level is scoped by its parent folder's id, the root by the nil uuid.
CREATE FUNCTION folder_count_keys(f folders)
RETURNS TABLE (list text, scope uuid) LANGUAGE sql IMMUTABLE AS $$
  SELECT 'folders'::text, coalesce(f.parent_id, '00000000-0000-0000-0000-000000000000'::uuid)
$$;

CREATE TRIGGER folders_count_insert AFTER INSERT ON folders
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows('folder_count_keys');
CREATE TRIGGER folders_count_update AFTER UPDATE ON folders
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows('folder_count_keys');
CREATE TRIGGER folders_count_delete AFTER DELETE ON folders
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows('folder_count_keys');

-- The folders already there (CREATE TRIGGER above holds writers off until this commits).
INSERT INTO list_counts (org_id, list, scope, shard, n)
SELECT f.org_id, k.list, k.scope, 0, count(*)
FROM folders f CROSS JOIN LATERAL folder_count_keys(f) k
GROUP BY 1, 2, 3;

-- Every list pages by keyset as well as by offset (a `cursor`: the rows after the last one shown, as a
-- row comparison on the list's order), and each list's order has an index whose leading columns are the
-- list's equality filters and whose last ones its ORDER BY, so a page is one index range at any depth.
-- All but one were there. The root level of the folder tree was not: `parent_id IS NULL` bounds an index
-- scan but, unlike `parent_id = $1`, does not fix the column for ordering, so folders_children_idx
-- (org_id, parent_id, name, id) gave the root's folders unordered and every page sorted them all.
CREATE INDEX folders_root_idx ON folders (org_id, name, id) WHERE parent_id IS NULL;
