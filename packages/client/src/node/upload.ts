import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { StowageClient, Upload } from '../client.js';
import { unwrap } from '../errors.js';
import { hashFile } from './hash.js';
import { uploadInParts } from './multipart.js';
import { ProgressReporter, type UploadProgress } from './progress.js';
import { putRange } from './put-range.js';

export interface UploadFileOptions {
  /** The upload's name; the file's own name by default. */
  name?: string;
  contentType?: string;
  /** A folder of yours: confirming the upload also makes version 1 of a file there. */
  folderId?: string;
  /** Parts sent at once (multipart); 4 by default. */
  parallel?: number;
  /**
   * Files up to this size go in one presigned PUT, larger ones in parts of this size. 16 MiB by
   * default, and then the server may choose larger parts for a file that 10,000 would not hold.
   */
  partSize?: number;
  /**
   * Whether a multipart upload keeps a state file so that a run that did not finish (aborted,
   * failed, killed) is taken up by the next one for the same file, which sends only the parts
   * storage lacks. True by default.
   */
  resume?: boolean;
  /** Where state files live; defaultStateDir() by default. */
  stateDir?: string;
  /** Stops the upload: in-flight requests are cut, and the call rejects with the signal's reason. A later call resumes. */
  signal?: AbortSignal;
  onProgress?: (progress: UploadProgress) => void;
}

export const DEFAULT_PART_SIZE = 16 * 1024 * 1024;

/** What an upload of one file works from. */
export interface UploadJob {
  client: StowageClient;
  file: string;
  size: number;
  mtimeMs: number;
  name: string;
  options: UploadFileOptions;
}

/**
 * Uploads one file and answers the upload with its verdict: `confirmed` (perhaps `deduplicated`:
 * the organisation held those bytes already), or `failed` with its `failure_reason`. Small files go
 * by presign (hashed first, so storage itself checks the bytes); larger ones in parallel parts while
 * the file is hashed, its sha256 declared as soon as it is known (which answers a deduplicated
 * upload early) and checked by the confirm job. API errors throw a StowageError.
 */
export async function uploadFile(client: StowageClient, file: string, options: UploadFileOptions = {}): Promise<Upload> {
  const absolute = path.resolve(file);
  const info = await stat(absolute);
  if (!info.isFile()) throw new Error(`${file} is not a file`);
  const job: UploadJob = {
    client,
    file: absolute,
    size: info.size,
    mtimeMs: info.mtimeMs,
    name: options.name ?? path.basename(absolute),
    options,
  };
  return info.size <= (options.partSize ?? DEFAULT_PART_SIZE) ? uploadWhole(job) : uploadInParts(job);
}

/** Hash, presign with the sha256 (storage refuses other bytes, or the server answers a deduplicated upload), PUT, confirm. */
async function uploadWhole({ client, file, size, name, options }: UploadJob): Promise<Upload> {
  const { signal } = options;
  const sha256 = await hashFile(file, { signal, thread: false });
  const presigned = unwrap(
    await client.POST('/api/v1/uploads/presign', {
      body: { name, size_bytes: size, sha256, content_type: options.contentType, folder_id: options.folderId },
      signal,
    }),
  );
  const uploadId = presigned.data_source_id;
  if (presigned.deduplicated || !presigned.url) {
    return unwrap(await client.GET('/api/v1/uploads/{data_source_id}', { params: { path: { data_source_id: uploadId } }, signal }));
  }
  const progress = new ProgressReporter(options.onProgress, {
    uploadId,
    totalBytes: size,
    totalParts: 1,
    resumedBytes: 0,
    resumedParts: 0,
    resumed: false,
    hashedBytes: size,
  });
  progress.started();
  await putRange(presigned.url, presigned.headers ?? {}, file, { start: 0, end: size - 1 }, (n) => progress.sent(n), signal);
  progress.partDone();
  const { job_id: jobId } = unwrap(await client.POST('/api/v1/uploads/confirm', { body: { data_source_id: uploadId }, signal }));
  progress.confirming();
  return client.waitForVerdict(uploadId, jobId, { signal });
}
