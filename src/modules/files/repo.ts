import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import type { FileRow, FileVersionRow, FileTable, FileVersionTable } from '../../db/schema.js';
import type { Insertable, Updateable } from 'kysely';

/** `%` and `_` in a search term are literal characters, not patterns. */
const likeTerm = (q: string) => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** A file with its tip version, when it has one. */
export interface FileWithTip {
  file: FileRow;
  tip: FileVersionRow | null;
}

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

  insertVersion(db: Executor, row: Insertable<FileVersionTable>) {
    return db.insertInto('file_versions').values(row).returningAll().executeTakeFirstOrThrow();
  },

  version(db: Executor, fileId: string, ver: number) {
    return db.selectFrom('file_versions').selectAll().where('file_id', '=', fileId).where('ver', '=', ver).executeTakeFirst();
  },

  /** Newest first; the file's `ver` is their count, so no count query is needed. */
  versions(db: Executor, fileId: string, page: { limit: number; offset: number }) {
    return db
      .selectFrom('file_versions')
      .selectAll()
      .where('file_id', '=', fileId)
      .orderBy('ver', 'desc')
      .limit(page.limit)
      .offset(page.offset)
      .execute();
  },

  async list(
    db: Executor,
    orgId: string,
    options: { q?: string; folderId?: string; includeDeleted: boolean; limit: number; offset: number },
  ) {
    let base = db.selectFrom('files').where('files.org_id', '=', orgId);
    if (!options.includeDeleted) base = base.where('files.deleted_at', 'is', null);
    if (options.folderId) base = base.where('files.folder_id', '=', options.folderId);
    if (options.q) {
      const term = likeTerm(options.q);
      base = base.where((eb) => eb.or([eb('files.filename', 'ilike', term), eb('files.label', 'ilike', term)]));
    }
    const [files, total] = await Promise.all([
      base
        .selectAll('files')
        .orderBy('files.created_at', 'desc')
        .orderBy('files.id', 'desc')
        .limit(options.limit)
        .offset(options.offset)
        .execute(),
      base.select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow(),
    ]);
    const ready = files.filter((f) => f.ver > 0);
    const tips = ready.length
      ? await db
          .selectFrom('file_versions')
          .selectAll()
          .where(({ eb, refTuple, tuple }) =>
            eb(
              refTuple('file_id', 'ver'),
              'in',
              ready.map((f) => tuple(f.id, f.ver)),
            ),
          )
          .execute()
      : [];
    const byFile = new Map(tips.map((tip) => [tip.file_id, tip]));
    return { rows: files.map((file) => ({ file, tip: byFile.get(file.id) ?? null })), count: total.n };
  },
};
