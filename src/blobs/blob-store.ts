import type { Readable } from 'node:stream';

/** What the uploader declared, bound into presigned requests and checked by storage. */
export interface BlobExpectations {
  size?: number | null;
  sha256?: string | null;
  contentType?: string | null;
}

export interface PresignedRequest {
  url: string;
  method: 'PUT' | 'GET';
  /** Headers the client must send with the request for the signature to hold. */
  headers: Record<string, string>;
}

export interface ByteRange {
  start: number;
  /** Inclusive, like HTTP Range. */
  end: number;
}

export interface StoredBlob {
  size: number;
  sha256: string;
}

export interface PresignOptions {
  expiresInSeconds: number;
  /** Absolute base URL of this server, for drivers whose URLs the server answers itself. */
  baseUrl: string;
}

/**
 * Where upload bytes live. Keys are chosen by the server and blobs are immutable: a key is written
 * once and never overwritten, so a confirmed blob cannot change under its row.
 */
export interface BlobStore {
  readonly driver: 'local' | 's3';
  presignPut(key: string, expect: BlobExpectations, options: PresignOptions): Promise<PresignedRequest>;
  presignGet(key: string, download: { filename: string; contentType: string | null }, options: PresignOptions): Promise<string>;
  /** Size of the blob, or null when there is none. */
  stat(key: string): Promise<{ size: number } | null>;
  read(key: string, range?: ByteRange): Promise<Readable>;
  /** Streams `body` into a new blob, checking what was declared; nothing is left behind on failure. */
  put(key: string, body: Readable, expect?: BlobExpectations): Promise<StoredBlob>;
  delete(key: string): Promise<void>;
  /** Prepares storage (folders, bucket) before first use. */
  init(): Promise<void>;
  /** Throws when storage cannot be reached (for /readyz). */
  ping(): Promise<void>;
}

export type BlobErrorKind = 'missing' | 'exists' | 'too_large' | 'size_mismatch' | 'checksum_mismatch' | 'unavailable';

export class BlobError extends Error {
  constructor(
    readonly kind: BlobErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'BlobError';
  }
}
