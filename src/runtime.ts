import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import type { BlobStore } from './blobs/blob-store.js';
import { LocalBlobStore } from './blobs/local.js';
import { BlobUrlSigner } from './blobs/signed-url.js';
import type { Config } from './config.js';
import { resolveDatabase } from './db/connect.js';
import { type DatabaseHandle, openDatabase } from './db/database.js';
import { migrate } from './db/migrate.js';
import { JobQueue } from './jobs/queue.js';
import { type Metrics, createMetrics } from './metrics.js';

export async function openBlobStore(config: Config, signer: BlobUrlSigner): Promise<BlobStore> {
  // The AWS SDK is loaded only by servers that use it: some 7 MB of resident memory otherwise.
  const store = config.s3
    ? new (await import('./blobs/s3.js')).S3BlobStore(config.s3)
    : new LocalBlobStore(path.join(config.dataDir, 'blobs'), signer);
  await store.init();
  return store;
}

/** Everything a Stowage process runs on, opened from the configuration and closed in reverse. */
export interface Runtime {
  config: Config;
  logger: Logger;
  database: DatabaseHandle;
  databaseUrl: string;
  blobs: BlobStore;
  signer: BlobUrlSigner;
  queue: JobQueue;
  metrics: Metrics;
  close(): Promise<void>;
}

export async function openRuntime(config: Config, options: { logger?: Logger; signingSecret: string; defaultMetrics?: boolean }): Promise<Runtime> {
  const logger = options.logger ?? pino({ level: config.logLevel });
  await mkdir(config.dataDir, { recursive: true, mode: 0o755 });
  const target = await resolveDatabase(config, (m) => logger.debug({ postgres: m.trim() }));
  const closers: (() => Promise<void>)[] = [target.release];
  const close = async () => {
    for (const closer of closers.reverse()) await closer().catch((e) => logger.error({ err: e }, 'shutdown step failed'));
  };
  try {
    const database = openDatabase(target.url);
    closers.push(database.close);
    const { applied } = await migrate(database.db);
    if (applied.length) logger.info({ applied }, 'database migrated');

    const signer = new BlobUrlSigner(options.signingSecret);
    const blobs = await openBlobStore(config, signer);

    const queue = await JobQueue.start(target.url, config.jobs, (e) => logger.error({ err: e }, 'job queue error'));
    closers.push(() => queue.stop());
    return {
      config,
      logger,
      database,
      databaseUrl: target.url,
      blobs,
      signer,
      queue,
      metrics: createMetrics({ defaults: options.defaultMetrics }),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
