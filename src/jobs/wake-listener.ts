import pg from 'pg';
import type { Logger } from 'pino';

/** The channel every enqueuing transaction notifies, with the job kind as payload. */
export const WAKE_CHANNEL = 'stowage_jobs';
const RECONNECT_MS = [500, 1000, 2000, 5000];
/** A goodbye the server does not answer (it is gone, or going) must not hold a shutdown. */
const END_WAIT_MS = 1000;

/**
 * Listens for jobs enqueued by any process (an API process apart from its workers) and wakes this
 * process's workers at once instead of at their next poll. A lost connection only costs latency:
 * polling still finds every job, and the listener reconnects in the background.
 */
export function listenForWakes(connectionString: string, onWake: (kind: string) => void, log: Logger): { stop(): Promise<void> } {
  let client: pg.Client | null = null;
  let stopped = false;
  let failures = 0;
  let retry: NodeJS.Timeout | null = null;

  const connect = async () => {
    const next = new pg.Client({ connectionString, application_name: 'stowage-wake' });
    next.on('notification', (message) => {
      if (message.channel === WAKE_CHANNEL && message.payload) onWake(message.payload);
    });
    next.on('error', (error) => {
      if (stopped) return;
      log.warn({ err: error }, 'job wake listener lost its connection; reconnecting');
      reconnect(next);
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${WAKE_CHANNEL}`);
      if (stopped) return void (await next.end().catch(() => {}));
      client = next;
      failures = 0;
    } catch (error) {
      log.warn({ err: error }, 'job wake listener could not connect; workers poll meanwhile');
      reconnect(next);
    }
  };

  const reconnect = (broken: pg.Client) => {
    if (client === broken) client = null;
    void broken.end().catch(() => {});
    if (stopped || retry) return;
    retry = setTimeout(
      () => {
        retry = null;
        void connect();
      },
      RECONNECT_MS[Math.min(failures++, RECONNECT_MS.length - 1)],
    );
  };

  void connect();
  return {
    async stop() {
      stopped = true;
      if (retry) clearTimeout(retry);
      const closing = client;
      client = null;
      if (!closing) return;
      let timer: NodeJS.Timeout | undefined;
      const gaveUp = new Promise<void>((resolve) => (timer = setTimeout(resolve, END_WAIT_MS)));
      await Promise.race([closing.end().catch(() => {}), gaveUp]);
      clearTimeout(timer);
    },
  };
}
