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
import { isLostConnection } from './db/pg-errors.js';
import { JobQueue } from './jobs/queue.js';
import { type Metrics, createMetrics } from './metrics.js';
import { untilDeadline } from './shutdown.js';

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
  /** From now on, lost database connections are the shutdown at work, not faults to report. */
  beginShutdown(): void;
  /** Closes the queue, the pool and the database, each waited for no later than `deadline` (epoch ms). */
  close(options?: { deadline?: number }): Promise<void>;
}

/** How long `close()` waits at most when the caller names no deadline. */
const DEFAULT_CLOSE_MS = 15_000;

/** How long after losing its database connection the queue waits to see whether a shutdown explains it. */
const SHUTDOWN_SIGNAL_LAG_MS = 1000;

/**
 * The log goes to stdout synchronously: an asynchronous writer keeps lines in memory and writes them
 * out at exit in a loop that never ends when stdout is a pipe whose reader has gone (EPIPE), which
 * is how `npm start | tee log` ends on a signal to its process group.
 */
function stdoutLogger(level: string): Logger {
  return pino({ level }, pino.destination({ dest: 1, sync: true }));
}

export async function openRuntime(
  config: Config,
  options: { logger?: Logger; signingSecret: string; defaultMetrics?: boolean },
): Promise<Runtime> {
  const logger = options.logger ?? stdoutLogger(config.logLevel);
  await mkdir(config.dataDir, { recursive: true, mode: 0o755 });
  const target = await resolveDatabase(config, (m) => logger.debug({ postgres: m.trim() }));
  let stopping = false;
  /** Closed last to first; each waited for until its share of the deadline, so one that hangs leaves the others time. */
  const closers: { name: string; close: (deadline: number) => Promise<void> }[] = [{ name: 'database server', close: target.release }];
  const close = async (closing: { deadline?: number } = {}) => {
    stopping = true;
    const deadline = closing.deadline ?? Date.now() + DEFAULT_CLOSE_MS;
    const ordered = [...closers].reverse();
    const slack = Math.min(1000, Math.max(0, deadline - Date.now()) / (2 * ordered.length));
    for (const [i, { name, close }] of ordered.entries()) {
      const until = deadline - (ordered.length - 1 - i) * slack;
      await untilDeadline(name, () => close(until), until, logger).catch((error) => {
        if (isLostConnection(error)) logger.debug({ err: error, step: name }, 'shutdown step found its database connection gone');
        else logger.error({ err: error, step: name }, 'shutdown step failed');
      });
    }
  };
  // Errors pg-boss reports while its connections are being closed under it are the shutdown at
  // work; the same errors at any other time are a database gone missing, and reported as such. A
  // lost connection is judged a moment later: a signal to the process group reaches an embedded
  // PostgreSQL too, whose goodbye can arrive before our own signal handler has run.
  const onQueueError = (error: Error) => {
    const report = () => {
      if (stopping && isLostConnection(error)) logger.debug({ err: error }, 'job queue lost its database connection while shutting down');
      else logger.error({ err: error }, 'job queue error');
    };
    if (stopping || !isLostConnection(error)) report();
    else setTimeout(report, SHUTDOWN_SIGNAL_LAG_MS).unref();
  };
  try {
    const database = openDatabase(target.url, { max: config.databasePoolMax });
    closers.push({ name: 'database pool', close: () => database.close() });
    const { applied } = await migrate(database.db);
    if (applied.length) logger.info({ applied }, 'database migrated');

    const signer = new BlobUrlSigner(options.signingSecret);
    const blobs = await openBlobStore(config, signer);

    const queue = await JobQueue.start(target.url, config, onQueueError);
    // Jobs still running get the time left before the queue's deadline; past it pg-boss hands them back for a retry.
    closers.push({ name: 'job queue', close: (until) => queue.stop({ timeoutMs: until - Date.now() }) });
    return {
      config,
      logger,
      database,
      databaseUrl: target.url,
      blobs,
      signer,
      queue,
      metrics: createMetrics({ defaults: options.defaultMetrics }),
      beginShutdown: () => void (stopping = true),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
