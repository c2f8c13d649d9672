import { S3ServiceException } from '@aws-sdk/client-s3';
import { BlobError } from './blob-store.js';

/** The S3 error code of a failed request (e.g. 'NoSuchUpload'), or null for faults outside S3 (network). */
export function s3ErrorCode(error: unknown): string | null {
  return error instanceof S3ServiceException ? error.name : null;
}

/** The bucket itself is gone: storage is misconfigured or being rebuilt, which no upload is to blame for. */
function isNoSuchBucket(error: unknown): boolean {
  return s3ErrorCode(error) === 'NoSuchBucket';
}

/**
 * A 404 about the object. A HEAD answer has no body, so a missing bucket there reads as a bare
 * 'NotFound' too: callers for whom that matters ask the bucket (see S3BlobStore.stat).
 */
export function isNotFound(error: unknown): boolean {
  if (!(error instanceof S3ServiceException) || isNoSuchBucket(error)) return false;
  return error.$metadata?.httpStatusCode === 404 || ['NotFound', 'NoSuchKey'].includes(error.name);
}

/**
 * S3 faults that are not about the request itself (network, 5xx, throttling, a missing bucket) say
 * "storage unavailable": a 503 to clients, another attempt for jobs.
 */
export function unavailableOr(error: unknown): unknown {
  if (error instanceof BlobError) return error;
  if (isNoSuchBucket(error)) return bucketMissing();
  if (error instanceof S3ServiceException && (error.$metadata?.httpStatusCode ?? 500) < 500 && error.name !== 'SlowDown') return error;
  return new BlobError('unavailable', `object storage is unavailable: ${(error as Error).message}`);
}

export const bucketMissing = () => new BlobError('unavailable', 'the storage bucket does not exist');
