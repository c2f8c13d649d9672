import { cadFormatOf } from '../../cad/formats.js';
import type { JobTransaction } from '../../jobs/queue.js';
import type { ConfirmedUpload } from '../events.js';
import { previewJob } from './preview-job.js';
import { previewsRepo } from './repo.js';

/**
 * Starts a preview for each confirmed upload that is a 3D model (by its name), in the caller's
 * transaction: the preview exists exactly when the confirmed row does. Answers the job of each
 * upload that got one.
 */
export async function requestPreviews(t: JobTransaction, uploads: readonly ConfirmedUpload[]): Promise<Map<string, string>> {
  const jobs = new Map<string, string>();
  for (const upload of uploads) {
    if (!cadFormatOf(upload.name)) continue;
    const job = await t.enqueue(previewJob, { orgId: upload.org_id, subjectId: upload.id });
    await previewsRepo.assign(t.db, upload, job.id);
    jobs.set(upload.id, job.id);
  }
  return jobs;
}
