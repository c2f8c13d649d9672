import { stat } from 'node:fs/promises';
import { ThreadedHash } from './hash-thread.js';

/**
 * The sha256 of a multipart upload's data file, built up part by part in the background as the
 * leading parts arrive, so completing needs to hash only the tail. Parts land at fixed offsets in any
 * order; the hash can only grow over an unbroken run from part 1, and it remembers which write of each
 * part it read, so a part rewritten since makes the prefix worthless rather than wrong. The hashing
 * itself runs on the hashing thread, off the event loop that receives the parts.
 */
export class PrefixHasher {
  private readonly hash = new ThreadedHash();
  /** The write generation of each hashed part: entry i is part i + 1. */
  private readonly hashed: number[] = [];
  private chain: Promise<void> = Promise.resolve();
  private broken = false;

  /**
   * Hashes the parts that now follow the prefix. `generationOf(n)` answers the current write of part
   * n when it is stored whole and full-size, else null (which ends this round).
   */
  extend(file: string, partSize: number, generationOf: (partNumber: number) => Promise<number | null>): void {
    this.chain = this.chain
      .then(async () => {
        while (!this.broken) {
          const partNumber = this.hashed.length + 1;
          const generation = await generationOf(partNumber);
          if (generation === null) return;
          await this.hash.update(file, (partNumber - 1) * partSize, partSize);
          this.hashed.push(generation);
        }
      })
      // A file gone mid-read (aborted upload) or any read error: the confirm job hashes instead.
      .catch(() => {
        this.broken = true;
      });
  }

  /**
   * The sha256 of the whole (completed, truncated) file, hashing what the prefix lacks when that is at
   * most `maxTailBytes`; null when the prefix is unusable or the tail too long. The prefix is left as
   * it was, so a completion that fails later can be tried again.
   */
  async finish(file: string, partSize: number, generations: ReadonlyMap<number, number>, maxTailBytes: number): Promise<string | null> {
    await this.chain;
    if (this.broken || this.hashed.some((generation, i) => generations.get(i + 1) !== generation)) return null;
    const start = this.hashed.length * partSize;
    const { size } = await stat(file);
    if (size < start || size - start > maxTailBytes) return null;
    return this.hash.digestWith(file, start, size - start).catch(() => null);
  }

  /** Frees the running hash once the upload is completed or dropped. */
  async dispose(): Promise<void> {
    await this.chain;
    await this.hash.dispose();
  }
}
