import { newId } from '../../ids.js';
import type { JobTransaction } from '../../jobs/queue.js';
import { readingKindOf } from '../../readings/kinds.js';
import type { ConfirmedUpload } from '../events.js';
import { requestPreviews } from '../previews/request.js';
import { processJob } from './process-job.js';
import { readingsRepo } from './repo.js';

/**
 * Starts (or starts over) the reading of each upload, in the caller's transaction: a confirmed upload
 * has its reading exactly when its row is confirmed. A 3D model is read by its preview job, from the
 * mesh it makes (previews/request.ts hands both steps to one job): its reading is started by starting
 * the preview, unless a preview job that will decide it is already under way. Answers the job of each
 * upload.
 */
export async function requestReadings(t: JobTransaction, uploads: readonly ConfirmedUpload[]): Promise<Map<string, string>> {
  const jobs = new Map<string, string>();
  if (!uploads.length) return jobs;
  const rows = await t.db
    .selectFrom('uploads')
    .select(['id', 'org_id', 'name', 'content_type', 'detected_content_type'])
    .where(
      'id',
      'in',
      uploads.map((u) => u.id),
    )
    .execute();
  for (const upload of rows) {
    const kind = readingKindOf(upload.name, upload.detected_content_type, upload.content_type);
    if (kind === 'cad') {
      const jobId = (await previewUnderWay(t, upload.id)) ?? (await requestPreviews(t, [upload])).get(upload.id);
      if (jobId) jobs.set(upload.id, jobId);
      continue;
    }
    const existing = await readingsRepo.findByUpload(t.db, upload.id);
    const job = await t.enqueue(processJob, { orgId: upload.org_id, subjectId: upload.id });
    await readingsRepo.assign(t.db, { id: existing?.id ?? newId(), org_id: upload.org_id, upload_id: upload.id, kind }, job.id);
    jobs.set(upload.id, job.id);
  }
  return jobs;
}

/**
 * The preview job that is to decide the model's reading, while it still may: reading and preview both
 * pending, both its, and the job not ended (a job that gave up leaves its rows pending). On a confirm
 * this is the job the previews module has just started in this transaction.
 */
async function previewUnderWay(t: JobTransaction, uploadId: string): Promise<string | null> {
  const row = await t.db
    .selectFrom('readings as r')
    .innerJoin('previews as p', (join) => join.onRef('p.upload_id', '=', 'r.upload_id').onRef('p.job_id', '=', 'r.job_id'))
    .innerJoin('jobs as j', 'j.id', 'r.job_id')
    .select('r.job_id')
    .where('r.upload_id', '=', uploadId)
    .where('r.kind', '=', 'cad')
    .where('r.status', '=', 'pending')
    .where('p.status', '=', 'pending')
    .where('j.status', 'in', ['queued', 'running'])
    .executeTakeFirst();
  return row?.job_id ?? null;
}
