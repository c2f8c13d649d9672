import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { JobRow } from '../../db/schema.js';
import type { JobKind } from '../../jobs/job-kind.js';
import type { Executor } from '../../db/database.js';
import { previewsRepo } from './repo.js';
import { convertToGlb, PreviewError, type PreviewFailure, type PreviewResult } from '../../cad/convert.js';
import { cadFormatOf, type CadFormat } from '../../cad/formats.js';
import { jobsRepo } from '../../jobs/jobs-repo.js';
import type { ModuleDeps } from '../module.js';
import { readingsRepo, type ReadingVerdict } from '../readings/repo.js';

/** Time on top of the conversion limit that one attempt may take (download, store the GLB). */
const LEASE_MARGIN_SECONDS = 120;

/**
 * The preview job: the upload's bytes to a local file, converted to GLB in a child process held to
 * the configured time and memory limits, the GLB stored as a blob of its own. A verdict on the file
 * (unreadable, too slow, too big) fails the preview and the job without retries; trouble of ours
 * (storage, disk) throws, and the queue tries again. The model's reading is the pipeline's other step
 * on the same mesh: decided with the preview, in its transaction, each with its own status.
 */
export const previewJob: JobKind<ModuleDeps> = {
  kind: 'preview',
  lease: (config) => Math.max(config.jobs.leaseSeconds, config.previews.timeoutSeconds + LEASE_MARGIN_SECONDS),
  run: runPreview,
};

async function runPreview(deps: ModuleDeps, job: JobRow): Promise<void> {
  const preview = await previewsRepo.find(deps.db, job.subject_id);
  if (!preview || preview.job_id !== job.id || preview.status !== 'pending') {
    await jobsRepo.finish(deps.db, job.id, {
      status: 'failed',
      error: preview ? 'superseded by a newer preview job' : 'the upload no longer exists',
    });
    return;
  }
  const upload = await deps.db.selectFrom('uploads').selectAll().where('id', '=', job.subject_id).executeTakeFirst();
  const format = upload ? cadFormatOf(upload.name) : null;
  if (!upload || upload.status !== 'confirmed' || !format) {
    await fail(
      deps,
      job,
      'unsupported',
      upload ? `a ${upload.status} upload named ${upload.name} has no preview` : 'the upload no longer exists',
    );
    return;
  }
  const work = await mkdtemp(path.join(os.tmpdir(), 'stowage-preview-'));
  try {
    const input = path.join(work, `model.${format}`);
    const output = path.join(work, 'preview.glb');
    await pipeline(await deps.blobs.read(upload.blob_key), createWriteStream(input));
    let result;
    try {
      result = await convertToGlb(input, format, output, {
        timeoutMs: deps.config.previews.timeoutSeconds * 1000,
        maxMemoryMb: deps.config.previews.maxMemoryMb,
      });
    } catch (error) {
      if (!(error instanceof PreviewError)) throw error;
      await fail(deps, job, error.reason, error.message);
      return;
    }
    // A key per attempt: a retry after a stored GLB but before the commit never meets its own leftover
    // (which, known to no row, the sweeper removes).
    const key = `${upload.org_id}/previews/${job.id}-${job.attempts}.glb`;
    const stored = await deps.blobs.put(key, createReadStream(output), { contentType: 'model/gltf-binary' });
    const outcome = await deps.db.transaction().execute(async (tx) => {
      const decided = await previewsRepo.decide(tx, upload.id, job.id, { status: 'ok', blobKey: key, size: stored.size });
      const reading = decided ? await decideReading(tx, job, readingOf(result, format)) : null;
      await jobsRepo.finish(
        tx,
        job.id,
        decided ? { status: 'succeeded' } : { status: 'failed', error: 'superseded by a newer preview job' },
      );
      return { decided, reading };
    });
    const kept = outcome.decided;
    if (outcome.reading) deps.metrics.readingOutcomes.inc({ result: outcome.reading });
    if (!kept) await deps.blobs.delete(key);
    deps.metrics.previewOutcomes.inc({ result: kept ? 'ok' : 'superseded' });
    deps.metrics.previewSeconds.observe(result.ms / 1000);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function fail(deps: ModuleDeps, job: JobRow, reason: PreviewFailure, message: string): Promise<void> {
  const reading = await deps.db.transaction().execute(async (tx) => {
    const decided = await previewsRepo.decide(tx, job.subject_id, job.id, { status: 'failed', reason });
    const verdict: ReadingVerdict = { status: 'failed', reason: READING_FAILURE[reason], message };
    const read = decided ? await decideReading(tx, job, verdict) : null;
    await jobsRepo.finish(tx, job.id, { status: 'failed', error: `${reason}: ${message}` });
    return read;
  });
  deps.metrics.previewOutcomes.inc({ result: reason });
  if (reading) deps.metrics.readingOutcomes.inc({ result: reading });
}

/** The reading of a model, from what its conversion found: the SPEC's {bbox, triangle_count, unit}, and a little more. */
function readingOf(result: PreviewResult, format: CadFormat): ReadingVerdict {
  return {
    status: 'ready',
    content: { bbox: result.bbox, triangle_count: result.triangles, unit: result.unit, meshes: result.meshes, format },
    chunks: [],
    thumbnail: null,
  };
}

/**
 * A preview failure in the readings' words: a file that is not what its name says, or holds nothing to
 * show, is `malformed`; the limits and crashes keep their names; `unsupported` (a glTF pointing outside
 * itself, a file over 2 GiB) says what it says.
 */
const READING_FAILURE: Readonly<Record<PreviewFailure, string>> = {
  unreadable: 'malformed',
  empty_model: 'malformed',
  unsupported: 'unsupported',
  timeout: 'timeout',
  memory_limit: 'memory_limit',
  crashed: 'crashed',
  aborted: 'aborted',
};

/**
 * Decides the upload's reading in the preview's transaction, when it is still this job's (a request
 * for previews hands both to one job, so a reading of an older job or of another kind is left alone).
 * Answers the verdict's name for the metrics, or null when there was none to decide.
 */
async function decideReading(tx: Executor, job: JobRow, verdict: ReadingVerdict): Promise<string | null> {
  const reading = await readingsRepo.findByUpload(tx, job.subject_id);
  if (!reading || reading.kind !== 'cad' || reading.job_id !== job.id) return null;
  if (!(await readingsRepo.decide(tx, reading.id, job.id, verdict))) return null;
  return verdict.status === 'ready' ? 'ready' : verdict.reason;
}
