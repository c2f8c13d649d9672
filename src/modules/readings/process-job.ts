import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { JobRow, ReadingRow } from '../../db/schema.js';
import type { JobKind } from '../../jobs/job-kind.js';
import { jobsRepo } from '../../jobs/jobs-repo.js';
import { extractReading } from '../../readings/extract.js';
import { ReadingError } from '../../readings/reading.js';
import type { ModuleDeps } from '../module.js';
import { chunksOf } from './chunks.js';
import { readingsRepo, type ReadingVerdict } from './repo.js';

/** Time on top of the extraction limit that one attempt may take (download, store the thumbnail). */
const LEASE_MARGIN_SECONDS = 120;

/**
 * The processing job: the upload's bytes to a local file, read by the extractor of its kind in a
 * sandboxed child held to the configured limits, the reading stored with its text in search pieces
 * and its thumbnail as a blob of its own. A verdict on the file (malformed, too big, too slow) fails
 * the reading, never the upload, and is not retried; trouble of ours (storage, disk) throws, and the
 * queue tries again.
 */
export const processJob: JobKind<ModuleDeps> = {
  kind: 'process',
  lease: (config) => Math.max(config.jobs.leaseSeconds, config.readings.timeoutSeconds + LEASE_MARGIN_SECONDS),
  run: runProcess,
};

async function runProcess(deps: ModuleDeps, job: JobRow): Promise<void> {
  const reading = await readingsRepo.findByUpload(deps.db, job.subject_id);
  if (!reading || reading.job_id !== job.id || reading.status !== 'pending') {
    await jobsRepo.finish(deps.db, job.id, {
      status: 'failed',
      error: reading ? 'superseded by a newer processing job' : 'the upload no longer exists',
    });
    return;
  }
  const upload = await deps.db.selectFrom('uploads').selectAll().where('id', '=', job.subject_id).executeTakeFirst();
  if (!upload || upload.status !== 'confirmed' || upload.blob_purged_at) {
    await decide(deps, job, reading, { status: 'failed', reason: 'unavailable', message: 'the upload has no confirmed bytes to read' });
    return;
  }
  if (reading.kind === 'unsupported') {
    const type = upload.detected_content_type ?? upload.content_type ?? 'application/octet-stream';
    await decide(deps, job, reading, {
      status: 'ready',
      content: { kind: 'unsupported', content_type: type },
      chunks: [],
      thumbnail: null,
    });
    return;
  }
  const size = Number(upload.size_bytes);
  if (size > deps.config.readings.maxInputBytes) {
    await decide(deps, job, reading, {
      status: 'failed',
      reason: 'too_large',
      message: `${size} bytes is over the ${deps.config.readings.maxInputBytes}-byte limit of what is read (STOWAGE_READING_MAX_INPUT_MB)`,
    });
    return;
  }
  // Bytes already read under another upload (deduplicated to one blob) are not read again.
  const twin = await readingsRepo.readyForBlob(deps.db, upload.blob_key, upload.id);
  if (twin && twin.kind === reading.kind) {
    const chunks = (await readingsRepo.chunksOf(deps.db, twin.id)).map((c) => c.body);
    const thumbnail = twin.thumbnail_key
      ? await copyThumbnail(deps, twin.thumbnail_key, thumbnailKey(upload.org_id, job), twin.thumbnail_type!)
      : null;
    await decide(deps, job, reading, { status: 'ready', content: twin.content ?? {}, chunks, thumbnail });
    return;
  }

  const work = await mkdtemp(path.join(os.tmpdir(), 'stowage-reading-'));
  try {
    const input = path.join(work, 'input');
    await pipeline(await deps.blobs.read(upload.blob_key), createWriteStream(input));
    let extraction;
    try {
      extraction = await extractReading(input, reading.kind, work, {
        timeoutMs: deps.config.readings.timeoutSeconds * 1000,
        maxMemoryMb: deps.config.readings.maxMemoryMb,
      });
    } catch (error) {
      if (!(error instanceof ReadingError)) throw error;
      await decide(deps, job, reading, { status: 'failed', reason: error.reason, message: error.message });
      return;
    }
    const text = extraction.textPath ? await readFile(extraction.textPath, 'utf8') : '';
    let thumbnail: { key: string; contentType: string; size: number } | null = null;
    if (extraction.thumbnail) {
      const key = thumbnailKey(upload.org_id, job);
      const stored = await deps.blobs.put(key, createReadStream(extraction.thumbnail.path), {
        contentType: extraction.thumbnail.contentType,
      });
      thumbnail = { key, contentType: extraction.thumbnail.contentType, size: stored.size };
    }
    await decide(deps, job, reading, { status: 'ready', content: extraction.content, chunks: chunksOf(text), thumbnail });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

// A key per attempt: a retry after a stored thumbnail but before the commit never meets its own
// leftover (which, known to no row, the sweeper removes).
const thumbnailKey = (orgId: string, job: JobRow) => `${orgId}/thumbnails/${job.id}-${job.attempts}`;

async function copyThumbnail(deps: ModuleDeps, from: string, to: string, contentType: string) {
  const stored = await deps.blobs.put(to, await deps.blobs.read(from), { contentType });
  return { key: to, contentType, size: stored.size };
}

/** The verdict and the job's end in one transaction; a verdict that lost to a newer job leaves its thumbnail to go. */
/**
 * The verdict and the job's end in one transaction. `reading` is the row as the job found it: a re-run
 * does not change its thumbnail key, so that is the key a kept verdict replaces.
 */
async function decide(deps: ModuleDeps, job: JobRow, reading: ReadingRow, verdict: ReadingVerdict): Promise<void> {
  const kept = await deps.db.transaction().execute(async (tx) => {
    const decided = await readingsRepo.decide(tx, reading.id, job.id, verdict);
    await jobsRepo.finish(
      tx,
      job.id,
      !decided
        ? { status: 'failed', error: 'superseded by a newer processing job' }
        : verdict.status === 'failed'
          ? { status: 'failed', error: `${verdict.reason}: ${verdict.message}` }
          : { status: 'succeeded' },
    );
    return decided;
  });
  if (!kept && verdict.status === 'ready' && verdict.thumbnail) await deps.blobs.delete(verdict.thumbnail.key);
  // A re-run replaced the reading: the old thumbnail is no one's now.
  if (kept && reading.thumbnail_key && reading.thumbnail_key !== (verdict.status === 'ready' ? verdict.thumbnail?.key : null)) {
    await deps.blobs.delete(reading.thumbnail_key);
  }
  deps.metrics.readingOutcomes.inc({ result: kept ? (verdict.status === 'ready' ? 'ready' : verdict.reason) : 'superseded' });
}
