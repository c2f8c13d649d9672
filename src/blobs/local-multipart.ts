import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { type FileHandle, mkdir, open, readFile, readdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobError, type PartReceipt, type StoredPart } from './blob-store.js';
import { MeteredStream } from './metered-stream.js';
import { checkPartList, checkPartNumber, sameEtag } from './multipart.js';

/**
 * A part file starts with the raw MD5 of its bytes, so one rename swaps bytes and ETag together: a
 * part re-uploaded while someone lists or completes is never seen with the other upload's ETag.
 */
const HEADER_BYTES = 16;
const UPLOAD_ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PART_FILE_RE = /^([1-9]\d{0,4})\.part$/;

interface UploadMeta {
  key: string;
  contentType: string | null;
}

interface OpenedPart {
  handle: FileHandle;
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
}

/** Multipart uploads of the local driver: parts wait in `<folder>/<uploadId>/` until completed or aborted. */
export class LocalMultipart {
  constructor(private readonly o: LocalMultipartOptions) {}

  async create(key: string, contentType: string | null): Promise<string> {
    const uploadId = randomUUID();
    const folder = this.folderOf(uploadId);
    await mkdir(folder, { recursive: true });
    const meta: UploadMeta = { key, contentType };
    await writeFile(path.join(folder, 'meta.json'), JSON.stringify(meta));
    return uploadId;
  }

  /** Stores one part, replacing an earlier one with the same number (as S3 does). */
  async putPart(key: string, uploadId: string, partNumber: number, body: Readable, size?: number): Promise<StoredPart> {
    checkPartNumber(partNumber);
    const folder = await this.folderFor(key, uploadId);
    const temp = path.join(this.o.tmpDir, randomUUID());
    const meter = new MeteredStream({ size }, this.o.chunkBytes, 'md5');
    try {
      // The bytes go after room for the header, which is known only once all of them have passed.
      await pipeline(body, meter, createWriteStream(temp, { start: HEADER_BYTES, highWaterMark: this.o.chunkBytes }));
      const measured = meter.measured();
      await writeHeader(temp, Buffer.from(measured.digest, 'hex'));
      await rename(temp, path.join(folder, partFileName(partNumber))).catch((error) => {
        throw isGone(error) ? new BlobError('missing', `multipart upload ${uploadId} has ended`) : error;
      });
      return { partNumber, etag: `"${measured.digest}"`, size: measured.size };
    } finally {
      await unlink(temp).catch(() => {});
    }
  }

  async listParts(key: string, uploadId: string): Promise<StoredPart[]> {
    const folder = await this.folderFor(key, uploadId);
    const names = await readdir(folder).catch((error) => {
      throw isGone(error) ? new BlobError('missing', `multipart upload ${uploadId} has ended`) : error;
    });
    const parts: StoredPart[] = [];
    for (const name of names) {
      const partNumber = partNumberOf(name);
      if (partNumber === null) continue;
      // Null when the upload ended while we listed.
      const opened = await openPart(path.join(folder, name)).catch(nullWhenGone);
      if (!opened) continue;
      await opened.handle.close();
      parts.push({ partNumber, etag: opened.etag, size: opened.size });
    }
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  /** Checks the listed parts, then streams them one after another into `target`; answers its size. */
  async assemble(key: string, uploadId: string, parts: readonly PartReceipt[], target: string): Promise<number> {
    checkPartList(parts);
    const folder = await this.folderFor(key, uploadId);
    // All checked before a byte is copied, so a bad list fails at once rather than after gigabytes.
    let size = 0;
    for (const [index, part] of parts.entries()) {
      const opened = await this.openListed(folder, part, index === parts.length - 1);
      await opened.handle.close();
      size += opened.size;
    }
    await pipeline(this.bytesOf(folder, parts), createWriteStream(target, { highWaterMark: this.o.chunkBytes }));
    return size;
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
   * Moved aside before removal: a part landing meanwhile then finds no folder (and reports the upload
   * gone) instead of refilling a half-removed one.
   */
  async discard(uploadId: string): Promise<void> {
    const aside = path.join(this.o.tmpDir, `discarded-${randomUUID()}`);
    try {
      await rename(this.folderOf(uploadId), aside);
    } catch (error) {
      if (isGone(error)) return;
      throw error;
    }
    await rm(aside, { recursive: true, force: true });
  }

  private async *bytesOf(folder: string, parts: readonly PartReceipt[]): AsyncGenerator<Buffer> {
    for (const [index, part] of parts.entries()) {
      // Checked again on the very handle that is read, so a part re-uploaded since cannot slip in.
      const opened = await this.openListed(folder, part, index === parts.length - 1);
      yield* createReadStream('', { fd: opened.handle, start: HEADER_BYTES, highWaterMark: this.o.chunkBytes });
    }
  }

  private async openListed(folder: string, part: PartReceipt, last: boolean): Promise<OpenedPart> {
    const opened = await openPart(path.join(folder, partFileName(part.partNumber))).catch((error) => {
      throw isGone(error) ? new BlobError('invalid_part', `part ${part.partNumber} is not stored`) : error;
    });
    let problem: BlobError | null = null;
    if (!sameEtag(opened.etag, part.etag)) {
      problem = new BlobError('invalid_part', `part ${part.partNumber} has etag ${opened.etag}, not ${part.etag}`);
    } else if (!last && opened.size < this.o.minPartBytes) {
      problem = new BlobError('part_too_small', `part ${part.partNumber} has ${opened.size} bytes; all but the last need ${this.o.minPartBytes}`);
    }
    if (!problem) return opened;
    await opened.handle.close();
    throw problem;
  }

  /** The upload's folder, refusing ids that are unknown, ended, or started for another key. */
  private async folderFor(key: string, uploadId: string): Promise<string> {
    const folder = this.folderOf(uploadId);
    const meta = await readFile(path.join(folder, 'meta.json'), 'utf8')
      .then((text) => JSON.parse(text) as UploadMeta)
      .catch((error) => {
        if (isGone(error) || error instanceof SyntaxError) return null;
        throw error;
      });
    if (meta?.key !== key) throw new BlobError('missing', `no multipart upload ${uploadId} for ${key}`);
    return folder;
  }

  private folderOf(uploadId: string): string {
    // The id becomes a path, so nothing but the shape create() makes gets near the file system.
    if (!UPLOAD_ID_RE.test(uploadId)) throw new BlobError('missing', `no multipart upload ${uploadId}`);
    return path.join(this.o.folder, uploadId);
  }
}

const partFileName = (partNumber: number) => `${partNumber}.part`;

function partNumberOf(fileName: string): number | null {
  const match = PART_FILE_RE.exec(fileName);
  return match ? Number(match[1]) : null;
}

async function openPart(file: string): Promise<OpenedPart> {
  const handle = await open(file, 'r');
  try {
    const header = Buffer.alloc(HEADER_BYTES);
    await handle.read(header, 0, HEADER_BYTES, 0);
    const { size } = await handle.stat();
    return { handle, etag: `"${header.toString('hex')}"`, size: size - HEADER_BYTES };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

async function writeHeader(file: string, header: Buffer): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.write(header, 0, header.length, 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function nullWhenGone(error: unknown): null {
  if (isGone(error)) return null;
  throw error;
}

const isGone = (error: unknown) => ['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '');
