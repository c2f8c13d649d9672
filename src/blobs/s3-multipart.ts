import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListPartsCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  BlobError,
  type BlobErrorKind,
  type PartReceipt,
  type PresignOptions,
  type PresignedRequest,
  type StoredPart,
} from './blob-store.js';
import { checkPartList, checkPartNumber } from './multipart.js';
import { s3ErrorCode, unavailableOr } from './s3-errors.js';

// Ceph RGW says NoSuchKey where S3 says NoSuchUpload (ListParts after an abort or a completion).
const UPLOAD_GONE = new Set(['NoSuchUpload', 'NoSuchKey']);

const COMPLETE_REFUSALS = new Map<string, [BlobErrorKind, string]>([
  ['InvalidPart', ['invalid_part', 'a listed part is not stored or has another etag']],
  ['InvalidPartOrder', ['invalid_part', 'parts must be listed once each, in ascending order']],
  ['EntityTooSmall', ['part_too_small', 'every part but the last must hold at least 5 MiB']],
]);

/** Multipart uploads on S3: the engine keeps the parts and enforces their rules; this names its answers. */
export class S3Multipart {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async create(key: string, contentType: string | null): Promise<string> {
    const answer = await this.client
      .send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: contentType ?? undefined }))
      .catch((error) => {
        throw unavailableOr(error);
      });
    if (!answer.UploadId) throw new BlobError('unavailable', 'object storage started a multipart upload without naming it');
    return answer.UploadId;
  }

  async presignPart(
    key: string,
    uploadId: string,
    partNumber: number,
    options: PresignOptions & { size?: number | null },
  ): Promise<PresignedRequest> {
    const command = new UploadPartCommand({
      Bucket: this.bucket,
      Key: key,
      UploadId: uploadId,
      PartNumber: checkPartNumber(partNumber),
      ContentLength: options.size ?? undefined,
    });
    const url = await getSignedUrl(this.client, command, {
      expiresIn: options.expiresInSeconds,
      // A signed header, as in presignPut, so storage refuses a part of any other length.
      signableHeaders: new Set(['content-length']),
    });
    return { url, method: 'PUT', headers: options.size != null ? { 'Content-Length': String(options.size) } : {} };
  }

  async putPart(key: string, uploadId: string, partNumber: number, body: Readable, size: number): Promise<StoredPart> {
    const command = new UploadPartCommand({
      Bucket: this.bucket,
      Key: key,
      UploadId: uploadId,
      PartNumber: checkPartNumber(partNumber),
      // A stream is sent as it is read (signed UNSIGNED-PAYLOAD); storage refuses a body of another length.
      Body: body,
      ContentLength: size,
    });
    try {
      const answer = await this.client.send(command);
      if (!answer.ETag) throw new BlobError('unavailable', `object storage stored part ${partNumber} without naming it`);
      return { partNumber, etag: answer.ETag, size };
    } catch (error) {
      if (error instanceof BlobError) throw error;
      throw UPLOAD_GONE.has(s3ErrorCode(error) ?? '') ? missing(key, uploadId) : unavailableOr(error);
    }
  }

  async listParts(key: string, uploadId: string): Promise<StoredPart[]> {
    const parts: StoredPart[] = [];
    let marker: string | undefined;
    do {
      const page = await this.client
        .send(new ListPartsCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker }))
        .catch((error) => {
          throw UPLOAD_GONE.has(s3ErrorCode(error) ?? '') ? missing(key, uploadId) : unavailableOr(error);
        });
      for (const part of page.Parts ?? []) parts.push({ partNumber: part.PartNumber ?? 0, etag: part.ETag ?? '', size: part.Size ?? 0 });
      // A truncated page that does not move the marker on would be asked for again forever.
      marker = page.IsTruncated && page.NextPartNumberMarker !== marker ? page.NextPartNumberMarker : undefined;
    } while (marker);
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  async complete(key: string, uploadId: string, parts: readonly PartReceipt[]): Promise<void> {
    checkPartList(parts);
    const request = { Parts: parts.map((part) => ({ PartNumber: part.partNumber, ETag: part.etag })) };
    try {
      await this.client.send(
        new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, MultipartUpload: request }),
      );
    } catch (error) {
      throw await this.completionFailure(error, key, uploadId);
    }
  }

  async abort(key: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }));
    } catch (error) {
      if (UPLOAD_GONE.has(s3ErrorCode(error) ?? '')) return;
      throw unavailableOr(error);
    }
  }

  private async completionFailure(error: unknown, key: string, uploadId: string): Promise<unknown> {
    const code = s3ErrorCode(error) ?? '';
    const refusal = COMPLETE_REFUSALS.get(code);
    if (refusal) return new BlobError(refusal[0], `${refusal[1]} (${code})`);
    if (UPLOAD_GONE.has(code)) return missing(key, uploadId);
    // Measured: Ceph RGW answers the completion of an unknown or aborted upload with 500 InternalError
    // ("already in progress"); asking for the upload tells that apart from a real fault.
    if (await this.isGone(key, uploadId)) return missing(key, uploadId);
    return unavailableOr(error);
  }

  /** True only when storage says the upload does not exist (any other answer leaves it open). */
  private async isGone(key: string, uploadId: string): Promise<boolean> {
    try {
      await this.client.send(new ListPartsCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, MaxParts: 1 }));
      return false;
    } catch (error) {
      return UPLOAD_GONE.has(s3ErrorCode(error) ?? '');
    }
  }
}

const missing = (key: string, uploadId: string) => new BlobError('missing', `no multipart upload ${uploadId} for ${key}`);
