import { stat } from 'node:fs/promises';
import { ThreadedHash } from './hash-thread.js';
import { sameEtag } from './multipart.js';

/**
 * The sha256 of a multipart upload's data file, built up part by part in the background as the
 * leading parts arrive, so completing needs to hash only the tail. Parts land at fixed offsets in any
 * order; the hash can only grow over an unbroken run from part 1, and it remembers which write of each
 * part it read by the part's on-disk ETag (fresh for every write, whichever process wrote it), so a
 * part rewritten since, here or through another process on the same folder, makes the prefix
 * worthless rather than wrong. The hashing itself runs on the hashing thread, off the event loop
 * that receives the parts.
 */
export class PrefixHasher {
  private readonly hash = new ThreadedHash();
  /** The ETag of each hashed part as it was read: entry i is part i + 1. */
  private readonly hashed: string[] = [];
  private chain: Promise<void> = Promise.resolve();
  private broken = false;

  /**
   * Hashes the parts that now follow the prefix. `etagOf(n)` answers the ETag of part n when it is
   * stored whole and full-size, else null (which ends this round). Read before the bytes: a write
   * removes a part's record before it touches the bytes, so a rewrite racing the read leaves another
   * ETag (or none) behind, never the one recorded here.
   */
  extend(file: string, partSize: number, etagOf: (partNumber: number) => Promise<string | null>): void {
    this.chain = this.chain
      .then(async () => {
        while (!this.broken) {
          const partNumber = this.hashed.length + 1;
          const etag = await etagOf(partNumber);
          if (etag === null) return;
          await this.hash.update(file, (partNumber - 1) * partSize, partSize);
          this.hashed.push(etag);
        }
      })
      // A file gone mid-read (aborted upload) or any read error: the confirm job hashes instead.
      .catch(() => {
        this.broken = true;
      });
  }

  /**
   * The sha256 of the whole (completed, truncated) file, hashing what the prefix lacks when that is at
   * most `maxTailBytes`; null when the prefix is unusable (a hashed part's ETag is not the one in
   * `etags`, the parts being joined) or the tail too long. The prefix is left as it was, so a
   * completion that fails later can be tried again.
   */
  async finish(file: string, partSize: number, etags: ReadonlyMap<number, string>, maxTailBytes: number): Promise<string | null> {
    await this.chain;
    if (this.broken || this.hashed.some((etag, i) => !sameEtagOrUndefined(etags.get(i + 1), etag))) return null;
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

const sameEtagOrUndefined = (listed: string | undefined, hashed: string) => listed !== undefined && sameEtag(listed, hashed);
