import type { StowageClient, Upload } from '../client.js';
import { unwrap } from '../errors.js';
import { hashFile } from './hash.js';
import { ProgressReporter } from './progress.js';
import { putRange } from './put-range.js';
import {
  type ResumeState,
  defaultStateDir,
  readResumeState,
  removeResumeState,
  resumeStateFile,
  writeResumeState,
} from './resume-state.js';
import type { UploadJob } from './upload.js';

interface StoredPart {
  part_number: number;
  etag: string;
  size_bytes: number;
}

/** A multipart upload on the server, new or taken up from a state file. */
interface Session {
  uploadId: string;
  partSize: number;
  partCount: number;
  held: StoredPart[];
  sha256: string | null;
  resumed: boolean;
}

/** Why a run stopped sending when the server answered its hash with a deduplicated upload. */
const DEDUPLICATED = new Error('the server holds these bytes already');

/**
 * The multipart flow: start (without a sha256) or take up the upload of the state file, then send the
 * parts storage lacks, `parallel` at a time, while the file is hashed beside them. The sha256 is
 * declared as soon as it is known: when the organisation holds those bytes the server answers the
 * upload deduplicated and the parts still going out are cut. Otherwise it goes with the completion,
 * and the confirm job checks it.
 */
export async function uploadInParts(job: UploadJob): Promise<Upload> {
  const { client, file, size, name, options } = job;
  const stateFile =
    options.resume === false ? null : resumeStateFile(options.stateDir ?? defaultStateDir(), client.baseUrl, file, size, job.mtimeMs);
  const saved = stateFile ? await readResumeState(stateFile) : null;
  const takenUp = saved ? await takeUp(client, saved, options.signal) : null;
  if (takenUp && 'status' in takenUp) {
    await removeResumeState(stateFile!);
    return takenUp;
  }
  let session: Session;
  if (takenUp) {
    session = { ...takenUp, uploadId: saved!.uploadId, sha256: saved!.sha256 ?? null, resumed: true };
  } else {
    const started = unwrap(
      await client.POST('/api/v1/uploads/multipart', {
        body: { name, size_bytes: size, part_size: options.partSize, content_type: options.contentType, folder_id: options.folderId },
        signal: options.signal,
      }),
    );
    session = {
      uploadId: started.data_source_id,
      partSize: started.part_size,
      partCount: started.part_count,
      held: [],
      sha256: null,
      resumed: false,
    };
    if (stateFile) await writeResumeState(stateFile, { uploadId: session.uploadId });
  }
  const verdict = await sendAndConfirm(job, session, stateFile);
  if (stateFile) await removeResumeState(stateFile);
  return verdict;
}

/**
 * The saved upload's layout and stored parts while it still takes parts; the upload itself when it
 * was confirmed after all (a run that ended between the verdict and removing its state); null when it
 * is gone or over, and a new upload must start.
 */
async function takeUp(
  client: StowageClient,
  saved: ResumeState,
  signal: AbortSignal | undefined,
): Promise<Upload | { partSize: number; partCount: number; held: StoredPart[] } | null> {
  const path = { data_source_id: saved.uploadId };
  const parts = await client.GET('/api/v1/uploads/{data_source_id}/parts', { params: { path }, signal });
  if (parts.data) return { partSize: parts.data.part_size, partCount: parts.data.part_count, held: parts.data.parts };
  if (parts.response.status === 404) return null;
  if (parts.response.status !== 409) unwrap(parts);
  const upload = unwrap(await client.GET('/api/v1/uploads/{data_source_id}', { params: { path }, signal }));
  return upload.status === 'confirmed' ? upload : null;
}

