import { type Readable, pipeline } from 'node:stream';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  PutObjectCommand,
  S3ServiceException,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { contentDisposition } from './content-disposition.js';
import { MeteredStream } from './metered-stream.js';
import {
  BlobError,
  type BlobExpectations,
  type BlobInfo,
  type BlobStore,
  type ByteRange,
  type ListedBlob,
  type PartReceipt,
  type PresignOptions,
  type PresignedRequest,
  type StoredBlob,
  type StoredPart,
} from './blob-store.js';
import { bucketMissing, isNotFound, unavailableOr } from './s3-errors.js';
import { S3Multipart } from './s3-multipart.js';
import type { S3Settings } from '../config.js';

export type { S3Settings } from '../config.js';

const DEFAULT_TIMEOUTS = { connectMs: 10_000, idleMs: 60_000 };

// Multipart chunks of the server-side streamed put: big enough for few requests, small enough for RAM.
const PUT_PART_BYTES = 8 * 1024 * 1024;

/** Blobs in any S3-compatible store (AWS S3, MinIO, R2, Ceph RGW); clients talk to it through presigned URLs. */
export class S3BlobStore implements BlobStore {
  readonly driver = 's3' as const;
  readonly client: S3Client;
  readonly bucket: string;
  private readonly multipart: S3Multipart;

  constructor(settings: S3Settings) {
    this.bucket = settings.bucket;
    const timeouts = settings.timeouts ?? DEFAULT_TIMEOUTS;
    this.client = new S3Client({
      endpoint: settings.endpoint ?? undefined,
      region: settings.region,
      forcePathStyle: settings.forcePathStyle,
      credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
      // Measured: the default puts an empty-body CRC32 into presigned PUT URLs, which S3 then rejects.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: timeouts.connectMs, socketTimeout: timeouts.idleMs },
    });
    this.multipart = new S3Multipart(this.client, this.bucket);
  }

