import { buildApp } from '../app.js';
import { closeGracefully } from '../http/shutdown.js';
import { bootstrapFirstStart } from '../bootstrap.js';
import type { Config } from '../config.js';
import { startWorker } from '../jobs/worker.js';
import { composeModules } from '../modules.js';
import { type Runtime, openRuntime } from '../runtime.js';
import { resolveSigningSecret } from '../secrets.js';
import { exitAt, shutdownSignal, untilDeadline } from '../shutdown.js';
import { CommandError } from './args.js';

export type Role = 'all' | 'serve' | 'worker';

/** One part of the process that stops taking work and lets what runs finish by `until` (epoch ms). */
interface Drain {
  name: string;
  drain(until: number): Promise<void>;
}

/**
 * Of the grace period, what closing the queue, the pool and the database keeps for itself after
 * requests and jobs have drained.
 */
const CLOSE_SHARE = 0.25;
const CLOSE_MAX_MS = 3000;

/**
 * `stowage start|serve|worker`: runs until SIGINT/SIGTERM, then stops within the grace period
 * (STOWAGE_SHUTDOWN_GRACE_SECONDS) whatever is in flight: requests and jobs drain until most of it
 * has passed, then connections are cut and the queue, pool and database closed. A second signal
 * exits at once.
 */
export async function runServer(config: Config, role: Role): Promise<void> {
  const signingSecret = await resolveSigningSecret(config.signingSecret, config.dataDir);
  const runtime = await openRuntime(config, { signingSecret, defaultMetrics: true });
  const { logger } = runtime;
  // A reader that went away must not turn a banner line into a crash; the logger copes on its own.
  process.stdout.on('error', () => {});
  // Installed before anything slow starts, so an early signal is an orderly shutdown too.
  const signalled = shutdownSignal(logger);
  const drains: Drain[] = [];

  let received: NodeJS.Signals | null = null;
  void signalled.then((signal) => (received = signal));
  try {
    await start(runtime, role, drains);
  } catch (error) {
    // A signal to the process group can stop an embedded PostgreSQL under a start still in progress.
    if (!received) throw error;
    logger.info({ err: error }, 'start cut short by the shutdown signal');
  }

  const signal = await signalled;
  const graceMs = config.http.shutdownGraceMs;
  const deadline = Date.now() + graceMs;
  runtime.beginShutdown();
  exitAt(deadline, logger);
  logger.info({ signal, grace_ms: graceMs }, 'shutting down');
  const drainedBy = deadline - Math.min(CLOSE_MAX_MS, graceMs * CLOSE_SHARE);
  await Promise.all(
    drains.map(({ name, drain }) =>
      untilDeadline(name, () => drain(drainedBy), drainedBy, logger).catch((e) => logger.error({ err: e, step: name }, 'stop failed')),
    ),
  );
  await runtime.close({ deadline });
  logger.info({ ms: graceMs - (deadline - Date.now()) }, 'stopped');
}

/** Starts the HTTP API and/or the worker; adds to `drains` how each stops. */
async function start(runtime: Runtime, role: Role, drains: Drain[]): Promise<void> {
  const { config, logger } = runtime;
  const composition = await composeModules({ ...runtime, db: runtime.database.db });
  let banner = '';
  if (role !== 'worker') {
    const first = await bootstrapFirstStart(runtime.database.db, config.dataDir);
    const app = await buildApp(composition);
    await app.listen({ port: config.port, host: config.host }).catch((error: NodeJS.ErrnoException) => {
      throw listenProblem(error, config.host, config.port) ?? error;
    });
    drains.push({ name: 'http', drain: (until) => closeGracefully(app, until - Date.now()) });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const url = config.publicUrl ?? `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}`;
    banner = `Stowage is serving at ${url}  (API docs: ${url}/docs)\n`;
    if (first) {
      banner += `First start: created organisation "default" and an admin API key (shown once, also in ${first.file}):\n${first.key}\n`;
    }
  }
  if (role !== 'serve') {
    // Stops taking jobs; the ones running finish (or are handed back) when the queue stops.
    const stopWorker = await startWorker({ ...runtime, db: runtime.database.db, log: logger }, composition.deps, composition);
    drains.push({ name: 'worker', drain: () => stopWorker() });
    logger.info({ concurrency: config.jobs.concurrency }, 'worker started');
  }
  // Last: whoever waits for this line finds the whole process running.
  process.stdout.write(banner);
}

/** The usual reasons a port cannot be had, as one line that says which setting to change. */
function listenProblem(error: NodeJS.ErrnoException, host: string, port: number): CommandError | null {
  const where = `${host}:${port}`;
  if (error.code === 'EADDRINUSE') {
    return new CommandError(`cannot listen on ${where}: another process uses that port (set PORT to another, or PORT=0 for any free one)`);
  }
  if (error.code === 'EACCES') {
    return new CommandError(`cannot listen on ${where}: this user may not use that port (ports below 1024 need privileges; set PORT)`);
  }
  if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') {
    return new CommandError(`cannot listen on ${where}: ${host} is not an address of this machine (set HOST, e.g. 127.0.0.1 or 0.0.0.0)`);
  }
  return null;
}
