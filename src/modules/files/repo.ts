import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import { type Keyset, type Page, keysetPage, newestFirst, pageEnd } from '../../db/keyset.js';
import { SEARCH_COUNT_CAP, cappedCount, countedRows } from '../../db/list-counts.js';
import type { FileRow, FileVersionRow, FileTable } from '../../db/schema.js';
import type { VersionRecord } from './cid.js';
import type { Insertable, Updateable } from 'kysely';
import type { PendingContent } from './pending.js';

/** `%` and `_` in a search term are literal characters, not patterns. */
const likeTerm = (q: string) => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** A new version, and what moving the tip to it changes on the file row. */
export interface TipWrite {
  file_id: string;
  ver: number;
  org_id: string;
  cid: string;
  prev_cid: string | null;
  ts: number;
  edited_by: VersionRecord['edited_by'];
  note: string | null;
  properties: VersionRecord['properties'];
  relationships: VersionRecord['relationships'];
  folder_id: string | null;
  upload_id: string;
  filename: string;
  label: string;
  /** The awaited content arrived (or was replaced by other content): nothing is awaited any more. */
  clear_pending: boolean;
}

/** A version row as to_jsonb renders it: bigint as a number, timestamps as text. */
type TipJson = Omit<FileVersionRow, 'ts' | 'created_at'> & { ts: number; created_at: string };

/** The tip version joined as `v`, as one column: the file's own columns keep their names. */
const TIP_JSON = sql<TipJson | null>`CASE WHEN v.file_id IS NULL THEN NULL ELSE to_jsonb(v) END`.as('tip');

function withTip({ tip, ...file }: FileRow & { tip: TipJson | null }): FileWithTip {
  return { file, tip: tip && { ...tip, ts: String(tip.ts), created_at: new Date(tip.created_at) } };
}

/** A file with its tip version, when it has one. */
export interface FileWithTip {
  file: FileRow;
  tip: FileVersionRow | null;
}

/** The files list's order: newest first (files_list_idx, files_folder_idx). */
export const FILES_KEYSET = newestFirst('files', 'files');
/** A file's versions, newest first: `ver` is unique within the file. */
export const VERSIONS_KEYSET: Keyset = { tag: 'file_versions', direction: 'desc', columns: [{ ref: 'ver', kind: 'integer' }] };

