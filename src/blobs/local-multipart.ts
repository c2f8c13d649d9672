import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobError, type PartReceipt, type StoredPart } from './blob-store.js';
import { FlushingWriter } from './flushing-writer.js';
import { MeteredStream } from './metered-stream.js';
import { checkPartList, checkPartNumber, sameEtag } from './multipart.js';
import { PrefixHasher } from './prefix-hasher.js';

const UPLOAD_ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PART_FILE_RE = /^([1-9]\d{0,4})\.part$/;
const DATA_FILE = 'data';

interface UploadMeta {
  key: string;
  contentType: string | null;
  partSize: number;
}

/** What `<n>.part` holds: the part's bytes live in the data file at (n − 1) × partSize. */
interface PartRecord {
  etag: string;
  size: number;
}

export interface LocalMultipartOptions {
  /** One sub-folder per upload. */
  folder: string;
  /** On the same file system as `folder`, so renames between the two are atomic. */
  tmpDir: string;
  minPartBytes: number;
  chunkBytes: number;
  flushEveryBytes: number;
  /** At completion, hash at most this much not yet hashed; past it the confirm job hashes the blob. */
  finishHashBytes: number;
}

interface UploadState {
  writes: Set<Promise<unknown>>;
  sealing: boolean;
  hasher: PrefixHasher;
  lastUsed: number;
}

/**
 * Uploads nobody touched for this long lose their in-memory state: ended elsewhere (another process's
 * sweeper aborted them) or abandoned. Should one come back, completing it only costs a full hash.
 */
const FORGET_IDLE_MS = 24 * 3600_000;

/**
 * Multipart uploads of the local driver. Every part is written straight into its place in one data
 * file (the layout is fixed when the upload starts), so completing is a truncate and a link, not a
 * second copy of gigabytes. A part's record (ETag, size) is removed while its bytes are rewritten and
 * renamed into place after, so a part is listed only with the bytes its ETag describes.
 */
export class LocalMultipart {
  /**
   * Per upload in this process: writes in flight (completion waits for them), whether it is being
   * completed, and the sha256 of its leading parts, hashed in the background while later parts arrive
   * so the whole-file digest is ready at completion. Lost on restart, which only costs a re-hash.
   */
  private readonly active = new Map<string, UploadState>();
  /** One write at a time per part number: two writers of one region would interleave their bytes. */
  private readonly partLocks = new Map<string, Promise<unknown>>();

  constructor(private readonly o: LocalMultipartOptions) {}

  async create(key: string, contentType: string | null, partSize: number): Promise<string> {
    if (!Number.isSafeInteger(partSize) || partSize < 1) throw new Error(`a part size must be a positive integer, not ${partSize}`);
    const uploadId = randomUUID();
    const folder = this.folderOf(uploadId);
    await mkdir(folder, { recursive: true });
    await writeFile(path.join(folder, DATA_FILE), '');
    const meta: UploadMeta = { key, contentType, partSize };
    await writeFile(path.join(folder, 'meta.json'), JSON.stringify(meta));
    return uploadId;
  }

  /** Stores one part, replacing an earlier one with the same number (as S3 does). */
  async putPart(key: string, uploadId: string, partNumber: number, body: Readable, size?: number): Promise<StoredPart> {
    checkPartNumber(partNumber);
    const { folder, meta } = await this.folderFor(key, uploadId);
    if (size != null && size > meta.partSize) {
      throw new BlobError('too_large', `part ${partNumber} is ${size} bytes; this upload's parts are at most ${meta.partSize}`);
    }
    const state = this.stateOf(uploadId);
    if (state.sealing) throw new BlobError('missing', `multipart upload ${uploadId} is being completed`);
    const lockKey = `${uploadId}:${partNumber}`;
    const write = (this.partLocks.get(lockKey) ?? Promise.resolve())
      .catch(() => {})
      .then(() => this.writePart(folder, meta, partNumber, body, size))
      .then((part) => {
        this.hashAhead(folder, meta, state);
        return part;
      });
    this.partLocks.set(lockKey, write);
    state.writes.add(write);
    try {
      return await write;
    } finally {
      state.writes.delete(write);
      if (this.partLocks.get(lockKey) === write) this.partLocks.delete(lockKey);
    }
  }

