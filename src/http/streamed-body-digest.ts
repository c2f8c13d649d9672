import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { payloadTooLarge } from '../errors.js';

/**
 * The sha256 of a request body that a handler streams (a multipart form), taken as the bytes pass
 * whoever reads them, so Idempotency-Key can tell a retry of the same form from another one.
 *
 * The form's boundary is left out of the hash: a client retrying the same file builds a new form,
 * with a new boundary, and that is still the same request.
 */
export class StreamedBodyDigest {
  private readonly hash = createHash('sha256');
  private readonly boundary: Buffer;
  /** Bytes that may be the start of a boundary split across two chunks, not hashed yet. */
  private carry = Buffer.alloc(0);
  private bytes = 0;
  private limit = Infinity;
  private state: 'reading' | 'ended' | 'broken' | 'too_large' = 'reading';
  private digest: string | null = null;
  private readonly settled: Promise<void>;
  private settle: () => void = () => {};

  constructor(
    private readonly body: Readable,
    contentType: string,
  ) {
    this.boundary = Buffer.from(boundaryOf(contentType));
    this.settled = new Promise((resolve) => (this.settle = resolve));
    // Paused first: a 'data' listener on a stream nobody paused would start the flow before the
    // handler reads it, and those bytes would be lost to it. Its own reader resumes the stream.
    body.pause();
    body.on('data', (chunk: Buffer) => this.update(chunk));
    body.once('end', () => this.stop('ended'));
    body.once('error', () => this.stop('broken'));
    // 'close' before 'end': the client went away mid-body.
    body.once('close', () => this.stop('broken'));
  }

  /** Whether the whole body has gone past. */
  get complete(): boolean {
    return this.state === 'ended';
  }

  /**
   * Reads what nobody has read of the body yet, discarding it, and answers the digest of the whole
   * body; null when it broke off. More than `maxBytes` in all is a 413 (the rest is left unread).
   */
  async finish(maxBytes: number): Promise<string | null> {
    this.limit = maxBytes;
    if (this.bytes > maxBytes) this.stop('too_large');
    if (this.state === 'reading') {
      this.body.resume();
      await this.settled;
    }
    if (this.state === 'too_large')
      throw payloadTooLarge(`the body is over the ${maxBytes} bytes this request may carry`, { limit: maxBytes });
    if (this.state !== 'ended') return null;
    this.digest ??= this.hash.update(this.carry).digest('hex');
    return this.digest;
  }

  private stop(state: 'ended' | 'broken' | 'too_large'): void {
    if (this.state !== 'reading') return;
    this.state = state;
    if (state === 'too_large') this.body.pause();
    this.settle();
  }

  private update(chunk: Buffer): void {
    if (this.state !== 'reading') return;
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      this.stop('too_large');
      return;
    }
    if (!this.boundary.length) {
      this.hash.update(chunk);
      return;
    }
    const size = this.boundary.length;
    let data = chunk;
    let from = 0;
    if (this.carry.length && chunk.length < size) {
      data = Buffer.concat([this.carry, chunk]);
    } else if (this.carry.length) {
      // Only the seam is joined (copying every chunk would double the cost): a boundary that starts
      // in the carried bytes ends within its first size − 1 bytes of the chunk.
      const seam = Buffer.concat([this.carry, chunk.subarray(0, size - 1)]);
      const at = seam.indexOf(this.boundary);
      if (at !== -1 && at < this.carry.length) {
        this.hash.update(this.carry.subarray(0, at));
        from = at + size - this.carry.length;
      } else {
        this.hash.update(this.carry);
      }
    }
    for (let at = data.indexOf(this.boundary, from); at !== -1; at = data.indexOf(this.boundary, from)) {
      this.hash.update(data.subarray(from, at));
      from = at + size;
    }
    // The last size − 1 bytes may begin a boundary that the next chunk completes.
    const keepFrom = Math.max(from, data.length - (size - 1));
    this.hash.update(data.subarray(from, keepFrom));
    this.carry = Buffer.from(data.subarray(keepFrom));
  }
}

/** The multipart boundary of a Content-Type, '' when it names none. */
export function boundaryOf(contentType: string): string {
  const match = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return match ? (match[1] ?? match[2]) : '';
}
