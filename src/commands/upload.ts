import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { access, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApiError, type StowageClient } from '../client/api-client.js';
import { type Progress, createProgress } from '../client/progress.js';
import { putRange } from '../client/put-range.js';
import type { ParsedArgs } from './args.js';
import { UnreachableError, clientFrom, networkFailure } from './client.js';

interface ResumeState {
  uploadId: string;
  sha256: string;
}

/**
 * `stowage upload FILE…`: hash, then presign or multipart by size, parallel parts, resume, confirm, print ids.
 * A file that cannot be read or is refused gets one line and the others still go (exit 1 at the end);
 * a server that does not answer or a key it refuses stops the whole command, as every file would fail.
 */
export async function runUpload(args: ParsedArgs): Promise<void> {
  const client = clientFrom(args);
  const options = { parallel: args.number('parallel'), partSize: args.number('part-size'), progress: createProgress() };
  let failed = 0;
  const fail = (file: string, why: string) => {
    failed++;
    process.stderr.write(`stowage: ${file}: ${why}\n`);
  };
  try {
    for (const file of args.positional) {
      const unusable = await unreadable(file);
      if (unusable) {
        fail(file, unusable);
        continue;
      }
      try {
        const upload = await uploadOne(client, file, options);
        if (upload.status === 'confirmed') process.stdout.write(`${upload.id}\n`);
        else fail(file, `${upload.status} (${upload.failure_reason ?? 'unknown'}) — upload ${upload.id}`);
      } catch (error) {
        const keyRefused = error instanceof ApiError && (error.status === 401 || error.status === 403);
        if (error instanceof UnreachableError || keyRefused || !(error instanceof Error)) throw error;
        const lost = networkFailure(error);
        fail(file, lost ? `storage connection lost (${lost}); run the same command again to resume` : error.message);
      }
    }
  } finally {
    options.progress.stop();
  }
  if (failed) process.exitCode = 1;
}

/** Why `file` cannot be uploaded, in a few words, or null when it can be read. */
async function unreadable(file: string): Promise<string | null> {
  try {
    const info = await stat(file);
    if (info.isDirectory()) return 'is a folder (upload takes files)';
    if (!info.isFile()) return 'is not a regular file';
    await access(file, constants.R_OK);
    return null;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'no such file';
    if (code === 'EACCES' || code === 'EPERM') return 'not readable (permission denied)';
    if (code === 'ENOTDIR') return 'no such file (a part of the path is a file)';
    return (error as Error).message;
  }
}

async function uploadOne(client: StowageClient, file: string, options: { parallel: number; partSize: number; progress: Progress }) {
  const absolute = path.resolve(file);
  const info = await stat(absolute);
  const name = path.basename(absolute);
  const stateFile = resumeStatePath(client.baseUrl, absolute, info.size, info.mtimeMs);
  const saved = await readState(stateFile);
  const sha256 = saved?.sha256 ?? (await hashFile(absolute, options.progress.bar(`hash ${name}`, info.size)));

  let uploadId: string;
  let jobId: string;
  if (saved && (await stillOpen(client, saved.uploadId))) {
    uploadId = saved.uploadId;
    jobId = await sendParts(client, uploadId, absolute, name, options);
  } else if (info.size <= options.partSize) {
    const presigned = await client.call('POST', '/api/v1/uploads/presign', { name, size_bytes: info.size, sha256 });
    uploadId = presigned.data_source_id;
    if (presigned.deduplicated) return client.call('GET', `/api/v1/uploads/${uploadId}`);
    const bar = options.progress.bar(name, info.size);
    if (info.size > 0) await putRange(presigned.url, presigned.headers ?? {}, absolute, { start: 0, end: info.size - 1 }, bar.add);
    else await fetch(presigned.url, { method: 'PUT', headers: presigned.headers ?? {}, body: '' });
    bar.done();
    jobId = (await client.call('POST', '/api/v1/uploads/confirm', { data_source_id: uploadId })).job_id;
  } else {
    const started = await client.call('POST', '/api/v1/uploads/multipart', {
      name,
      size_bytes: info.size,
      sha256,
      part_size: options.partSize,
    });
    uploadId = started.data_source_id;
    if (started.deduplicated) return client.call('GET', `/api/v1/uploads/${uploadId}`);
    await writeState(stateFile, { uploadId, sha256 });
    jobId = await sendParts(client, uploadId, absolute, name, options);
  }
  const verdict = await client.waitForVerdict(uploadId, jobId);
  await rm(stateFile, { force: true });
  return verdict;
}

/** Uploads the parts storage does not hold yet, `parallel` at a time, then completes. */
async function sendParts(
  client: StowageClient,
  uploadId: string,
  file: string,
  name: string,
  options: { parallel: number; progress: Progress },
) {
  const held = await client.call('GET', `/api/v1/uploads/${uploadId}/parts`);
  const total = (await stat(file)).size;
  const { part_size: partSize, part_count: partCount } = held as { part_size: number; part_count: number };
  const sizeOf = (n: number) => (n < partCount ? partSize : total - partSize * (partCount - 1));
  const have = new Set<number>(
    held.parts.filter((p: StoredPart) => p.size_bytes === sizeOf(p.part_number)).map((p: StoredPart) => p.part_number),
  );
  const bar = options.progress.bar(name, total);
  for (const n of have) bar.add(sizeOf(n));
  const todo = Array.from({ length: partCount }, (_, i) => i + 1).filter((n) => !have.has(n));
  let next = 0;
  // Each part is presigned just before it is sent: URLs of a long upload would expire otherwise.
  const worker = async () => {
    while (next < todo.length) {
      const partNumber = todo[next++];
      const [part] = (await client.call('POST', `/api/v1/uploads/${uploadId}/parts`, { part_numbers: [partNumber] })).parts;
      const start = (partNumber - 1) * partSize;
      await putRange(part.url, part.headers, file, { start, end: start + sizeOf(partNumber) - 1 }, bar.add);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.parallel, todo.length) }, worker));
  bar.done();
  const stored = await client.call('GET', `/api/v1/uploads/${uploadId}/parts`);
  const parts = stored.parts.map((p: StoredPart) => ({ part_number: p.part_number, etag: p.etag }));
  return (await client.call('POST', `/api/v1/uploads/${uploadId}/complete`, { parts })).job_id as string;
}

interface StoredPart {
  part_number: number;
  etag: string;
  size_bytes: number;
}

/** A saved multipart upload is resumable while the server still takes parts for it. */
async function stillOpen(client: StowageClient, uploadId: string): Promise<boolean> {
  try {
    await client.call('GET', `/api/v1/uploads/${uploadId}/parts`);
    return true;
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 409)) return false;
    throw error;
  }
}

async function hashFile(file: string, bar: { add(n: number): void; done(): void }): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer);
    bar.add((chunk as Buffer).length);
  }
  bar.done();
  return hash.digest('hex');
}

/** Resume state lives in the user's cache folder, keyed by server, path, size and mtime. */
function resumeStatePath(baseUrl: string, file: string, size: number, mtimeMs: number): string {
  const cache = process.env.STOWAGE_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'stowage');
  const id = createHash('sha256').update(`${baseUrl}\0${file}\0${size}\0${mtimeMs}`).digest('hex').slice(0, 32);
  return path.join(cache, 'uploads', `${id}.json`);
}

async function readState(file: string): Promise<ResumeState | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as ResumeState;
  } catch {
    return null;
  }
}

async function writeState(file: string, state: ResumeState): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(state), { mode: 0o600 });
}
