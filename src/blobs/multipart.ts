import { STORAGE_LIMITS } from '../storage-limits.js';
import { BlobError, type PartReceipt } from './blob-store.js';

/** S3's floor for every part but the last; the local driver applies the same one unless told otherwise. */
export const MIN_PART_BYTES = STORAGE_LIMITS.minPartBytes;
export const MAX_PART_NUMBER = STORAGE_LIMITS.maxPartNumber;

export function checkPartNumber(partNumber: number): number {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
    throw new BlobError('invalid_part', `part numbers run from 1 to ${MAX_PART_NUMBER}, not ${partNumber}`);
  }
  return partNumber;
}

/**
 * Refuses a completion list before storage sees it, so every driver answers an empty, unordered or
 * repeated list alike (engines disagree: MalformedXML, InvalidPartOrder, or silently sorting).
 */
export function checkPartList(parts: readonly PartReceipt[]): void {
  if (parts.length === 0) throw new BlobError('invalid_part', 'a multipart upload needs at least one part');
  let previous = 0;
  for (const { partNumber } of parts) {
    checkPartNumber(partNumber);
    if (partNumber <= previous) throw new BlobError('invalid_part', 'parts must be listed once each, in ascending order');
    previous = partNumber;
  }
}

/** S3 compares etags without their quotes; clients send them either way. */
export const sameEtag = (a: string, b: string) => bareEtag(a) === bareEtag(b);
const bareEtag = (etag: string) => etag.replace(/"/g, '').toLowerCase();
