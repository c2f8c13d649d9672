import { type Hash, createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, rename, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { StowageClient, Upload } from '../client.js';
import { StowageError, errorFromAnswer, unwrap } from '../errors.js';

/** Where a download stands: `receivedBytes` came over the network in this run, `resumedBytes` were kept from an earlier one. */
export interface DownloadProgress {
  totalBytes: number;
  resumedBytes: number;
  receivedBytes: number;
  doneBytes: number;
}

export interface DownloadOptions {
  signal?: AbortSignal;
  onProgress?: (progress: DownloadProgress) => void;
}

export interface DownloadFileOptions extends DownloadOptions {
  /** Replace a file already at the target; without it, an existing target is never touched (an error with code EEXIST). */
  overwrite?: boolean;
  /**
   * Take up the bytes an interrupted download left in its temporary file (`<target>.<sha256 prefix>.part`):
   * they are hashed again and only the rest is asked for, with a Range. True by default.
   */
  resume?: boolean;
}

export interface Downloaded {
  upload: Upload;
  sha256: string;
  size: number;
}

/**
 * Downloads a confirmed upload to `target`: streamed to a temporary file beside it, its sha256 checked
 * against the upload's, then renamed into place, so `target` only ever holds the whole, verified file.
 * Bytes that do not verify are deleted and the call rejects (code `checksum_mismatch`).
 */
export async function downloadFile(
  client: StowageClient,
  uploadId: string,
  target: string,
  options: DownloadFileOptions = {},
): Promise<Downloaded & { path: string }> {
  const { signal } = options;
  const absolute = path.resolve(target);
  if (!options.overwrite && (await exists(absolute))) throw alreadyThere(absolute);
  const upload = await confirmedUpload(client, uploadId, signal);
  const size = upload.size_bytes!;
  const expected = upload.sha256!;
  const temp = `${absolute}.${expected.slice(0, 16)}.part`;

  let hash = createHash('sha256');
  let kept = options.resume === false ? await discard(temp) : await hashKept(temp, size, hash, signal);
  let received = 0;
  const report = () => options.onProgress?.({ totalBytes: size, resumedBytes: kept, receivedBytes: received, doneBytes: kept + received });
  report();
  if (kept < size) {
    const response = await fetchContent(client, uploadId, kept, signal);
    if (kept > 0 && response.status === 200) {
      // Storage sent the whole file, not the range: start over.
      kept = 0;
      hash = createHash('sha256');
      report();
    }
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        received += chunk.length;
        report();
        done(null, chunk);
      },
    });
    await pipeline(Readable.fromWeb(response.body as WebReadableStream), meter, createWriteStream(temp, { flags: kept ? 'a' : 'w' }), {
      signal,
    });
  }
  const sha256 = hash.digest('hex');
  if (sha256 !== expected || kept + received !== size) {
    await rm(temp, { force: true });
    throw mismatch(uploadId, { sha256, size: kept + received }, { sha256: expected, size });
  }
  await place(temp, absolute, options.overwrite === true);
  return { upload, sha256, size, path: absolute };
}

/**
 * Streams a confirmed upload into `out` (stdout, a socket…), hashing it on the way; rejects (code
 * `checksum_mismatch`) when the bytes were not the upload's. They have gone out by then: a consumer
 * must treat the stream as good only once this resolves. `out` is not ended.
 */
export async function downloadToStream(
  client: StowageClient,
  uploadId: string,
  out: Writable,
  options: DownloadOptions = {},
): Promise<Downloaded> {
  const { signal } = options;
  const upload = await confirmedUpload(client, uploadId, signal);
  const size = upload.size_bytes!;
  const response = await fetchContent(client, uploadId, 0, signal);
  const hash = createHash('sha256');
  let received = 0;
  for await (const chunk of Readable.fromWeb(response.body as WebReadableStream)) {
    hash.update(chunk as Buffer);
    received += (chunk as Buffer).length;
    options.onProgress?.({ totalBytes: size, resumedBytes: 0, receivedBytes: received, doneBytes: received });
    if (!out.write(chunk)) await once(out, 'drain', { signal });
  }
  const sha256 = hash.digest('hex');
  if (sha256 !== upload.sha256 || received !== size) throw mismatch(uploadId, { sha256, size: received }, { sha256: upload.sha256!, size });
  return { upload, sha256, size };
}

