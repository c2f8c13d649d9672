import type { Executor } from '../../db/database.js';
import type { JobRow, UploadRow } from '../../db/schema.js';
import type { JobKind } from '../../jobs/job-kind.js';
import { jobsRepo } from '../../jobs/jobs-repo.js';
import type { ModuleDeps } from '../module.js';
import { loadPolicy } from '../policy/content-policy.js';
import { quotaShortfall } from './admission.js';
import { CONFIRM_KIND, confirmations } from './confirmed.js';
import { type Verdict, inspectUpload } from './inspect.js';
import { uploadsRepo } from './repo.js';

/** The confirm job: inspect the stored bytes, then record the verdict and close the job in one transaction. */
export const confirmJob: JobKind<ModuleDeps> = {
  kind: CONFIRM_KIND,
  // The floor: an enqueue adds the time reading the declared size takes.
  lease: (config) => config.jobs.leaseSeconds,

  async run(deps, job) {
    const upload = await deps.db.selectFrom('uploads').selectAll().where('id', '=', job.subject_id).executeTakeFirst();
    if (!upload || upload.status !== 'pending' || upload.confirm_job_id !== job.id) {
      await closeStale(deps.db, job, upload);
      return;
    }
    const policy = await loadPolicy(deps.db, deps.config, upload.org_id);
    const inspected = await inspectUpload(deps.blobs, upload, {
      content: policy,
      singleRequestBytes: deps.config.limits.singleRequestBytes,
    });
    const verdict = await deps.queue.transaction(deps.db, async (t): Promise<Verdict | null> => {
      const row = await uploadsRepo.findForUpdate(t.db, null, upload.id);
      if (!row || row.status !== 'pending' || row.confirm_job_id !== job.id) return closeStale(t.db, job, row).then(() => null);
      let verdict = inspected;
      // The size is only now known for sure (or at all): it must still fit beside what the quota has admitted since.
      const shortfall = verdict.status === 'confirmed' ? await quotaShortfall(t.db, row, policy, verdict.size) : null;
      if (shortfall) verdict = { status: 'failed', reason: 'size_mismatch', message: shortfall };
      if (verdict.status === 'confirmed') {
        await confirmations.mark(t, deps.events, row, job.id, verdict);
        return verdict;
      }
      await uploadsRepo.update(t.db, row.id, { status: 'failed', failure_reason: verdict.reason });
      await jobsRepo.finish(t.db, job.id, { status: 'failed', error: `${verdict.reason}: ${verdict.message}` });
      return verdict;
    });
    if (verdict) deps.metrics.uploadVerdicts.inc({ result: verdict.status === 'confirmed' ? 'confirmed' : verdict.reason });
  },
};

/** The upload moved on without this job (cancelled, retried with a newer job, or already decided by it). */
async function closeStale(db: Executor, job: JobRow, upload: UploadRow | undefined) {
  if (upload && upload.confirm_job_id === job.id && upload.status === 'confirmed') {
    await jobsRepo.finish(db, job.id, { status: 'succeeded' });
    return;
  }
  const why = !upload
    ? 'the upload no longer exists'
    : upload.confirm_job_id !== job.id
      ? 'superseded by a newer confirm job'
      : `the upload is ${upload.status}`;
  await jobsRepo.finish(db, job.id, { status: 'failed', error: why });
}
