import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { S3Settings } from '../../src/blobs/s3.js';

/**
 * The S3 engine tests run against: the real one of S3_TEST_ENDPOINT (Ceph RGW in CI), else s3rver,
 * a quick stand-in that does not check signatures or checksums and lacks ListParts and Abort.
 */
export interface S3Engine {
  name: 'external' | 's3rver';
  /**
   * What this engine cannot show; tests that need it say so by name instead of passing.
   * multipartListing: ListParts and AbortMultipartUpload. multipartChecks: refusing a completion whose
   * parts are missing, of another etag or too small, and a part sent for another key.
   */
  lacks: { signatures: boolean; checksums: boolean; multipartListing: boolean; multipartChecks: boolean };
  settings(bucket: string): S3Settings;
  close(): Promise<void>;
}

export const usingRealS3 = () => Boolean(process.env.S3_TEST_ENDPOINT);

export async function startS3Engine(): Promise<S3Engine> {
  const endpoint = process.env.S3_TEST_ENDPOINT;
  if (endpoint) {
    const credentials = {
      accessKeyId: process.env.S3_TEST_ACCESS_KEY ?? 'TESTACCESSKEY0000001',
      secretAccessKey: process.env.S3_TEST_SECRET_KEY ?? 'testsecretkey0000000000000000000000000001',
    };
    return {
      name: 'external',
      // Ceph RGW 16 ignores x-amz-checksum-sha256 (the engine answers without checking it).
      lacks: {
        signatures: false,
        checksums: process.env.S3_TEST_ENFORCES_CHECKSUMS !== 'true',
        multipartListing: false,
        multipartChecks: false,
      },
      settings: (bucket) => ({ endpoint, region: 'us-east-1', bucket, forcePathStyle: true, ...credentials }),
      close: async () => {},
    };
  }
  const { default: S3rver } = await import('s3rver');
  const directory = await mkdtemp(path.join(os.tmpdir(), 'stowage-s3rver-'));
  // Port 0: the port it is given is the one it holds, with no window for another process to take it.
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory });
  const { port } = (await server.run()) as { port: number };
  return {
    name: 's3rver',
    // Measured on s3rver 3.7.1: ListParts and Abort answer 405; CompleteMultipartUpload ignores etags and
    // part sizes, and a listed part it does not hold crashes it (an unhandled stream error in this process).
    lacks: { signatures: true, checksums: true, multipartListing: true, multipartChecks: true },
    settings: (bucket) => ({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      bucket,
      forcePathStyle: true,
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
    }),
    close: async () => {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

export const freshBucketName = () => `stowage-t-${randomBytes(5).toString('hex')}`;

/** Environment that points a Stowage process at an S3 bucket. */
export function s3EnvOf(settings: S3Settings): Record<string, string> {
  return {
    STORAGE_DRIVER: 's3',
    S3_ENDPOINT: settings.endpoint ?? '',
    S3_REGION: settings.region,
    S3_BUCKET: settings.bucket,
    S3_ACCESS_KEY_ID: settings.accessKeyId,
    S3_SECRET_ACCESS_KEY: settings.secretAccessKey,
    S3_FORCE_PATH_STYLE: String(settings.forcePathStyle),
  };
}
