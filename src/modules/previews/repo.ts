import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';

export type PreviewStatus = 'pending' | 'ok' | 'failed';

export const previewsRepo = {
  find(db: Executor, uploadId: string) {
    return db.selectFrom('previews').selectAll().where('upload_id', '=', uploadId).executeTakeFirst();
  },

  /** Hands the upload's preview to `jobId`: a new preview starts pending, an existing one starts over. */
  async assign(db: Executor, upload: { id: string; org_id: string }, jobId: string): Promise<void> {
    await db
      .insertInto('previews')
      .values({ upload_id: upload.id, org_id: upload.org_id, job_id: jobId, updated_at: new Date() })
      .onConflict((oc) =>
        oc.column('upload_id').doUpdateSet({
          status: 'pending',
          job_id: jobId,
          blob_key: null,
          size_bytes: null,
          failure_reason: null,
          updated_at: sql`now()`,
        }),
      )
      .execute();
  },

  /** Records the job's verdict; false when the preview was handed to another job meanwhile. */
  async decide(
    db: Executor,
    uploadId: string,
    jobId: string,
    verdict: { status: 'ok'; blobKey: string; size: number } | { status: 'failed'; reason: string },
  ) {
    const result = await db
      .updateTable('previews')
      .set(
        verdict.status === 'ok'
          ? { status: 'ok', blob_key: verdict.blobKey, size_bytes: verdict.size, failure_reason: null, updated_at: sql`now()` }
          : { status: 'failed', failure_reason: verdict.reason, updated_at: sql`now()` },
      )
      .where('upload_id', '=', uploadId)
      .where('job_id', '=', jobId)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  },
};
