import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { type Cluster, type ClusterNode, startCluster } from './cluster.js';
import { callApi, freshDatabase } from './harness.js';
import { freshBucketName, s3EnvOf, startS3Engine, usingRealS3 } from './s3.js';

/**
 * A cluster for a test file: 2 `stowage serve` + 2 `stowage worker` on a fresh database of the run's
 * PostgreSQL, on the s3 driver when S3_TEST_ENDPOINT is set (Ceph RGW in CI), else on the local
 * driver with one data folder shared by every node (the blobs live there).
 */
export interface TestCluster extends Cluster {
  driver: 's3' | 'local';
  /** The shared data folder (local driver), or null. */
  sharedDataDir: string | null;
  databaseUrl: string;
  /** A client of the cluster's database, for the rows behind the answers. */
  sql: pg.Client;
  api<T = any>(
    node: ClusterNode,
    method: string,
    route: string,
    call?: { body?: unknown; headers?: Record<string, string> },
  ): Promise<Answer<T>>;
  /** Polls a job on alternating API nodes until it ends. */
  settled(jobId: string, timeoutMs?: number): Promise<any>;
  close(): Promise<void>;
}

export interface Answer<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/**
 * Four server processes per file, three files: on two cores they added ~3 minutes to the embedded
 * pass of CI, taking it near its 20-minute budget. They run where the issue puts them, in CI's second
 * pass (machine PostgreSQL, Ceph RGW: S3_TEST_ENDPOINT set), and anywhere with STOWAGE_TEST_CLUSTER=1
 * (on the local driver without S3_TEST_ENDPOINT). The local driver's cross-node part state is also
 * covered by blob-store-local's two stores on one folder, which always run.
 */
export const clusterSkip: string | false =
  usingRealS3() || process.env.STOWAGE_TEST_CLUSTER === '1'
    ? false
    : 'cluster tests run with S3_TEST_ENDPOINT (CI pass 2: machine PostgreSQL + Ceph RGW) or STOWAGE_TEST_CLUSTER=1';

export const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

export async function startTestCluster(env: Record<string, string> = {}): Promise<TestCluster> {
  const database = await freshDatabase();
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'stowage-cluster-'));
  const s3 = usingRealS3() ? await startS3Engine() : null;
  const sharedDataDir = s3 ? null : path.join(scratch, 'shared');
  const cluster = await startCluster({
    databaseUrl: database.url,
    storageEnv: s3 ? s3EnvOf(s3.settings(freshBucketName())) : {},
    dataDirPrefix: path.join(scratch, 'node'),
    sharedDataDir: sharedDataDir ?? undefined,
    env: {
      STOWAGE_JOB_POLL_SECONDS: '0.5',
      STOWAGE_JOB_RETRY_DELAY_SECONDS: '1',
      STOWAGE_JOB_MAINTENANCE_SECONDS: '1',
      RATE_LIMIT_PER_KEY: '100000',
      RATE_LIMIT_PER_ORG: '100000',
      ...env,
    },
  }).catch(async (error) => {
    await database.drop();
    await rm(scratch, { recursive: true, force: true });
    throw error;
  });
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();

  const api: TestCluster['api'] = (node, method, route, call = {}) =>
    callApi(node.server.url, method, route, { ...call, headers: { 'x-api-key': cluster.adminKey, ...call.headers } });

  return Object.assign(cluster, {
    driver: s3 ? ('s3' as const) : ('local' as const),
    sharedDataDir,
    databaseUrl: database.url,
    sql: client,
    api,
    async settled(jobId: string, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (let i = 0; ; i++) {
        const live = cluster.apis.filter((node) => node.server.child.exitCode === null && node.server.child.signalCode === null);
        const job = (await api(live[i % live.length]!, 'GET', `/api/v1/jobs/${jobId}`)).body;
        if (job.status === 'succeeded' || job.status === 'failed') return job;
        if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job.status} after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
    async close() {
      await cluster.stop();
      await client.end().catch(() => {});
      await s3?.close();
      await database.drop();
      await rm(scratch, { recursive: true, force: true });
    },
  });
}

/** PUTs to a presigned URL with the headers it came with (fetch sets Content-Length itself). */
export async function putSigned(signed: { url: string; method: string; headers: Record<string, string> | null }, bytes: Buffer) {
  const headers = Object.fromEntries(Object.entries(signed.headers ?? {}).filter(([name]) => name.toLowerCase() !== 'content-length'));
  return fetch(signed.url, { method: signed.method, headers, body: new Uint8Array(bytes) });
}

/** The bytes behind a download URL and their sha256. */
export async function fetchSha(url: string): Promise<{ status: number; sha256: string; size: number }> {
  const response = await fetch(url);
  const bytes = Buffer.from(await response.arrayBuffer());
  return { status: response.status, sha256: sha256(bytes), size: bytes.length };
}
