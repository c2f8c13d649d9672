import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import { type Keyset, type Page, keysetPage, pageEnd } from '../../db/keyset.js';
import { WHOLE_ORG, countedRows } from '../../db/list-counts.js';

/** Any two-int4 advisory lock of this class belongs to the folder tree of one org (hashtext of its id). */
const FOLDER_TREE_LOCK = 7_240_519;
/** A walk up or down the tree stops here even if the data held a cycle, which moves refuse to make. */
const WALK_GUARD = 1_000;
/** Rows counted when telling why a folder is not empty: enough to say what is in it, bounded on a huge folder. */
export const COUNT_CAP = 1_000;

export interface Ancestry {
  /** `/a/b`: the names from the root down to the folder. */
  path: string;
  /** 1 for a folder at the root. */
  depth: number;
  /** The folder itself and every folder above it. */
  ids: string[];
}

/** A level of the tree by name, then id (folders_children_idx). */
export const FOLDERS_KEYSET: Keyset = {
  tag: 'folders',
  direction: 'asc',
  columns: [
    { ref: 'name', kind: 'text' },
    { ref: 'id', kind: 'uuid' },
  ],
};

export const folderRepo = {
  /**
   * The org's folder tree holds still for the rest of the transaction: `exclusive` for a move (which
   * decides on cycles and depths below and above it), shared for a create (which decides on depth).
   */
  async lockTree(db: Executor, orgId: string, mode: 'shared' | 'exclusive'): Promise<void> {
    if (mode === 'exclusive') await sql`SELECT pg_advisory_xact_lock(${FOLDER_TREE_LOCK}, hashtext(${orgId}))`.execute(db);
    else await sql`SELECT pg_advisory_xact_lock_shared(${FOLDER_TREE_LOCK}, hashtext(${orgId}))`.execute(db);
  },

  insert(db: Executor, row: { id: string; org_id: string; parent_id: string | null; name: string }) {
    return db
      .insertInto('folders')
      .values({ ...row, updated_at: sql`now()` })
      .returningAll()
      .executeTakeFirstOrThrow();
  },

  /** The folder named so directly under `parentId` (the root when null), if any. */
  findSibling(db: Executor, orgId: string, parentId: string | null, name: string) {
    return db
      .selectFrom('folders')
      .select('id')
      .where('org_id', '=', orgId)
      .where('parent_id', parentId === null ? 'is' : '=', parentId)
      .where('name', '=', name)
      .executeTakeFirst();
  },

  /** Walks from the folder up to the root (at most the depth limit's worth of rows, by primary key). */
  async ancestry(db: Executor, orgId: string, id: string): Promise<Ancestry | undefined> {
    const { rows } = await sql<{ path: string | null; depth: number | null; ids: string[] | null }>`
      WITH RECURSIVE up AS (
        SELECT id, parent_id, name, 1 AS depth FROM folders WHERE org_id = ${orgId} AND id = ${id}
        UNION ALL
        SELECT f.id, f.parent_id, f.name, up.depth + 1
          FROM folders f JOIN up ON f.id = up.parent_id
         WHERE f.org_id = ${orgId} AND up.depth < ${WALK_GUARD}
      )
      SELECT '/' || string_agg(name, '/' ORDER BY depth DESC) AS path,
             max(depth)::int AS depth,
             array_agg(id::text) AS ids
        FROM up`.execute(db);
    const row = rows[0];
    if (!row?.path || row.depth === null || !row.ids) return undefined;
    return { path: row.path, depth: row.depth, ids: row.ids };
  },

  /** How many levels the folder and everything under it span: 1 for an empty folder. Stops past `atMost`. */
  async height(db: Executor, orgId: string, id: string, atMost: number): Promise<number> {
    const { rows } = await sql<{ height: number }>`
      WITH RECURSIVE down AS (
        SELECT id, 1 AS depth FROM folders WHERE org_id = ${orgId} AND id = ${id}
        UNION ALL
        SELECT f.id, down.depth + 1
          FROM folders f JOIN down ON f.parent_id = down.id
         WHERE f.org_id = ${orgId} AND down.depth <= ${atMost}
      )
      SELECT coalesce(max(depth), 0)::int AS height FROM down`.execute(db);
    return rows[0].height;
  },

  /**
   * One page of the folders directly under `parentId` (the root when null), by name then id:
   * folders_children_idx. The count is the level's counter (migration 0019), scoped by the parent.
   */
  async listChildren(db: Executor, orgId: string, parentId: string | null, page: Page) {
    const query = db
      .selectFrom('folders')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('parent_id', parentId === null ? 'is' : '=', parentId);
    const [rows, count] = await Promise.all([
      keysetPage(query, FOLDERS_KEYSET, page).execute(),
      countedRows(db, orgId, 'folders', parentId ?? WHOLE_ORG),
    ]);
    return { ...pageEnd(FOLDERS_KEYSET, rows, page.limit), count };
  },

  update(db: Executor, orgId: string, id: string, changes: { name?: string; parent_id?: string | null }) {
    return db
      .updateTable('folders')
      .set({ ...changes, updated_at: sql`now()` })
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  },

  /** What keeps a folder from being deleted, each count stopping at COUNT_CAP. Trashed files still point here. */
  async contents(db: Executor, orgId: string, id: string) {
    const { rows } = await sql<{ folders: number; files: number; trashed_files: number }>`
      SELECT
        (SELECT count(*)::int FROM (SELECT 1 FROM folders WHERE org_id = ${orgId} AND parent_id = ${id} LIMIT ${COUNT_CAP}) c) AS folders,
        (SELECT count(*)::int FROM (SELECT 1 FROM files WHERE org_id = ${orgId} AND folder_id = ${id} AND deleted_at IS NULL LIMIT ${COUNT_CAP}) l) AS files,
        (SELECT count(*)::int FROM (SELECT 1 FROM files WHERE org_id = ${orgId} AND folder_id = ${id} AND deleted_at IS NOT NULL LIMIT ${COUNT_CAP}) t) AS trashed_files
    `.execute(db);
    return rows[0];
  },

  async delete(db: Executor, orgId: string, id: string): Promise<boolean> {
    const result = await db.deleteFrom('folders').where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
    return result.numDeletedRows > 0n;
  },
};
