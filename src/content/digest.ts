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

/** Whatever reads a byte range (inclusive `end`) of a stored blob: every BlobStore does. */
export interface RangeReader {
  read(key: string, range: { start: number; end: number }): Promise<Readable>;
}

/** The first bytes of a blob, enough to sniff its type. */
export async function readHead(blobs: RangeReader, key: string, size: number): Promise<Buffer> {
  if (size === 0) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const chunk of await blobs.read(key, { start: 0, end: Math.min(size, SNIFF_BYTES) - 1 })) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