async function confirmedUpload(client: StowageClient, uploadId: string, signal?: AbortSignal): Promise<Upload> {
  const upload = unwrap(await client.GET('/api/v1/uploads/{data_source_id}', { params: { path: { data_source_id: uploadId } }, signal }));
  if (upload.status !== 'confirmed' || upload.sha256 === null || upload.size_bytes === null) {
    throw new StowageError(404, 'not_found', `upload ${uploadId} is ${upload.status}: only confirmed uploads have bytes to download`);
  }
  return upload;
}

/** The stored bytes from `from` on, by a fresh download URL (they are short-lived). */
async function fetchContent(client: StowageClient, uploadId: string, from: number, signal?: AbortSignal): Promise<Response> {
  const { url } = unwrap(
    await client.GET('/api/v1/uploads/{data_source_id}/download-url', { params: { path: { data_source_id: uploadId } }, signal }),
  );
  const response = await client.fetchUnkeyed(url, { headers: from > 0 ? { range: `bytes=${from}-` } : {}, signal });
  const expected = from > 0 ? [200, 206] : [200];
  if (!expected.includes(response.status) || !response.body) {
    const text = await response.text().catch(() => '');
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // storage's own words
    }
    throw errorFromAnswer(response.status, body, 'GET from storage', response.headers.get('x-request-id'));
  }
  if (response.status === 206 && !response.headers.get('content-range')?.startsWith(`bytes ${from}-`)) {
    await response.body.cancel();
    throw new Error(`storage answered the range from byte ${from} with ${response.headers.get('content-range')}`);
  }
  return response;
}

/** Hashes the bytes an earlier attempt left in `temp` and answers how many there are; 0 (and none kept) when they cannot be the start of this file. */
async function hashKept(temp: string, size: number, hash: Hash, signal?: AbortSignal): Promise<number> {
  const info = await stat(temp).catch(() => null);
  if (!info?.isFile()) return 0;
  if (info.size > size) return discard(temp);
  if (info.size === 0) return 0;
  for await (const chunk of createReadStream(temp, { end: info.size - 1, highWaterMark: 1024 * 1024, signal }))
    hash.update(chunk as Buffer);
  return info.size;
}

async function discard(temp: string): Promise<0> {
  await rm(temp, { force: true });
  return 0;
}

/** Renames into place; without `overwrite` by a hard link, which fails rather than replace a file that appeared meanwhile. */
async function place(temp: string, target: string, overwrite: boolean): Promise<void> {
  if (overwrite) return rename(temp, target);
  try {
    await link(temp, target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      await rm(temp, { force: true });
      throw alreadyThere(target);
    }
    if (!['EPERM', 'ENOTSUP', 'EXDEV', 'ENOSYS', 'EOPNOTSUPP'].includes(code ?? '')) throw error;
    // No hard links on this file system: check, then rename.
    if (await exists(target)) throw alreadyThere(target);
    return rename(temp, target);
  }
  await rm(temp, { force: true });
}

const exists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );

function alreadyThere(target: string): Error {
  return Object.assign(new Error(`${target} exists already: pass overwrite: true to replace it`), { code: 'EEXIST', path: target });
}

function mismatch(uploadId: string, got: { sha256: string; size: number }, expected: { sha256: string; size: number }): Error {
  return Object.assign(
    new Error(
      `the bytes of upload ${uploadId} do not verify: ${got.size} bytes hashing to ${got.sha256}, expected ${expected.size} bytes hashing to ${expected.sha256}`,
    ),
    { code: 'checksum_mismatch' },
  );
}
