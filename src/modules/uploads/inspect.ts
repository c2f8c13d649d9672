import { BlobError, type BlobStore } from '../../blobs/blob-store.js';
import { type Digest, digestStream, readHead } from '../../content/digest.js';
import { sniffContentType } from '../../content/sniff.js';
import type { UploadRow } from '../../db/schema.js';
import { type ContentPolicy, judgedType, refusalOf } from '../policy/content-policy.js';

export type FailureReason = 'object_missing' | 'size_mismatch' | 'checksum_mismatch' | 'type_refused';

export type Verdict =
  | { status: 'confirmed'; size: number; sha256: string; detectedContentType: string | null }
  | { status: 'failed'; reason: FailureReason; message: string };

/**
 * Reads the stored bytes once and decides: confirmed with their facts, or failed with a reason. The
 * org's content policy as it stands now judges them: their size against its largest upload, their
 * type (as the bytes show it) against its allowed and refused lists.
 */
export async function inspectUpload(
  blobs: BlobStore,
  upload: UploadRow,
  policy: { content: ContentPolicy; singleRequestBytes: number },
): Promise<Verdict> {
  const info = await blobs.stat(upload.blob_key);
  if (!info) return { status: 'failed', reason: 'object_missing', message: 'no bytes were uploaded for this upload' };
  const declaredSize = upload.declared_size === null ? null : Number(upload.declared_size);
  if (declaredSize !== null && info.size !== declaredSize) {
    return { status: 'failed', reason: 'size_mismatch', message: `stored ${info.size} bytes, declared ${declaredSize}` };
  }
  // An S3 URL presigned without a size binds none, so storage took whatever came: the limit holds here.
  if (declaredSize === null && info.size > policy.singleRequestBytes) {
    return {
      status: 'failed',
      reason: 'size_mismatch',
      message: `stored ${info.size} bytes, over the ${policy.singleRequestBytes}-byte limit of one request`,
    };
  }
  const max = policy.content.maxUploadBytes;
  if (max !== null && info.size > max) {
    return {
      status: 'failed',
      reason: 'size_mismatch',
      message: `stored ${info.size} bytes, over this organisation's largest upload of ${max}`,
    };
  }
  let digest: Digest;
  try {
    // Bytes storage already hashed as they were written need only their head read, for sniffing.
    digest = info.sha256
      ? { size: info.size, sha256: info.sha256, head: await readHead(blobs, upload.blob_key, info.size) }
      : await digestStream(await blobs.read(upload.blob_key));
  } catch (error) {
    if (error instanceof BlobError && error.kind === 'missing') {
      return { status: 'failed', reason: 'object_missing', message: 'the stored bytes disappeared while being read' };
    }
    throw error;
  }
  if (upload.declared_sha256 && digest.sha256 !== upload.declared_sha256) {
    return {
      status: 'failed',
      reason: 'checksum_mismatch',
      message: `stored bytes hash to ${digest.sha256}, declared ${upload.declared_sha256}`,
    };
  }
  const detected = await sniffContentType(digest.head, digest.size);
  const refusal = refusalOf(policy.content, judgedType(detected, upload.content_type));
  if (refusal) return { status: 'failed', reason: 'type_refused', message: refusal.message };
  return { status: 'confirmed', size: digest.size, sha256: digest.sha256, detectedContentType: detected };
}
