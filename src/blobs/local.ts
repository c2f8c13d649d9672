import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, constants, link, mkdir, open, readFile, readdir, rm, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance } from 'fastify';
import {
  type BlobAdmission,
  BlobError,
  type BlobExpectations,
  type BlobInfo,
  type BlobStore,
  type ByteRange,
  type ListedBlob,
  type PartReceipt,
  type PresignOptions,
  type PresignedRequest,
  type StoredBlob,
  type StoredPart,
} from './blob-store.js';
import { FlushingWriter } from './flushing-writer.js';
import { localBlobRoutes } from './local-routes.js';
import { TrailingHasher } from './trailing-hasher.js';
import { LocalMultipart } from './local-multipart.js';
import { MeteredStream, checkDeclaredSha256 } from './metered-stream.js';
import { MIN_PART_BYTES, checkPartNumber } from './multipart.js';
import type { BlobUrlSigner } from './signed-url.js';

// Measured: hashing with 1 MiB reads runs ~1.6× faster than with Node's default 64 KiB.
export const READ_CHUNK_BYTES = 1024 * 1024;
// Large enough that a flush is one long sequential write, small enough that little is left for the final fsync.
export const FLUSH_EVERY_BYTES = 64 * 1024 * 1024;
// What a completion may spend hashing in its request (≈ 0.3 s); the confirm job hashes anything longer.
const FINISH_HASH_BYTES = 512 * 1024 * 1024;
// How far the hash of a blob being written trails the writer: few thread round trips, little left at the end.
const HASH_STEP_BYTES = 8 * 1024 * 1024;
const SHA256_RE = /^[0-9a-f]{64}$/;
const KEY_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/;

/** Blobs as files under one folder; the server itself answers the HMAC-signed URLs (see local-routes). */
export class LocalBlobStore implements BlobStore {
  readonly driver = 'local' as const;
  private readonly tmpDir: string;
  private readonly multipartDir: string;
  private readonly digestDir: string;
  private readonly multipart: LocalMultipart;

  constructor(
    private readonly root: string,
    private readonly signer: BlobUrlSigner,
    /** minPartBytes: what every multipart part but the last must hold (S3's 5 MiB unless a test lowers it). */
    options: { minPartBytes?: number } = {},
  ) {
    // Dot folders: blob keys cannot start with a dot, so these never collide with a key.
    this.tmpDir = path.join(root, '.tmp');
    this.multipartDir = path.join(root, '.multipart');
    // The sha256 this store computed while writing a blob, so the confirm job need not read it again.
    this.digestDir = path.join(root, '.sha256');
    this.multipart = new LocalMultipart({
      folder: this.multipartDir,
      tmpDir: this.tmpDir,
      minPartBytes: options.minPartBytes ?? MIN_PART_BYTES,
      chunkBytes: READ_CHUNK_BYTES,
      flushEveryBytes: FLUSH_EVERY_BYTES,
      finishHashBytes: FINISH_HASH_BYTES,
    });
  }

  async init(): Promise<void> {
    await mkdir(this.tmpDir, { recursive: true });
    await mkdir(this.multipartDir, { recursive: true });
    await mkdir(this.digestDir, { recursive: true });
  }

  async presignPut(key: string, expect: BlobExpectations, options: PresignOptions): Promise<PresignedRequest> {
    const token = this.signer.sign({
      method: 'PUT',
      key: this.checked(key),
      exp: expiry(options.expiresInSeconds),
      ...(expect.size != null && { size: expect.size }),
      ...(expect.size == null && expect.maxSize != null && { maxSize: expect.maxSize }),
      ...(expect.sha256 && { sha256: expect.sha256.toLowerCase() }),
      ...(expect.contentType && { contentType: expect.contentType }),
    });
    const headers: Record<string, string> = {};
    if (expect.contentType) headers['Content-Type'] = expect.contentType;
    return { url: `${options.baseUrl}/blob/${token}`, method: 'PUT', headers };
  }

  async presignGet(key: string, download: { filename: string; contentType: string | null }, options: PresignOptions) {
    const token = this.signer.sign({
      method: 'GET',
      key: this.checked(key),
      exp: expiry(options.expiresInSeconds),
      filename: download.filename,
      ...(download.contentType && { contentType: download.contentType }),
    });
    return `${options.baseUrl}/blob/${token}`;
  }

