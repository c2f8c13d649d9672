import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { SNIFF_BYTES } from './sniff.js';

export interface Digest {
  size: number;
  sha256: string;
  head: Buffer;
}

/** One pass over a stream: its size, its sha256 and its first bytes for sniffing. Nothing else is kept. */
export async function digestStream(stream: Readable): Promise<Digest> {
  const hash = createHash('sha256');
  const headChunks: Buffer[] = [];
  let headLength = 0;
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
    if (headLength < SNIFF_BYTES) {
      const part = chunk.subarray(0, SNIFF_BYTES - headLength);
      headChunks.push(Buffer.from(part));
      headLength += part.length;
    }
  }
  return { size, sha256: hash.digest('hex'), head: Buffer.concat(headChunks) };
}
