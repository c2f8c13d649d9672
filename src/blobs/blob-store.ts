import type { FastifyInstance } from 'fastify';
import type { Readable } from 'node:stream';
import type { BlobGrant } from './signed-url.js';

/** What the uploader declared, bound into presigned requests and checked by storage. */
export interface BlobExpectations {
  size?: number | null;
  /**
   * The most bytes storage may take when no size is declared (the single-request limit). The local
   * driver binds it into its URL and refuses more (413); an S3 presigned PUT cannot carry it.
   */
  maxSize?: number | null;
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

export interface ListedBlob {
  key: string;
  modifiedAt: Date;
}

export interface BlobInfo {
  size: number;
  /**
   * The sha256 of the whole blob when storage itself computed or verified it as the bytes were
   * written (the local driver; S3 for a PUT bound to x-amz-checksum-sha256); absent when unknown.
   */
  sha256?: string;
}

export interface StoredBlob {
  size: number;
  sha256: string;
}

/** A part as storage holds it; `etag` is quoted like S3's and names one write of the part (S3: its MD5; local: opaque). */
export interface StoredPart {
  partNumber: number;
  etag: string;
  size: number;
}

/** A part as the uploader names it when completing. */
export interface PartReceipt {
  partNumber: number;
  etag: string;
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
  /** Size (and a digest storage vouches for, when it has one) of the blob, or null when there is none. */
  stat(key: string): Promise<BlobInfo | null>;
  read(key: string, range?: ByteRange): Promise<Readable>;
  /** Streams `body` into a new blob, checking what was declared; nothing is left behind on failure. */
  put(key: string, body: Readable, expect?: BlobExpectations): Promise<StoredBlob>;
  delete(key: string): Promise<void>;
  /**
   * Starts a multipart upload whose parts the client sends straight to storage. `partSize` is the size
   * of every part but the last (the layout the API promised the client); the local driver writes each
   * part in place at (n − 1) × partSize, so completing copies nothing, and refuses other layouts.
   */
  createMultipart(key: string, options: { contentType: string | null; partSize: number }): Promise<{ uploadId: string }>;
  /** A URL for one part (1–10,000); a declared `size` is bound into the request. */
  presignPart(
    key: string,
    uploadId: string,
    partNumber: number,
    options: PresignOptions & { size?: number | null },
  ): Promise<PresignedRequest>;
  /**
   * Stores one part sent through the server (a tus PATCH), replacing an earlier one with the same
   * number as S3 does. `body` must carry exactly `size` bytes. BlobError 'missing' once the upload is
   * unknown, aborted or completed.
   */
  putPart(key: string, uploadId: string, partNumber: number, body: Readable, size: number): Promise<StoredPart>;
  /** Parts stored so far, by part number; BlobError 'missing' once the upload is unknown, aborted or completed. */
  listParts(key: string, uploadId: string): Promise<StoredPart[]>;
  /**
   * Joins the listed parts (ascending, each but the last at least 5 MiB) into the blob at `key` and
   * forgets the upload. BlobError 'missing' (unknown upload), 'invalid_part' (a part not stored, another
   * etag, a bad list), 'part_too_small', 'exists' (a blob is already at `key`).
   */
  completeMultipart(key: string, uploadId: string, parts: PartReceipt[]): Promise<{ size: number }>;
  /** Drops the upload and its stored parts; quiet when it is already gone. */
  abortMultipart(key: string, uploadId: string): Promise<void>;
  /**
   * Up to `limit` blobs with keys after `after`, in key order: the sweeper walks storage with it to
   * find blobs no row knows. Working files of the driver itself are not listed.
   */
  list(options: { after: string; limit: number }): Promise<ListedBlob[]>;
  /** Removes the driver's own leftovers older than `olderThan` (a crash mid-write); answers how many. */
  removeLeftovers(olderThan: Date): Promise<number>;
  /** Prepares storage (folders, bucket) before first use. */
  init(): Promise<void>;
  /** Throws when storage cannot be reached (for /readyz). */
  ping(): Promise<void>;
  /**
   * The routes the server must answer for this driver's URLs: the local driver's signed URLs point
   * at the server itself. Absent where the URLs point at storage (S3).
   */
  routes?(options: { admit: BlobAdmission }): (app: FastifyInstance) => Promise<void>;
}

/**
 * Throws (an AppError) when what a signed URL was made for takes no bytes any more: a cancelled or
 * expired upload. A signature cannot be revoked, so the service is asked on every PUT: 'before'
 * reading the body, and 'after' storing it (cancelled meanwhile: the bytes are removed again).
 */
export type BlobAdmission = (grant: BlobGrant, moment: 'before' | 'after') => Promise<void>;

export type BlobErrorKind =
  'missing' | 'exists' | 'too_large' | 'size_mismatch' | 'checksum_mismatch' | 'invalid_part' | 'part_too_small' | 'unavailable';

export class BlobError extends Error {
  constructor(
    readonly kind: BlobErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'BlobError';
  }
}
