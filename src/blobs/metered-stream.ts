import { type Hash, createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { BlobError, type BlobExpectations, type StoredBlob } from './blob-store.js';

/**
 * Measures bytes on their way into storage: size and sha256 (or only the size, for the local driver's
 * multipart parts), with the declared size enforced as they pass (so an oversized body stops early)
 * and both declarations checked at the end.
 */
export class MeteredStream extends Transform {
  private readonly hash: Hash | null;
  private size = 0;
  private readonly limit: number;
  private digest: string | null = null;

  constructor(
    private readonly expect: BlobExpectations,
    highWaterMark?: number,
    private readonly algorithm: 'sha256' | null = 'sha256',
    /** A cap even without a declared size (a multipart part may not outgrow its slot). */
    maxBytes = Infinity,
  ) {
    super({ highWaterMark });
    if (algorithm !== 'sha256' && expect.sha256) throw new Error('a declared sha256 needs the sha256 algorithm');
    this.hash = algorithm ? createHash(algorithm) : null;
    this.limit = Math.min(expect.size ?? Infinity, maxBytes);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null, data?: Buffer) => void): void {
    this.size += chunk.length;
    if (this.size > this.limit) {
      done(new BlobError('too_large', `the body is larger than the ${this.limit} bytes allowed`));
      return;
    }
    this.hash?.update(chunk);
    done(null, chunk);
  }

  /** Size and hex digest ('' unhashed) of what went through, or the declared size it broke. Call once the stream has ended. */
  measured(): { size: number; digest: string } {
    this.digest ??= this.hash?.digest('hex') ?? '';
    if (this.expect.size != null && this.size !== this.expect.size) {
      throw new BlobError('size_mismatch', `the body is ${this.size} bytes but ${this.expect.size} were declared`);
    }
    return { size: this.size, digest: this.digest };
  }

  /** What went through, or the declaration it broke. Call once the stream has ended. */
  result(): StoredBlob {
    if (this.algorithm !== 'sha256') throw new Error('result() reports a sha256; this stream does not hash');
    const { size, digest: sha256 } = this.measured();
    checkDeclaredSha256(this.expect, sha256);
    return { size, sha256 };
  }
}

/** Refuses bytes whose sha256 is not the declared one (declarations may be upper-case hex). */
export function checkDeclaredSha256(expect: BlobExpectations, sha256: string): void {
  if (expect.sha256 && sha256 !== expect.sha256.toLowerCase()) {
    throw new BlobError('checksum_mismatch', 'the body does not match the declared sha256');
  }
}
