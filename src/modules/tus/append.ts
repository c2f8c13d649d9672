import { Readable } from 'node:stream';
import { BlobError } from '../../blobs/blob-store.js';
import { conflict, notFound, payloadTooLarge } from '../../errors.js';
import { newId } from '../../ids.js';
import type { ModuleDeps } from '../module.js';
import { type TusUpload, tusRepo } from './repo.js';

/** Bytes of a PATCH on their way to storage: at most a part's worth, plus the chunk that filled it. */
class PendingBytes {
  private chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The first `n` bytes, as the chunks that hold them (the last one cut where `n` ends). */
  take(n: number): Buffer[] {
    const taken: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const head = this.chunks[0];
      if (head.length <= left) {
        taken.push(head);
        this.chunks.shift();
        left -= head.length;
      } else {
        taken.push(head.subarray(0, left));
        this.chunks[0] = head.subarray(left);
        left = 0;
      }
    }
    this.length -= n;
    return taken;
  }
}

export interface AppendOptions {
  /** Held by this PATCH (tusRepo.claim); every offset it records names it. */
  writer: string;
  leaseSeconds: number;
  /** Assembles the stored parts and enqueues the confirm job, once the last byte is in storage. */
  finish(): Promise<void>;
}

/**
 * One PATCH of a tus upload, written into the upload's multipart upload. Bytes are gathered into
 * parts of the upload's part size and stored as each fills; the bytes past the last full part (the
 * tail) are kept as a blob of their own when the PATCH ends, however it ends: a client whose
 * connection dropped resumes from every byte that arrived, on whichever process gets its next PATCH,
 * which starts its first part with that tail. The recorded offset moves only once the bytes it
 * counts are in storage, and never to the end before the parts are assembled: an upload whose last
 * part was stored but not assembled (the process died in between) takes that part again.
 */
export class TusAppend {
  private readonly partSize: number;
  private readonly size: number;
  private readonly pending = new PendingBytes();
  private partsDone: number;
  /** The offset recorded in the database: bytes held in storage as full parts and the tail. */
  private offset: number;
  private tailKey: string | null;

  constructor(
    private readonly deps: Pick<ModuleDeps, 'db' | 'blobs'>,
    private readonly upload: TusUpload,
    private readonly options: AppendOptions,
  ) {
    this.partSize = Number(upload.part_size);
    this.size = Number(upload.declared_size);
    this.offset = Number(upload.upload_offset);
    this.partsDone = Math.floor(this.offset / this.partSize);
    this.tailKey = upload.tail_key;
  }

  /** Takes the body's bytes in; answers the offset recorded when it ends. */
  async run(body: AsyncIterable<Buffer>): Promise<number> {
    await this.loadTail();
    let broken: unknown = null;
    const chunks = body[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await chunks.next();
      } catch (error) {
        broken = error;
        break;
      }
      if (next.done) break;
      this.accept(next.value);
      while (this.pending.length >= this.partSize) await this.storePart(this.partSize);
    }
    const end = this.partsDone * this.partSize + this.pending.length;
    if (end === this.size) {
      if (this.pending.length) await this.storePart(this.pending.length);
      await this.options.finish();
      // The upload is complete whatever this says: a lease lost meanwhile only leaves the tail to the sweeper.
      await this.record(this.size, null).catch(() => {});
    } else if (end > this.offset) {
      await this.storeTail();
    }
    if (broken) throw broken;
    return this.offset;
  }

  private accept(chunk: Buffer): void {
    const end = this.partsDone * this.partSize + this.pending.length + chunk.length;
    if (end > this.size) throw payloadTooLarge(`the upload is ${this.size} bytes; this PATCH goes past its end`, { size: this.size });
    this.pending.push(chunk);
  }

  /** The tail a former PATCH left (on this process or another) becomes the start of the next part. */
  private async loadTail(): Promise<void> {
    const expected = this.offset - this.partsDone * this.partSize;
    if (!expected) return;
    const bytes = this.tailKey ? await this.readTail(this.tailKey) : null;
    if (bytes?.length === expected) {
      this.pending.push(bytes);
      return;
    }
    // Lost (removed by hand, or by a sweep whose grace period is shorter than an upload lives):
    // the upload goes back to its last full part, and the client resends from there.
    const dropped = this.tailKey;
    await this.record(this.partsDone * this.partSize, null);
    if (dropped) await this.deps.blobs.delete(dropped).catch(() => {});
    throw conflict(
      `the last ${expected} bytes of this upload are lost; resume from offset ${this.offset} (HEAD answers it)`,
      { offset: this.offset },
      true,
    );
  }

  private async readTail(key: string): Promise<Buffer | null> {
    try {
      return Buffer.concat((await (await this.deps.blobs.read(key)).toArray()) as Buffer[]);
    } catch (error) {
      if (error instanceof BlobError && error.kind === 'missing') return null;
      throw error;
    }
  }

  private async storePart(bytes: number): Promise<void> {
    const partNumber = this.partsDone + 1;
    const { blob_key: key, multipart_upload_id: uploadId } = this.upload;
    const last = partNumber === (this.upload.part_count ?? 1);
    try {
      await this.deps.blobs.putPart(key, uploadId!, partNumber, Readable.from(this.pending.take(bytes)), bytes);
    } catch (error) {
      if (!(error instanceof BlobError && error.kind === 'missing')) throw error;
      // Storage ended the multipart upload. Sending the last part again after a completion whose answer
      // was lost: completing finds the file assembled. Else it was aborted (cancelled, expired).
      if (!last) throw notFound('tus upload (its parts were aborted)');
    }
    this.partsDone = partNumber;
    // The last part is counted by assembling the upload (see the class's comment).
    if (!last) await this.record(partNumber * this.partSize, null);
  }

  private async storeTail(): Promise<void> {
    const bytes = this.pending.length;
    const end = this.partsDone * this.partSize + bytes;
    // A key of its own for every tail: blobs are never overwritten, and a writer that lost its lease
    // removes only what it wrote itself.
    const key = `${this.upload.blob_key}.tail-${newId()}`;
    await this.deps.blobs.put(key, Readable.from(this.pending.take(bytes)), { size: bytes });
    try {
      await this.record(end, key);
    } catch (error) {
      await this.deps.blobs.delete(key).catch(() => {});
      throw error;
    }
  }

  /** Records the new offset under this PATCH's lease, then removes the tail it replaces. */
  private async record(offset: number, tailKey: string | null): Promise<void> {
    const held = await tusRepo.advance(this.deps.db, this.upload.id, this.options.writer, { offset, tailKey }, this.options.leaseSeconds);
    if (!held) throw writerReplaced();
    const replaced = this.tailKey;
    this.offset = offset;
    this.tailKey = tailKey;
    // One left behind (a failed delete) is no tail of a live upload: the sweeper's orphan walk removes it.
    if (replaced && replaced !== tailKey) await this.deps.blobs.delete(replaced).catch(() => {});
  }
}

/** This PATCH stalled past its lease and another took the upload over: nothing more of it counts. */
export const writerReplaced = () =>
  conflict('another request took this upload over while this PATCH stalled; resume from the offset HEAD answers', null, true);