export const filesRepo = {
  async insert(db: Executor, row: Insertable<FileTable>): Promise<FileRow> {
    return db.insertInto('files').values(row).returningAll().executeTakeFirstOrThrow();
  },

  update(db: Executor, id: string, changes: Omit<Updateable<FileTable>, 'id' | 'org_id' | 'created_at'>) {
    return db
      .updateTable('files')
      .set({ ...changes, updated_at: sql`now()` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  },

  /**
   * Compare-and-swap of tips in one statement: each file moves to its new version only while its tip
   * is still the version's `prev_cid` and it is not in the trash, and a version is written only for a
   * file that moved. Of concurrent writers on one tip, the first to update the row wins; the others
   * re-check the moved row and match nothing. One result per write: undefined where the tip had moved.
   * No two writes may name one file (StatementBatcher's key keeps them apart).
   */
  async advanceTips(db: Executor, writes: TipWrite[]): Promise<(FileVersionRow | undefined)[]> {
    const { rows } = await sql<FileVersionRow>`
      WITH input AS (
        SELECT * FROM jsonb_to_recordset(${JSON.stringify(writes)}::jsonb) AS w(
          file_id uuid, ver integer, org_id uuid, cid text, prev_cid text, ts bigint, edited_by jsonb, note text,
          properties jsonb, relationships jsonb, folder_id uuid, upload_id uuid, filename text, label text, clear_pending boolean)
      ), moved AS (
        UPDATE files f
           SET ver = i.ver, cid = i.cid, status = 'ready', filename = i.filename, label = i.label, folder_id = i.folder_id,
               pending_content = CASE WHEN i.clear_pending THEN NULL ELSE f.pending_content END, updated_at = now()
          FROM input i
         WHERE f.id = i.file_id AND f.cid IS NOT DISTINCT FROM i.prev_cid AND f.deleted_at IS NULL
        RETURNING f.id)
      INSERT INTO file_versions (file_id, ver, org_id, cid, prev_cid, ts, edited_by, note, properties, relationships, folder_id, upload_id)
      SELECT i.file_id, i.ver, i.org_id, i.cid, i.prev_cid, i.ts, i.edited_by, i.note, i.properties, i.relationships, i.folder_id, i.upload_id
        FROM input i JOIN moved m ON m.id = i.file_id
      RETURNING *`.execute(db);
    const byFile = new Map(rows.map((row) => [row.file_id, row]));
    return writes.map((w) => byFile.get(w.file_id));
  },

  /** Files with their tip versions, in one query, whatever their orgs: the caller checks the org of each. */
  async findManyWithTip(db: Executor, ids: string[]): Promise<FileWithTip[]> {
    const rows = await db
      .selectFrom('files')
      .leftJoin('file_versions as v', (join) => join.onRef('v.file_id', '=', 'files.id').onRef('v.ver', '=', 'files.ver'))
      .selectAll('files')
      .select(TIP_JSON)
      .where('files.id', '=', sql<string>`ANY(${ids}::uuid[])`)
      .execute();
    return rows.map(withTip);
  },

  /** Declares the content the file awaits next, only while its tip is still the one the writer read. */
  awaitContent(db: Executor, file: FileRow, next: PendingContent) {
    return db
      .updateTable('files')
      .set({ pending_content: JSON.stringify(next), updated_at: sql`now()` })
      .where('id', '=', file.id)
      .where(sql<boolean>`cid IS NOT DISTINCT FROM ${file.cid}::text`)
      .where('deleted_at', 'is', null)
      .returningAll()
      .executeTakeFirst();
  },

  version(db: Executor, fileId: string, ver: number) {
    return db.selectFrom('file_versions').selectAll().where('file_id', '=', fileId).where('ver', '=', ver).executeTakeFirst();
  },

  /** Newest first, down the primary key; the file's `ver` is their count, so no count query is needed. */
  async versions(db: Executor, fileId: string, page: Page) {
    const query = db.selectFrom('file_versions').selectAll().where('file_id', '=', fileId);
    const rows = await keysetPage(query, VERSIONS_KEYSET, page).execute();
    return pageEnd(VERSIONS_KEYSET, rows, page.limit);
  },

  async list(db: Executor, orgId: string, options: { q?: string; folderId?: string; includeDeleted: boolean } & Page) {
    let base = db.selectFrom('files').where('files.org_id', '=', orgId);
    if (!options.includeDeleted) base = base.where('files.deleted_at', 'is', null);
    if (options.folderId) base = base.where('files.folder_id', '=', options.folderId);
    if (options.q) {
      const term = likeTerm(options.q);
      base = base.where((eb) => eb.or([eb('files.filename', 'ilike', term), eb('files.label', 'ilike', term)]));
    }
    const page = keysetPage(base.selectAll('files'), FILES_KEYSET, options);
    const [rows, count] = await Promise.all([
      // The tips joined to the page only, after the offset: a deep page looks up 50 tips, not offset + 50.
      db
        .selectFrom(page.as('files'))
        .leftJoin('file_versions as v', (join) => join.onRef('v.file_id', '=', 'files.id').onRef('v.ver', '=', 'files.ver'))
        .selectAll('files')
        .select(TIP_JSON)
        .orderBy('files.created_at', 'desc')
        .orderBy('files.id', 'desc')
        .execute(),
      options.q
        ? db
            .selectFrom(
              base
                .select('files.id')
                .limit(SEARCH_COUNT_CAP + 1)
                .as('matches'),
            )
            .select(sql<number>`count(*)::int`.as('n'))
            .executeTakeFirstOrThrow()
            .then(({ n }) => cappedCount(n))
        : countedRows(db, orgId, options.includeDeleted ? 'files' : 'files_live', options.folderId || null).then((n) => ({
            n,
            capped: false,
          })),
    ]);
    const { rows: shown, nextCursor } = pageEnd(FILES_KEYSET, rows, options.limit);
    return { rows: shown.map(withTip), count: count.n, countCapped: count.capped, nextCursor };
  },
};