  async listParts(key: string, uploadId: string): Promise<StoredPart[]> {
    const { folder } = await this.folderFor(key, uploadId);
    const names = await readdir(folder).catch((error) => {
      throw isGone(error) ? new BlobError('missing', `multipart upload ${uploadId} has ended`) : error;
    });
    const parts: StoredPart[] = [];
    for (const name of names) {
      const partNumber = partNumberOf(name);
      if (partNumber === null) continue;
      // Null when the part is being rewritten, or the upload ended while we listed.
      const record = await readRecord(folder, partNumber);
      if (record) parts.push({ partNumber, etag: record.etag, size: record.size });
    }
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  /**
   * Checks the listed parts against the stored ones, cuts the data file to their total and syncs it;
   * answers the file, ready to be linked as the blob. New parts are refused from here on; call
   * `discard` once the file is linked, or `unseal` when it could not be.
   */
  async seal(key: string, uploadId: string, parts: readonly PartReceipt[]): Promise<{ file: string; size: number; sha256: string | null }> {
    checkPartList(parts);
    const { folder, meta } = await this.folderFor(key, uploadId);
    const state = this.stateOf(uploadId);
    if (state.sealing) throw new BlobError('missing', `multipart upload ${uploadId} is already being completed`);
    state.sealing = true;
    try {
      await Promise.allSettled([...state.writes]);
      let size = 0;
      for (const [index, part] of parts.entries()) size += await this.checkedSize(folder, meta, part, index, index === parts.length - 1);
      const file = path.join(folder, DATA_FILE);
      // A longer last part written earlier and replaced since leaves bytes past the end.
      await truncate(file, size);
      const etags = new Map(parts.map((part) => [part.partNumber, part.etag]));
      let sha256 = await state.hasher.finish(file, meta.partSize, etags, this.o.finishHashBytes);
      // Another process on the shared folder may have rewritten a part while we hashed: then the digest is not vouched for.
      if (sha256 !== null && !(await this.stillStored(folder, parts))) sha256 = null;
      const handle = await open(file, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      return { file, size, sha256 };
    } catch (error) {
      this.unseal(uploadId);
      throw error;
    }
  }

  unseal(uploadId: string): void {
    const state = this.active.get(uploadId);
    if (state) state.sealing = false;
  }

  /** Drops the upload and its parts; quiet when it is already gone. */
  async abort(key: string, uploadId: string): Promise<void> {
    try {
      await this.folderFor(key, uploadId);
    } catch (error) {
      if (error instanceof BlobError && error.kind === 'missing') return;
      throw error;
    }
    await this.discard(uploadId);
  }

  /**
   * Removes uploads untouched since `olderThan`: those whose row was never committed (the process died
   * between starting the upload and saving it) have no row for the sweeper to expire and abort. The
   * caller's cut-off is past the pending lifetime, so any upload with a row has expired by then.
   */
  async removeAbandoned(olderThan: Date): Promise<number> {
    let removed = 0;
    for (const uploadId of await readdir(this.o.folder).catch(() => [] as string[])) {
      if (!UPLOAD_ID_RE.test(uploadId)) continue;
      const folder = this.folderOf(uploadId);
      // The data file changes with every part; a folder without one died before its first write.
      const touched = (
        await stat(path.join(folder, DATA_FILE))
          .catch(() => stat(folder))
          .catch(() => null)
      )?.mtime;
      if (!touched || touched >= olderThan) continue;
      await this.discard(uploadId);
      removed++;
    }
    return removed;
  }

  /**
   * Moved aside before removal: a part landing meanwhile then finds no folder (and reports the upload
   * gone) instead of refilling a half-removed one.
   */
  async discard(uploadId: string): Promise<void> {
    void this.active.get(uploadId)?.hasher.dispose();
    this.active.delete(uploadId);
    const aside = path.join(this.o.tmpDir, `discarded-${randomUUID()}`);
    try {
      await rename(this.folderOf(uploadId), aside);
    } catch (error) {
      if (isGone(error)) return;
      throw error;
    }
    await rm(aside, { recursive: true, force: true });
  }

  private async writePart(folder: string, meta: UploadMeta, partNumber: number, body: Readable, size?: number): Promise<StoredPart> {
    const recordFile = path.join(folder, partFileName(partNumber));
    await unlink(recordFile).catch((error) => {
      if (!isGone(error)) throw error;
    });
    const meter = new MeteredStream({ size }, this.o.chunkBytes, null, meta.partSize);
    const handle = await open(path.join(folder, DATA_FILE), 'r+').catch((error) => {
      throw isGone(error) ? new BlobError('missing', 'the multipart upload has ended') : error;
    });
    try {
      const start = (partNumber - 1) * meta.partSize;
      await pipeline(
        body,
        meter,
        new FlushingWriter(handle, { start, flushEveryBytes: this.o.flushEveryBytes, highWaterMark: this.o.chunkBytes }),
      );
      // Durable before its record exists: a record surviving a crash never vouches for bytes that did not.
      await handle.datasync();
    } finally {
      await handle.close();
    }
    const record: PartRecord = { etag: newEtag(), size: meter.measured().size };
    const temp = path.join(this.o.tmpDir, randomUUID());
    await writeFile(temp, JSON.stringify(record));
    await rename(temp, recordFile).catch(async (error) => {
      await unlink(temp).catch(() => {});
      throw isGone(error) ? new BlobError('missing', 'the multipart upload has ended') : error;
    });
    return { partNumber, ...record };
  }

  /** The size of one listed part, once its number, ETag and size fit the upload's layout. */
  private async checkedSize(folder: string, meta: UploadMeta, part: PartReceipt, index: number, last: boolean): Promise<number> {
    // Parts sit at fixed offsets, so a gap in the numbers would be a hole in the file.
    if (part.partNumber !== index + 1) {
      throw new BlobError(
        'invalid_part',
        `parts must be numbered 1 to ${index + 1} without gaps; found ${part.partNumber} at position ${index + 1}`,
      );
    }
    const record = await readRecord(folder, part.partNumber);
    if (!record) throw new BlobError('invalid_part', `part ${part.partNumber} is not stored`);
    if (!sameEtag(record.etag, part.etag)) {
      throw new BlobError('invalid_part', `part ${part.partNumber} has etag ${record.etag}, not ${part.etag}`);
    }
    if (!last && record.size < this.o.minPartBytes) {
      throw new BlobError(
        'part_too_small',
        `part ${part.partNumber} has ${record.size} bytes; all but the last need ${this.o.minPartBytes}`,
      );
    }
    if (!last && record.size !== meta.partSize) {
      throw new BlobError('invalid_part', `part ${part.partNumber} has ${record.size} bytes; all but the last must have ${meta.partSize}`);
    }
    return record.size;
  }

  /** True while every listed part's record still names the listed write. */
  private async stillStored(folder: string, parts: readonly PartReceipt[]): Promise<boolean> {
    for (const part of parts) {
      const record = await readRecord(folder, part.partNumber);
      if (!record || !sameEtag(record.etag, part.etag)) return false;
    }
    return true;
  }

  private stateOf(uploadId: string): UploadState {
    const now = Date.now();
    let state = this.active.get(uploadId);
    if (!state) {
      this.forgetIdle(now);
      state = { writes: new Set(), sealing: false, hasher: new PrefixHasher(), lastUsed: now };
      this.active.set(uploadId, state);
    }
    state.lastUsed = now;
    return state;
  }

  private forgetIdle(now: number): void {
    for (const [uploadId, state] of this.active) {
      if (now - state.lastUsed > FORGET_IDLE_MS && state.writes.size === 0 && !state.sealing) {
        void state.hasher.dispose();
        this.active.delete(uploadId);
      }
    }
  }

  /** Extends the background hash over the full-size parts that now follow it without a gap. */
  private hashAhead(folder: string, meta: UploadMeta, state: UploadState): void {
    state.hasher.extend(path.join(folder, DATA_FILE), meta.partSize, async (partNumber) => {
      const record = await readRecord(folder, partNumber);
      // Only full parts: a shorter one may be the last, whose length is known only at completion.
      return record?.size === meta.partSize ? record.etag : null;
    });
  }

  /** The upload's folder and layout, refusing ids that are unknown, ended, or started for another key. */
  private async folderFor(key: string, uploadId: string): Promise<{ folder: string; meta: UploadMeta }> {
    const folder = this.folderOf(uploadId);
    const meta = await readFile(path.join(folder, 'meta.json'), 'utf8')
      .then((text) => JSON.parse(text) as UploadMeta)
      .catch((error) => {
        if (isGone(error) || error instanceof SyntaxError) return null;
        throw error;
      });
    if (!meta || meta.key !== key) throw new BlobError('missing', `no multipart upload ${uploadId} for ${key}`);
    return { folder, meta };
  }

  private folderOf(uploadId: string): string {
    // The id becomes a path, so nothing but the shape create() makes gets near the file system.
    if (!UPLOAD_ID_RE.test(uploadId)) throw new BlobError('missing', `no multipart upload ${uploadId}`);
    return path.join(this.o.folder, uploadId);
  }
}

const partFileName = (partNumber: number) => `${partNumber}.part`;

/**
 * A fresh ETag for every write of a part, shaped like S3's (quoted 32 hex). Not the MD5 S3 gives: an
 * ETag is opaque to clients and only has to name the write completion will join, and MD5 cost 2.5 CPU
 * seconds per 2 GiB while proving nothing the whole-file sha256 does not (nobody sent an MD5 to check).
 */
const newEtag = () => `"${randomBytes(16).toString('hex')}"`;

function partNumberOf(fileName: string): number | null {
  const match = PART_FILE_RE.exec(fileName);
  return match ? Number(match[1]) : null;
}

async function readRecord(folder: string, partNumber: number): Promise<PartRecord | null> {
  try {
    return JSON.parse(await readFile(path.join(folder, partFileName(partNumber)), 'utf8')) as PartRecord;
  } catch (error) {
    if (isGone(error) || error instanceof SyntaxError) return null;
    throw error;
  }
}

const isGone = (error: unknown) => ['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '');
