import { BlobError, type BlobStore } from '../../blobs/blob-store.js';
import type { Config } from '../../config.js';
import { type Digest, digestStream, readHead } from '../../content/digest.js';
import { matchesType, sniffContentType } from '../../content/sniff.js';
import type { Db, Executor } from '../../db/database.js';
import type { JobRow, UploadRow } from '../../db/schema.js';
import type { Metrics } from '../../metrics.js';
import { previewsRepo } from '../previews/repo.js';
import { uploadsRepo } from './repo.js';
import { jobsRepo } from '../../jobs/jobs-repo.js';
import type { JobQueue } from '../../jobs/queue.js';

export type FailureReason = 'object_missing' | 'size_mismatch' | 'checksum_mismatch' | 'type_refused';

export type Verdict =
  | { status: 'confirmed'; size: number; sha256: string; detectedContentType: string | null }
  | { status: 'failed'; reason: FailureReason; message: string };

/** Reads the stored bytes once and decides: confirmed with their facts, or failed with a reason. */
export async function inspectUpload(
  blobs: BlobStore,
  upload: UploadRow,
  policy: { refusedTypes: readonly string[]; singleRequestBytes: number },
): Promise<Verdict> {
  const info = await blobs.stat(upload.blob_key);
  if (!info) return { status: 'failed', reason: 'object_missing', message: 'no bytes were uploaded for this upload' };
  const declaredSize = upload.declared_size === null ? null : Number(upload.declared_size);
  if (declaredSize !== null && info.size !== declaredSize) {
    return { status: 'failed', reason: 'size_mismatch', message: `stored ${info.size} bytes, declared ${declaredSize}` };
  }
  // An S3 URL presigned without a size binds none, so storage took whatever came: the limit holds here.
  if (declaredSize === null && info.size > policy.singleRequestBytes) {
    return { status: 'failed', reason: 'size_mismatch', message: `stored ${info.size} bytes, over the ${policy.singleRequestBytes}-byte limit of one request` };
  }
  let digest: Digest;
  try {
    // Bytes storage already hashed as they were written need only their head read, for sniffing.
    digest = info.sha256 ? { size: info.size, sha256: info.sha256, head: await readHead(blobs, upload.blob_key, info.size) }
      : await digestStream(await blobs.read(upload.blob_key));
  } catch (error) {
    if (error instanceof BlobError && error.kind === 'missing') {
      return { status: 'failed', reason: 'object_missing', message: 'the stored bytes disappeared while being read' };
    }
    throw error;
  }
  if (upload.declared_sha256 && digest.sha256 !== upload.declared_sha256) {
    return { status: 'failed', reason: 'checksum_mismatch', message: `stored bytes hash to ${digest.sha256}, declared ${upload.declared_sha256}` };
  }
  const detected = await sniffContentType(digest.head, digest.size);
  if (detected && matchesType(detected, policy.refusedTypes)) {
    return { status: 'failed', reason: 'type_refused', message: `${detected} files are refused by this server's policy` };
  }
  return { status: 'confirmed', size: digest.size, sha256: digest.sha256, detectedContentType: detected };
}

export interface ConfirmDeps {
  db: Db;
  blobs: BlobStore;
  queue: JobQueue;
  config: Config;
  metrics: Metrics;
}

/** The confirm job: inspect, then record the verdict and close the job in one transaction. */
export async function runConfirm(deps: ConfirmDeps, job: JobRow): Promise<void> {
  const upload = await deps.db.selectFrom('uploads').selectAll().where('id', '=', job.subject_id).executeTakeFirst();
  if (!upload || upload.status !== 'pending' || upload.confirm_job_id !== job.id) {
    await closeStale(deps.db, job, upload);
    return;
  }
  const verdict = await inspectUpload(deps.blobs, upload, {
    refusedTypes: deps.config.refusedContentTypes,
    singleRequestBytes: deps.config.limits.singleRequestBytes,
  });
  const previews = await deps.db.transaction().execute(async (tx) => {
    const row = await uploadsRepo.findForUpdate(tx, null, upload.id);
    if (!row || row.status !== 'pending' || row.confirm_job_id !== job.id) {
      await closeStale(tx, job, row);
      return 0;
    }
    if (verdict.status === 'confirmed') {
      await uploadsRepo.update(tx, row.id, {
        status: 'confirmed',
        size_bytes: verdict.size,
        sha256: verdict.sha256,
        detected_content_type: verdict.detectedContentType,
        failure_reason: null,
        confirmed_at: new Date(),
      });
      await jobsRepo.finish(tx, job.id, { status: 'succeeded' });
      return previewsRepo.request(tx, deps.queue, [row], deps.config.previews.timeoutSeconds);
    }
    await uploadsRepo.update(tx, row.id, { status: 'failed', failure_reason: verdict.reason });
    await jobsRepo.finish(tx, job.id, { status: 'failed', error: `${verdict.reason}: ${verdict.message}` });
    return 0;
  });
  if (previews) deps.queue.wake('preview');
  deps.metrics.uploadVerdicts.inc({ result: verdict.status === 'confirmed' ? 'confirmed' : verdict.reason });
}

/** The upload moved on without this job (cancelled, retried with a newer job, or already decided by it). */
async function closeStale(db: Executor, job: JobRow, upload: UploadRow | undefined) {
  if (upload && upload.confirm_job_id === job.id && upload.status === 'confirmed') {
    await jobsRepo.finish(db, job.id, { status: 'succeeded' });
    return;
  }
  const why = !upload ? 'the upload no longer exists'
    : upload.confirm_job_id !== job.id ? 'superseded by a newer confirm job'
    : `the upload is ${upload.status}`;
  await jobsRepo.finish(db, job.id, { status: 'failed', error: why });
}
