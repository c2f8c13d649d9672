import { ThreadedHash } from './hash-thread.js';

/**
 * The sha256 of a file being written, computed on the hashing thread from what has reached the file,
 * trailing the writer by at most `stepBytes`. Why: the bytes then are hashed off the event loop that
 * is receiving them, and the hash is ready moments after the last write.
 */
export class TrailingHasher {
  private readonly hash = new ThreadedHash();
  private scheduled = 0;
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown = null;

  constructor(
    private readonly file: string,
    private readonly stepBytes: number,
  ) {}

  /** The writer has the file's first `position` bytes written. */
  written(position: number): void {
    if (position - this.scheduled >= this.stepBytes) this.schedule(position);
  }

  /** The digest of the file's first `size` bytes, once everything was written. */
  async digest(size: number): Promise<string> {
    const start = this.scheduled;
    this.scheduled = size;
    await this.chain;
    if (this.failure) throw this.failure;
    return this.hash.digestWith(this.file, start, size - start);
  }

  /** Frees the running hash; call once done, whether or not the write succeeded. */
  async dispose(): Promise<void> {
    await this.chain;
    await this.hash.dispose();
  }

  private schedule(position: number): void {
    const start = this.scheduled;
    this.scheduled = position;
    // Caught here and rethrown by digest(): a failed step must not surface as an unhandled rejection.
    this.chain = this.chain
      .then(() => (this.failure ? undefined : this.hash.update(this.file, start, position - start)))
      .catch((error) => {
        this.failure ??= error;
      });
  }
}
