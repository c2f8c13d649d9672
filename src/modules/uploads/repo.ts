import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import { type Page, keysetPage, newestFirst, pageEnd } from '../../db/keyset.js';
import { WHOLE_ORG, countedRows } from '../../db/list-counts.js';
import type { Updateable } from 'kysely';
import type { NewUpload, UploadStatus, UploadTable } from '../../db/schema.js';

/** The uploads list's order: newest first (uploads_org_created_idx, uploads_org_status_created_idx). */
export const UPLOADS_KEYSET = newestFirst('uploads');

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

  async list(db: Executor, orgId: string, options: { includeCancelled: boolean; includeDeleted: boolean; status?: UploadStatus } & Page) {
    let base = db.selectFrom('uploads').where('org_id', '=', orgId);
    if (!options.includeDeleted) base = base.where('deleted_at', 'is', null);
    if (options.status) base = base.where('status', '=', options.status);
    else if (!options.includeCancelled) base = base.where('status', '!=', 'cancelled');
    const [rows, count] = await Promise.all([
      keysetPage(base.selectAll(), UPLOADS_KEYSET, options).execute(),
      countedRows(db, orgId, uploadListCounter(options)),
    ]);
    return { ...pageEnd(UPLOADS_KEYSET, rows, options.limit), count };
  },

  update(db: Executor, id: string, changes: Omit<Updateable<UploadTable>, 'id' | 'org_id' | 'created_at'>) {
    return db
      .updateTable('uploads')
      .set({ ...changes, updated_at: sql`now()` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  },

  /** The org's counts and bytes, by status, from the counters of migration 0017: a few index reads, never a scan. */
  async summary(db: Executor, orgId: string) {
    const [totals, types] = await Promise.all([
      db
        .selectFrom('list_counts')
        .select(['list', sql<string>`sum(n)::text`.as('n')])
        .where('org_id', '=', orgId)
        .where('list', 'in', SUMMARY_COUNTERS)
        .where('scope', '=', WHOLE_ORG)
        .groupBy('list')
        .execute(),
      db
        .selectFrom('list_counts')
        .select([sql<string>`substr(list, ${TYPE_PREFIX.length + 1})`.as('content_type'), sql<string>`sum(n)::text`.as('n')])
        .where('org_id', '=', orgId)
        // Spelled as the partial index list_counts_upload_types_idx is, so the planner can use it.
        .where(sql<boolean>`list LIKE 'uploads:type:%'`)
        .groupBy('list')
        .having(sql`sum(n)`, '>', 0)
        .orderBy(sql`sum(n)`, 'desc')
        .orderBy('list')
        .limit(SUMMARY_CONTENT_TYPES)
        .execute(),
    ]);
    const counter = new Map(totals.map((t) => [t.list, Number(t.n)]));
    const byStatus = Object.fromEntries(UPLOAD_STATUSES.map((s) => [s, counter.get(`uploads:status:${s}`) ?? 0])) as Record<
      UploadStatus,
      number
    >;
    return {
      totalCount: counter.get('uploads') ?? 0,
      totalBytes: counter.get('uploads:bytes') ?? 0,
      byStatus,
      byContentType: types.map((t) => ({ contentType: t.content_type, n: Number(t.n) })),
    };
  },
};

const UPLOAD_STATUSES: UploadStatus[] = ['pending', 'confirmed', 'failed', 'cancelled'];
const TYPE_PREFIX = 'uploads:type:';
const SUMMARY_COUNTERS = ['uploads', 'uploads:bytes', ...UPLOAD_STATUSES.map((s) => `uploads:status:${s}`)];
/**
 * Content types are whatever clients declare: the summary names this many, the most numerous first, and
 * counts the rest under `other` (a name no MIME type has), so its size does not grow with the org's.
 */
export const SUMMARY_CONTENT_TYPES = 100;

/** The counter (migration 0017) that holds the size of a list with these filters. */
function uploadListCounter(options: { includeCancelled: boolean; includeDeleted: boolean; status?: UploadStatus }): string {
  const slice = options.includeDeleted ? 'uploads' : 'uploads:live';
  if (options.status) return `${slice}:status:${options.status}`;
  return options.includeCancelled ? slice : `${slice}:uncancelled`;
}
