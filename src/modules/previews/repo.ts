import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import type { JobQueue } from '../../jobs/queue.js';
import { cadFormatOf } from '../../cad/formats.js';

export type PreviewStatus = 'pending' | 'ok' | 'failed';

/** Time on top of the conversion limit that one attempt may take (download, store the GLB). */
const LEASE_MARGIN_SECONDS = 120;

export const previewsRepo = {
  find(db: Executor, uploadId: string) {
    return db.selectFrom('previews').selectAll().where('upload_id', '=', uploadId).executeTakeFirst();
  },

  /**
   * Starts a preview for each confirmed upload that is a 3D model (by its name), in the caller's
   * transaction: the preview exists exactly when the confirmed row does. Re-requesting hands the
   * preview to a new job. Answers how many were started; call `queue.wake('preview')` after commit.
   */
  async request(tx: Executor, queue: JobQueue, uploads: readonly { id: string; org_id: string; name: string }[], timeoutSeconds: number): Promise<number> {
    let started = 0;
    for (const upload of uploads) {
      if (!cadFormatOf(upload.name)) continue;
      const job = await queue.enqueue(tx, { orgId: upload.org_id, kind: 'preview', subjectId: upload.id, leaseSeconds: timeoutSeconds + LEASE_MARGIN_SECONDS });
      await tx
        .insertInto('previews')
        .values({ upload_id: upload.id, org_id: upload.org_id, job_id: job.id, updated_at: new Date() })
        .onConflict((oc) => oc.column('upload_id').doUpdateSet({
          status: 'pending', job_id: job.id, blob_key: null, size_bytes: null, failure_reason: null, updated_at: sql`now()`,
        }))
        .execute();
      started++;
    }
    return started;
  },

  /** Records the job's verdict; false when the preview was handed to another job meanwhile. */
  async decide(db: Executor, uploadId: string, jobId: string, verdict: { status: 'ok'; blobKey: string; size: number } | { status: 'failed'; reason: string }) {
    const result = await db
      .updateTable('previews')
      .set(verdict.status === 'ok'
        ? { status: 'ok', blob_key: verdict.blobKey, size_bytes: verdict.size, failure_reason: null, updated_at: sql`now()` }
        : { status: 'failed', failure_reason: verdict.reason, updated_at: sql`now()` })
      .where('upload_id', '=', uploadId)
      .where('job_id', '=', jobId)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  },
};
