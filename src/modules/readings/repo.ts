import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import { type Page, keysetPage, newestFirst, pageEnd } from '../../db/keyset.js';
import { countedRows } from '../../db/list-counts.js';
import type { ReadingRow, ReadingStatus } from '../../db/schema.js';
import type { ReadingKind } from '../../readings/reading.js';

export interface ReadingFilter {
  uploadIds?: string[];
  kind?: ReadingKind;
  status?: ReadingStatus;
}

/** What a decided reading holds. */
export type ReadingVerdict =
  | {
      status: 'ready';
      content: Record<string, unknown>;
      chunks: string[];
      thumbnail: { key: string; contentType: string; size: number } | null;
    }
  | { status: 'failed'; reason: string; message: string };

/** The readings list's order: newest first (readings_list_idx, readings_kind_idx, readings_status_idx). */
export const READINGS_KEYSET = newestFirst('readings');

export const readingsRepo = {
  findByUpload(db: Executor, uploadId: string) {
    return db.selectFrom('readings').selectAll().where('upload_id', '=', uploadId).executeTakeFirst();
  },

  find(db: Executor, orgId: string, id: string) {
    return db.selectFrom('readings').selectAll().where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
  },

  /** Hands the upload's reading to `jobId`: a new reading starts pending, an existing one starts over (its edit kept). */
  async assign(db: Executor, reading: { id: string; org_id: string; upload_id: string; kind: ReadingKind }, jobId: string) {
    await db
      .insertInto('readings')
      .values({ ...reading, job_id: jobId, updated_at: new Date() })
      .onConflict((oc) =>
        oc.column('upload_id').doUpdateSet({
          kind: reading.kind,
          status: 'pending',
          job_id: jobId,
          content: null,
          error: null,
          updated_at: sql`now()`,
        }),
      )
      .execute();
  },

  /**
   * Records the job's verdict, with the text for search in pieces; false when the reading was handed
   * to another job meanwhile. The old thumbnail key, if any, is answered so its blob can go.
   */
  async decide(db: Executor, readingId: string, jobId: string, verdict: ReadingVerdict) {
    const updated = await db
      .updateTable('readings')
      .set(
        verdict.status === 'ready'
          ? {
              status: 'ready',
              content: JSON.stringify(verdict.content),
              error: null,
              thumbnail_key: verdict.thumbnail?.key ?? null,
              thumbnail_type: verdict.thumbnail?.contentType ?? null,
              thumbnail_size: verdict.thumbnail?.size ?? null,
              updated_at: sql`now()`,
            }
          : {
              status: 'failed',
              content: null,
              error: JSON.stringify({ reason: verdict.reason, message: verdict.message }),
              thumbnail_key: null,
              thumbnail_type: null,
              thumbnail_size: null,
              updated_at: sql`now()`,
            },
      )
      .where('id', '=', readingId)
      .where('job_id', '=', jobId)
      .where('status', '=', 'pending')
      .returning(['id', 'org_id', 'upload_id'])
      .executeTakeFirst();
    if (!updated) return false;
    await db.deleteFrom('reading_chunks').where('reading_id', '=', readingId).execute();
    if (verdict.status === 'ready') {
      // Bounded statements: a long document's pieces go in a few hundred at a time.
      for (let start = 0; start < verdict.chunks.length; start += 200) {
        await db
          .insertInto('reading_chunks')
          .values(
            verdict.chunks.slice(start, start + 200).map((body, i) => ({
              reading_id: readingId,
              chunk: start + i,
              org_id: updated.org_id,
              upload_id: updated.upload_id,
              body,
            })),
          )
          .execute();
      }
    }
    return true;
  },

  editContent(db: Executor, orgId: string, id: string, content: Record<string, unknown>) {
    return db
      .updateTable('readings')
      .set({ edited_content: JSON.stringify(content), updated_at: sql`now()` })
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  },

  /** A ready reading of other bytes-identical uploads (deduplicated to one blob): its facts are these bytes' facts. */
  readyForBlob(db: Executor, blobKey: string, exceptUploadId: string) {
    return db
      .selectFrom('readings as r')
      .innerJoin('uploads as u', 'u.id', 'r.upload_id')
      .selectAll('r')
      .where('u.blob_key', '=', blobKey)
      .where('r.upload_id', '!=', exceptUploadId)
      .where('r.status', '=', 'ready')
      .orderBy('r.updated_at', 'desc')
      .limit(1)
      .executeTakeFirst();
  },

  chunksOf(db: Executor, readingId: string) {
    return db.selectFrom('reading_chunks').select('body').where('reading_id', '=', readingId).orderBy('chunk').execute();
  },

  async list(db: Executor, orgId: string, filter: ReadingFilter, page: Page) {
    let base = db.selectFrom('readings').where('org_id', '=', orgId);
    // One array parameter, however many uploads a file's versions hold (a list of parameters stops at 65,535).
    if (filter.uploadIds) base = base.where(sql<boolean>`upload_id = ANY(${filter.uploadIds}::uuid[])`);
    if (filter.kind) base = base.where('kind', '=', filter.kind);
    if (filter.status) base = base.where('status', '=', filter.status);
    // One upload's or one file's readings are few: counted directly. The org-wide filters have counters.
    const count = filter.uploadIds
      ? base
          .select(sql<number>`count(*)::int`.as('n'))
          .executeTakeFirstOrThrow()
          .then((r) => r.n)
      : countedRows(
          db,
          orgId,
          ['readings', filter.kind && `kind:${filter.kind}`, filter.status && `status:${filter.status}`].filter(Boolean).join(':'),
        );
    const [rows, n] = await Promise.all([keysetPage(base.selectAll(), READINGS_KEYSET, page).execute(), count]);
    const { rows: shown, nextCursor } = pageEnd(READINGS_KEYSET, rows, page.limit);
    return { rows: shown as (ReadingRow & { cursor_key: string[] })[], count: n, nextCursor };
  },

  /**
   * The uploads whose bytes a file's versions hold: a file's readings are theirs. A file may have
   * hundreds of thousands of versions over a handful of uploads (metadata edits keep the upload), so
   * the distinct uploads are found by a skip scan of file_versions_file_upload_idx (migration 0021):
   * each step is one probe for the next upload after the last, never a read of every version. The file
   * must be the org's (the caller found it so; checked again here, once, in the first step).
   */
  async uploadsOfFile(db: Executor, orgId: string, fileId: string) {
    const { rows } = await sql<{ upload_id: string }>`
      WITH RECURSIVE held (upload_id) AS (
        (SELECT v.upload_id FROM file_versions v
          WHERE v.file_id = ${fileId} AND EXISTS (SELECT 1 FROM files f WHERE f.id = ${fileId} AND f.org_id = ${orgId})
          ORDER BY v.upload_id LIMIT 1)
        UNION ALL
        SELECT (SELECT v.upload_id FROM file_versions v
                 WHERE v.file_id = ${fileId} AND v.upload_id > held.upload_id ORDER BY v.upload_id LIMIT 1)
          FROM held WHERE held.upload_id IS NOT NULL)
      SELECT upload_id FROM held WHERE upload_id IS NOT NULL`.execute(db);
    return rows.map((r) => r.upload_id);
  },
};
