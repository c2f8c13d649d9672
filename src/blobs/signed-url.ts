import { createHmac, timingSafeEqual } from 'node:crypto';
import { signatureInvalid, urlExpired } from '../errors.js';

/** What a signed blob URL allows: one method on one key (or one part of it) until `exp`, with the declared size, sha256 and type. */
export interface BlobGrant {
  method: 'PUT' | 'GET';
  key: string;
  /** Unix seconds. */
  exp: number;
  size?: number;
  /** Without `size`: the most bytes the PUT may carry. */
  maxSize?: number;
  sha256?: string;
  contentType?: string;
  filename?: string;
  /** With `partNumber`: a PUT of one part of this multipart upload, not of the blob itself. */
  uploadId?: string;
  partNumber?: number;
}

const CONTEXT = 'stowage-blob-v1';

export class BlobUrlSigner {
  constructor(private readonly secret: string) {}

  sign(grant: BlobGrant): string {
    const payload = Buffer.from(JSON.stringify(grant)).toString('base64url');
    return `${payload}.${this.mac(payload).toString('base64url')}`;
  }

  /** The grant a token carries, after checking its signature, method and expiry (403 otherwise). */
  verify(token: string, method: string, nowSeconds = Math.floor(Date.now() / 1000)): BlobGrant {
    const [payload, signature, extra] = token.split('.');
    if (!payload || !signature || extra !== undefined) throw signatureInvalid();
    const given = Buffer.from(signature, 'base64url');
    const expected = this.mac(payload);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw signatureInvalid();
    let grant: BlobGrant;
    try {
      grant = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as BlobGrant;
    } catch {
      throw signatureInvalid();
    }
    if (grant.method !== method && !(grant.method === 'GET' && method === 'HEAD')) throw signatureInvalid();
    if (!(grant.exp > nowSeconds)) throw urlExpired();
    return grant;
  }

  private mac(payload: string): Buffer {
    return createHmac('sha256', this.secret).update(`${CONTEXT}.${payload}`).digest();
  }
}
