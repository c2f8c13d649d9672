import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** An API key reads `stw_<12 hex>_<43 base64url>`; the first part is its visible, indexed prefix. */
const KEY_RE = /^(stw_[0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export interface GeneratedKey {
  key: string;
  prefix: string;
  hash: Buffer;
}

export function generateKey(): GeneratedKey {
  const prefix = `stw_${randomBytes(6).toString('hex')}`;
  const key = `${prefix}_${randomBytes(32).toString('base64url')}`;
  return { key, prefix, hash: hashKey(key) };
}

/** The prefix of a well-formed key, or null: malformed keys never reach the database. */
export function prefixOf(key: string): string | null {
  return KEY_RE.exec(key)?.[1] ?? null;
}

// 256 random bits need no slow hash: a single SHA-256 cannot be brute-forced back to the key.
export function hashKey(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

export function sameHash(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
