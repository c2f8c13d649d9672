import { S3ServiceException } from '@aws-sdk/client-s3';
import { BlobError } from './blob-store.js';

/** The S3 error code of a failed request (e.g. 'NoSuchUpload'), or null for faults outside S3 (network). */
export function s3ErrorCode(error: unknown): string | null {
  return error instanceof S3ServiceException ? error.name : null;
}

export function isNotFound(error: unknown): boolean {
  if (!(error instanceof S3ServiceException)) return false;
  return error.$metadata?.httpStatusCode === 404 || ['NotFound', 'NoSuchKey', 'NoSuchBucket'].includes(error.name);
}

/** S3 faults that are not about the request itself (network, 5xx, throttling) say "storage unavailable". */
export function unavailableOr(error: unknown): unknown {
  if (error instanceof S3ServiceException && (error.$metadata?.httpStatusCode ?? 500) < 500 && error.name !== 'SlowDown') return error;
  return new BlobError('unavailable', `object storage is unavailable: ${(error as Error).message}`);
}
