import { newId } from '../../ids.js';
import type { JobTransaction } from '../../jobs/queue.js';
import { readingKindOf } from '../../readings/kinds.js';
import type { ConfirmedUpload } from '../events.js';
import { processJob } from './process-job.js';
import { readingsRepo } from './repo.js';

/**
 * Starts (or starts over) the reading of each upload, in the caller's transaction: a confirmed upload
 * has its reading exactly when its row is confirmed. 3D models are read by the preview step, from
 * its mesh, not here. Answers the job of each upload that got one.
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
    if (kind === 'cad') continue;
    const existing = await readingsRepo.findByUpload(t.db, upload.id);
    const job = await t.enqueue(processJob, { orgId: upload.org_id, subjectId: upload.id });
    await readingsRepo.assign(t.db, { id: existing?.id ?? newId(), org_id: upload.org_id, upload_id: upload.id, kind }, job.id);
    jobs.set(upload.id, job.id);
  }
  return jobs;
}
