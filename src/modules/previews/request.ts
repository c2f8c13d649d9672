import { cadFormatOf } from '../../cad/formats.js';
import { newId } from '../../ids.js';
import type { JobTransaction } from '../../jobs/queue.js';
import type { ConfirmedUpload } from '../events.js';
import { readingsRepo } from '../readings/repo.js';
import { previewJob } from './preview-job.js';
import { previewsRepo } from './repo.js';

/**
 * Starts (or starts over) a preview for each confirmed upload that is a 3D model (by its name), in the
 * caller's transaction: the preview exists exactly when the confirmed row does. The model's reading
 * ({bbox, triangle_count, unit}, from the same mesh) is a step of the same job: it is handed to the
 * preview's job here, pending again on a re-run, and decided with the preview. Answers the job of
 * each upload that got one.
 */
export async function requestPreviews(t: JobTransaction, uploads: readonly ConfirmedUpload[]): Promise<Map<string, string>> {
  const jobs = new Map<string, string>();
  for (const upload of uploads) {
    if (!cadFormatOf(upload.name)) continue;
    const job = await t.enqueue(previewJob, { orgId: upload.org_id, subjectId: upload.id });
    await previewsRepo.assign(t.db, upload, job.id);
    // An existing reading keeps its id (the upsert does not touch it) and its edit.
    await readingsRepo.assign(t.db, { id: newId(), org_id: upload.org_id, upload_id: upload.id, kind: 'cad' }, job.id);
    jobs.set(upload.id, job.id);
  }
  return jobs;
}