async function sendAndConfirm(job: UploadJob, session: Session, stateFile: string | null): Promise<Upload> {
  const { client, file, size, options } = job;
  const { uploadId, partSize, partCount } = session;
  const path = { data_source_id: uploadId };
  const sizeOf = (n: number) => (n < partCount ? partSize : size - partSize * (partCount - 1));
  const etags = new Map(session.held.filter((p) => p.size_bytes === sizeOf(p.part_number)).map((p) => [p.part_number, p.etag]));
  const todo = Array.from({ length: partCount }, (_, i) => i + 1).filter((n) => !etags.has(n));
  const resumedBytes = [...etags.keys()].reduce((sum, n) => sum + sizeOf(n), 0);
  const progress = new ProgressReporter(options.onProgress, {
    uploadId,
    totalBytes: size,
    totalParts: partCount,
    resumedBytes,
    resumedParts: etags.size,
    resumed: session.resumed,
    hashedBytes: session.sha256 ? size : 0,
  });

  // Ends the run early: the caller's signal, a part that failed, or a deduplicated answer.
  const stop = new AbortController();
  const onAbort = () => stop.abort(options.signal!.reason);
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let partsSent = false;
  let deduplicated: Upload | null = null;
  try {
    progress.started();
    const hashing = session.sha256
      ? Promise.resolve(session.sha256)
      : hashFile(file, { signal: stop.signal, onBytes: (n) => progress.hashed(n) });
    const declared = hashing.then(async (sha256) => {
      if (stateFile && !session.sha256) await writeResumeState(stateFile, { uploadId, sha256 });
      // Still sending: the server may hold these bytes already, and then nothing more need go.
      if (!partsSent) {
        const answer = unwrap(
          await client.POST('/api/v1/uploads/{data_source_id}/sha256', { params: { path }, body: { sha256 }, signal: stop.signal }),
        );
        if (answer.status === 'confirmed') {
          deduplicated = answer;
          stop.abort(DEDUPLICATED);
        }
      }
      return sha256;
    });
    // A file that cannot be read to its end, or a refused declaration, ends the run as a failed part does.
    declared.catch((error) => stop.abort(error));

    try {
      await sendParts(
        todo,
        options.parallel ?? 4,
        async (n) => {
          const [part] = unwrap(
            await client.POST('/api/v1/uploads/{data_source_id}/parts', {
              params: { path },
              body: { part_numbers: [n] },
              signal: stop.signal,
            }),
          ).parts;
          const start = (n - 1) * partSize;
          const etag = await putRange(
            part.url,
            part.headers,
            file,
            { start, end: start + sizeOf(n) - 1 },
            (b) => progress.sent(b),
            stop.signal,
          );
          etags.set(n, etag);
          progress.partDone();
        },
        stop,
      );
    } catch (error) {
      if (deduplicated) return deduplicated;
      throw stop.signal.aborted ? stop.signal.reason : error;
    }
    partsSent = true;
    const sha256 = await declared;
    if (deduplicated) return deduplicated;
    const parts = [...etags].sort(([a], [b]) => a - b).map(([part_number, etag]) => ({ part_number, etag }));
    const { job_id: jobId } = unwrap(
      await client.POST('/api/v1/uploads/{data_source_id}/complete', { params: { path }, body: { parts, sha256 }, signal: stop.signal }),
    );
    progress.confirming();
    return await client.waitForVerdict(uploadId, jobId, { signal: stop.signal });
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    // Whatever still runs for this upload (the hashing thread after a failure) stops with it.
    if (!stop.signal.aborted) stop.abort(new Error('the upload ended'));
  }
}

/**
 * Runs `send` for each part number, `parallel` at a time, each presigned just before it goes (URLs
 * of a long upload would expire otherwise). The first failure stops the others.
 */
async function sendParts(todo: number[], parallel: number, send: (n: number) => Promise<void>, stop: AbortController): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      stop.signal.throwIfAborted();
      await send(todo[next++]);
    }
  };
  const workers = Array.from({ length: Math.min(Math.max(1, parallel), todo.length) }, () =>
    worker().catch((error: unknown) => {
      if (!stop.signal.aborted) stop.abort(error);
      throw error;
    }),
  );
  await Promise.all(workers);
}