  /** Creates the bucket when it does not exist yet (a fresh MinIO or test engine). */
  async init(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    }
  }

  async presignPut(key: string, expect: BlobExpectations, options: PresignOptions): Promise<PresignedRequest> {
    const checksum = expect.sha256 ? Buffer.from(expect.sha256, 'hex').toString('base64') : undefined;
    // The SDK always signs a Content-Type; naming it ourselves lets us tell the client which one.
    const contentType = expect.contentType ?? 'application/octet-stream';
    const command = new PutObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ContentType: contentType,
      ContentLength: expect.size ?? undefined,
      ChecksumSHA256: checksum,
    });
    const url = await getSignedUrl(this.client, command, {
      expiresIn: options.expiresInSeconds,
      // Signed as headers (not query parameters), so storage refuses a request without these exact values.
      signableHeaders: new Set(['content-type', 'content-length', 'x-amz-checksum-sha256']),
      unhoistableHeaders: new Set(['x-amz-checksum-sha256']),
    });
    const headers: Record<string, string> = { 'Content-Type': contentType };
    if (expect.size != null) headers['Content-Length'] = String(expect.size);
    if (checksum) headers['x-amz-checksum-sha256'] = checksum;
    return { url, method: 'PUT', headers };
  }

  async presignGet(key: string, download: { filename: string; contentType: string | null }, options: PresignOptions) {
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ResponseContentDisposition: contentDisposition(download.filename),
      ResponseContentType: download.contentType ?? undefined,
    });
    return getSignedUrl(this.client, command, { expiresIn: options.expiresInSeconds });
  }

  /**
   * A 404 is taken for a missing object only once the bucket is known to exist: a HEAD answer has no
   * body to say NoSuchBucket, and a deleted or misnamed bucket must read as storage trouble (retry, 503),
   * never as "the client uploaded nothing".
   */
  async stat(key: string): Promise<BlobInfo | null> {
    const info = await this.head(key);
    if (!info && !(await this.bucketExists())) throw bucketMissing();
    return info;
  }

  /** stat() for callers about to write the key, whose write itself fails on a missing bucket. */
  private async head(key: string): Promise<BlobInfo | null> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key, ChecksumMode: 'ENABLED' }));
      const sha256 = fullObjectSha256(head.ChecksumSHA256, head.ChecksumType);
      return sha256 ? { size: head.ContentLength ?? 0, sha256 } : { size: head.ContentLength ?? 0 };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw unavailableOr(error);
    }
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    try {
      const answer = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: range ? `bytes=${range.start}-${range.end}` : undefined }),
      );
      return answer.Body as Readable;
    } catch (error) {
      if (isNotFound(error)) throw new BlobError('missing', `no blob at ${key}`);
      throw unavailableOr(error);
    }
  }

  async put(key: string, body: Readable, expect: BlobExpectations = {}): Promise<StoredBlob> {
    // S3 has no create-only PUT that every engine honours; looking first keeps the no-overwrite rule for
    // server-side writes, whose keys are fresh ids anyway.
    if (await this.head(key)) throw new BlobError('exists', `a blob already exists at ${key}`);
    const meter = new MeteredStream(expect, PUT_PART_BYTES);
    // pipeline, not pipe: a failure on either side tears both down (the upload sees it through meter).
    pipeline(body, meter, () => {});
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: meter, ContentType: expect.contentType ?? undefined },
      partSize: PUT_PART_BYTES,
      queueSize: 2,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      // A body cut short may still have been kept by a lenient engine; if storage is down, the
      // sweeper removes it later as an orphan.
      await this.delete(key).catch(() => {});
      throw meter.errored ?? body.errored ?? unavailableOr(error);
    }
    try {
      return meter.result();
    } catch (problem) {
      await this.delete(key);
      throw problem;
    }
  }

  /** S3 takes parts of any size, so the promised part size is not needed here. */
  async createMultipart(key: string, options: { contentType: string | null; partSize: number }): Promise<{ uploadId: string }> {
    return { uploadId: await this.multipart.create(key, options.contentType) };
  }

  presignPart(
    key: string,
    uploadId: string,
    partNumber: number,
    options: PresignOptions & { size?: number | null },
  ): Promise<PresignedRequest> {
    return this.multipart.presignPart(key, uploadId, partNumber, options);
  }

  listParts(key: string, uploadId: string): Promise<StoredPart[]> {
    return this.multipart.listParts(key, uploadId);
  }

  putPart(key: string, uploadId: string, partNumber: number, body: Readable, size: number): Promise<StoredPart> {
    return this.multipart.putPart(key, uploadId, partNumber, body, size);
  }

  async completeMultipart(key: string, uploadId: string, parts: PartReceipt[]): Promise<{ size: number }> {
    // As in put(): a completion would replace a blob already at the key, so look first.
    if (await this.head(key)) throw new BlobError('exists', `a blob already exists at ${key}`);
    await this.multipart.complete(key, uploadId, parts);
    // The completion answers no size (and Ceph RGW not even an ETag), so storage is asked.
    const stored = await this.stat(key);
    if (!stored) throw new BlobError('unavailable', `object storage completed ${key} but does not show it`);
    return stored;
  }

  abortMultipart(key: string, uploadId: string): Promise<void> {
    return this.multipart.abort(key, uploadId);
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })).catch((error) => {
      throw unavailableOr(error);
    });
  }

  async list(options: { after: string; limit: number }): Promise<ListedBlob[]> {
    // ListObjects (v1) with Marker: the same walk as v2's StartAfter, and more engines answer it.
    const answer = await this.client
      .send(new ListObjectsCommand({ Bucket: this.bucket, Marker: options.after || undefined, MaxKeys: options.limit }))
      .catch((error) => {
        throw unavailableOr(error);
      });
    return (answer.Contents ?? []).map((o) => ({ key: o.Key!, modifiedAt: o.LastModified ?? new Date() }));
  }

  /** Multipart uploads started long ago and never finished: the store keeps their parts until aborted. */
  async removeLeftovers(olderThan: Date): Promise<number> {
    let answer;
    try {
      answer = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, MaxUploads: 1000 }));
    } catch (error) {
      if (error instanceof S3ServiceException && (error.$metadata?.httpStatusCode ?? 0) < 500) return 0; // engines without ListMultipartUploads
      throw error;
    }
    let removed = 0;
    for (const upload of answer.Uploads ?? []) {
      if (!upload.Key || !upload.UploadId || !upload.Initiated || upload.Initiated >= olderThan) continue;
      await this.abortMultipart(upload.Key, upload.UploadId);
      removed++;
    }
    return removed;
  }

  async ping(): Promise<void> {
    if (!(await this.bucketExists())) throw bucketMissing();
  }

  private async bucketExists(): Promise<boolean> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return true;
    } catch (error) {
      if (error instanceof S3ServiceException && error.$metadata?.httpStatusCode === 404) return false;
      throw unavailableOr(error);
    }
  }
}

/**
 * A checksum S3 verified against the bytes of a PUT bound to x-amz-checksum-sha256, as hex. Composite
 * checksums of multipart objects ("…-N", type COMPOSITE) are hashes of part hashes, not of the file.
 */
function fullObjectSha256(checksum: string | undefined, type: string | undefined): string | null {
  if (!checksum || checksum.includes('-') || (type && type !== 'FULL_OBJECT')) return null;
  const bytes = Buffer.from(checksum, 'base64');
  return bytes.length === 32 ? bytes.toString('hex') : null;
}
