import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { BlobError, type BlobExpectations, type StoredBlob } from './blob-store.js';

/**
 * Measures bytes on their way into storage: size and sha256, with the declared size enforced as
 * they pass (so an oversized body stops early) and both declarations checked at the end.
 */
export class MeteredStream extends Transform {
  private readonly hash = createHash('sha256');
  private size = 0;
  private readonly limit: number;

  constructor(private readonly expect: BlobExpectations, highWaterMark?: number) {
    super({ highWaterMark });
    this.limit = expect.size ?? Infinity;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null, data?: Buffer) => void): void {
    this.size += chunk.length;
    if (this.size > this.limit) {
      done(new BlobError('too_large', `the body is larger than the declared ${this.limit} bytes`));
      return;
    }
    this.hash.update(chunk);
    done(null, chunk);
  }

  /** What went through, or the declaration it broke. Call once the stream has ended. */
  result(): StoredBlob {
    const sha256 = this.hash.digest('hex');
    if (this.expect.size != null && this.size !== this.expect.size) {
      throw new BlobError('size_mismatch', `the body is ${this.size} bytes but ${this.expect.size} were declared`);
    }
    if (this.expect.sha256 && sha256 !== this.expect.sha256.toLowerCase()) {
      throw new BlobError('checksum_mismatch', 'the body does not match the declared sha256');
    }
    return { size: this.size, sha256 };
  }
}