  async stat(key: string): Promise<BlobInfo | null> {
    try {
      const info = await stat(this.pathOf(key));
      const sha256 = await this.digestOf(key);
      return sha256 ? { size: info.size, sha256 } : { size: info.size };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    const file = this.pathOf(key);
    // Open first so a missing blob is an error here, not a late 'error' event on the stream.
    const handle = await open(file, 'r').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') throw new BlobError('missing', `no blob at ${key}`);
      throw error;
    });
    return createReadStream('', { fd: handle, highWaterMark: READ_CHUNK_BYTES, start: range?.start, end: range?.end });
  }

  async put(key: string, body: Readable, expect: BlobExpectations = {}): Promise<StoredBlob> {
    const target = this.pathOf(key);
    const temp = this.tempPath();
    // Counts and enforces the declared size (or the bound) as bytes pass; the sha256 is taken from the file as it grows.
    const meter = new MeteredStream({ size: expect.size }, READ_CHUNK_BYTES, null, expect.maxSize ?? Infinity);
    const hasher = new TrailingHasher(temp, HASH_STEP_BYTES);
    try {
      const handle = await open(temp, 'w');
      try {
        const writer = new FlushingWriter(handle, {
          flushEveryBytes: FLUSH_EVERY_BYTES,
          highWaterMark: READ_CHUNK_BYTES,
          onWritten: (position) => hasher.written(position),
        });
        await pipeline(body, meter, writer);
        await handle.sync();
      } finally {
        await handle.close();
      }
      const { size } = meter.measured();
      const stored = { size, sha256: await hasher.digest(size) };
      checkDeclaredSha256(expect, stored.sha256);
      await publish(temp, target, key);
      await this.recordDigest(key, stored.sha256);
      return stored;
    } finally {
      await hasher.dispose();
      await unlink(temp).catch(() => {});
    }
  }

  async createMultipart(key: string, options: { contentType: string | null; partSize: number }): Promise<{ uploadId: string }> {
    return { uploadId: await this.multipart.create(this.checked(key), options.contentType, options.partSize) };
  }

  async presignPart(
    key: string,
    uploadId: string,
    partNumber: number,
    options: PresignOptions & { size?: number | null },
  ): Promise<PresignedRequest> {
    const token = this.signer.sign({
      method: 'PUT',
      key: this.checked(key),
      exp: expiry(options.expiresInSeconds),
      uploadId,
      partNumber: checkPartNumber(partNumber),
      ...(options.size != null && { size: options.size }),
    });
    return { url: `${options.baseUrl}/blob/${token}`, method: 'PUT', headers: {} };
  }

  /** The bytes of a part PUT to a signed part URL (see local-routes). */
  routes(options: { admit: BlobAdmission }) {
    return (app: FastifyInstance) => localBlobRoutes(app, { store: this, signer: this.signer, admit: options.admit });
  }

  async putPart(key: string, uploadId: string, partNumber: number, body: Readable, size?: number): Promise<StoredPart> {
    return this.multipart.putPart(this.checked(key), uploadId, partNumber, body, size);
  }

  async listParts(key: string, uploadId: string): Promise<StoredPart[]> {
    return this.multipart.listParts(this.checked(key), uploadId);
  }

  async completeMultipart(key: string, uploadId: string, parts: PartReceipt[]): Promise<{ size: number }> {
    const target = this.pathOf(key);
    // Before assembling, not only at link time: no point copying gigabytes that cannot be kept.
    if (await this.stat(key)) throw new BlobError('exists', `a blob already exists at ${key}`);
    const { file, size, sha256 } = await this.multipart.seal(key, uploadId, parts);
    try {
      await publish(file, target, key);
    } catch (error) {
      this.multipart.unseal(uploadId);
      throw error;
    }
    if (sha256) await this.recordDigest(key, sha256);
    await this.multipart.discard(uploadId);
    return { size };
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    await this.multipart.abort(this.checked(key), uploadId);
  }

  async delete(key: string): Promise<void> {
    // The digest first: a crash in between leaves a blob without one, which only costs a re-hash.
    await rm(path.join(this.digestDir, this.checked(key)), { force: true });
    await rm(this.pathOf(key), { force: true });
  }

  async list(options: { after: string; limit: number }): Promise<ListedBlob[]> {
    const found: ListedBlob[] = [];
    // Depth-first in name order is key order, so the walk can stop once it has `limit` keys.
    const walk = async (dir: string, prefix: string): Promise<void> => {
      const entries = (await readdir(dir, { withFileTypes: true }).catch(() => [])).sort((a, b) => (a.name < b.name ? -1 : 1));
      for (const entry of entries) {
        if (found.length >= options.limit) return;
        if (entry.name.startsWith('.')) continue;
        const key = prefix ? `${prefix}/${entry.name}` : entry.name;
        if (entry.isDirectory()) {
          // Every key below this folder sorts before `${key}/\uffff`: skip folders wholly behind the cursor.
          if (options.after > `${key}/\uffff`) continue;
          await walk(path.join(dir, entry.name), key);
        } else if (key > options.after) {
          const info = await stat(path.join(dir, entry.name)).catch(() => null);
          if (info) found.push({ key, modifiedAt: info.mtime });
        }
      }
    };
    await walk(this.root, '');
    return found;
  }

  async removeLeftovers(olderThan: Date): Promise<number> {
    let removed = 0;
    for (const name of await readdir(this.tmpDir).catch(() => [] as string[])) {
      const file = path.join(this.tmpDir, name);
      const info = await stat(file).catch(() => null);
      if (info && info.mtime < olderThan) {
        await rm(file, { recursive: true, force: true });
        removed++;
      }
    }
    return removed + (await this.multipart.removeAbandoned(olderThan));
  }

  async ping(): Promise<void> {
    await access(this.tmpDir, constants.W_OK);
  }

  private async digestOf(key: string): Promise<string | null> {
    const text = await readFile(path.join(this.digestDir, key), 'utf8').catch(() => null);
    return text && SHA256_RE.test(text) ? text : null;
  }

  /** Not fsynced: a digest lost in a crash only means the confirm job hashes the blob itself. */
  private async recordDigest(key: string, sha256: string): Promise<void> {
    const file = path.join(this.digestDir, key);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, sha256);
  }

  private tempPath(): string {
    return path.join(this.tmpDir, randomUUID());
  }

  private pathOf(key: string): string {
    return path.join(this.root, this.checked(key));
  }

  private checked(key: string): string {
    if (!KEY_RE.test(key) || key.split('/').some((s) => s === '..' || s === '.')) {
      throw new BlobError('missing', 'invalid blob key');
    }
    return key;
  }
}

const expiry = (seconds: number) => Math.floor(Date.now() / 1000) + seconds;

/** Makes a finished file, already synced to disk by its writer, the blob at `target`, never replacing one already there. */
async function publish(temp: string, target: string, key: string): Promise<void> {
  await mkdir(path.dirname(target), { recursive: true });
  // link, not rename: it fails when the key exists, so a blob is never overwritten.
  await link(temp, target).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'EEXIST') throw new BlobError('exists', `a blob already exists at ${key}`);
    throw error;
  });
}
