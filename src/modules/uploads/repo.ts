import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import type { Updateable } from 'kysely';
import type { NewUpload, UploadStatus, UploadTable } from '../../db/schema.js';

export const uploadsRepo = {
  /** Inserts without reading the rows back: the caller already holds every value it wrote. */
  async insert(db: Executor, rows: NewUpload[]): Promise<void> {
    await db.insertInto('uploads').values(rows).execute();
  },

  /** Confirmed uploads of the org holding any of these sha256s: what a new upload may share instead of storing again. */
  findConfirmedByContent(db: Executor, orgId: string, sha256s: string[]) {
    return (
      db
        .selectFrom('uploads')
        .select(['sha256', 'blob_key', 'size_bytes', 'detected_content_type'])
        .where('org_id', '=', orgId)
        .where('status', '=', 'confirmed')
        // Bytes in the trash are not shared anew: a new upload would otherwise hold them past their purge date.
        .where('deleted_at', 'is', null)
        .where('sha256', 'in', sha256s)
        .execute()
    );
  },

  find(db: Executor, orgId: string, id: string) {
    return db.selectFrom('uploads').selectAll().where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
  },

  /** The upload a blob key was made for: the first row naming it (later ones share it by deduplication). */
  findOwnerOfBlob(db: Executor, blobKey: string) {
    return db
      .selectFrom('uploads')
      .select(['id', 'status', 'failure_reason', 'blob_purged_at', 'expires_at'])
      .where('blob_key', '=', blobKey)
      .orderBy('created_at')
      .limit(1)
      .executeTakeFirst();
  },

  /** Locks the row for the rest of the transaction: state changes are decided on what this returns. */
  findForUpdate(db: Executor, orgId: string | null, id: string) {
    let query = db.selectFrom('uploads').selectAll().where('id', '=', id);
    if (orgId) query = query.where('org_id', '=', orgId);
    return query.forUpdate().executeTakeFirst();
  },

  async list(
    db: Executor,
    orgId: string,
    options: { includeCancelled: boolean; includeDeleted: boolean; status?: UploadStatus; limit: number; offset: number },
  ) {
    let base = db.selectFrom('uploads').where('org_id', '=', orgId);
    if (!options.includeDeleted) base = base.where('deleted_at', 'is', null);
    if (options.status) base = base.where('status', '=', options.status);
    else if (!options.includeCancelled) base = base.where('status', '!=', 'cancelled');
    const [rows, total] = await Promise.all([
      base.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(options.limit).offset(options.offset).execute(),
      base.select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow(),
    ]);
    return { rows, count: total.n };
  },

  update(db: Executor, id: string, changes: Omit<Updateable<UploadTable>, 'id' | 'org_id' | 'created_at'>) {
    return db
      .updateTable('uploads')
      .set({ ...changes, updated_at: sql`now()` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  },

  summary(db: Executor, orgId: string) {
    return db
      .selectFrom('uploads')
      .where('org_id', '=', orgId)
      .select([
        'status',
        sql<string>`coalesce(detected_content_type, content_type, 'unknown')`.as('content_type'),
        sql<number>`count(*)::int`.as('n'),
        sql<string>`coalesce(sum(size_bytes), 0)::text`.as('bytes'),
      ])
      .groupBy(['status', sql`2`])
      .execute();
  },
};
