import os from 'node:os';
import type { Logger } from 'pino';

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
/**
 * A signal sent to a whole process group can reach us twice at once (directly, and forwarded by a
 * wrapper such as npm or a shell): a repeat this soon is the same request, not an impatient operator.
 */
const SAME_REQUEST_MS = 1000;

/**
 * Resolves at the first SIGINT or SIGTERM, replacing every other handler of them (embedded PostgreSQL
 * would otherwise stop the database under in-flight work). A later signal exits at once, unfinished.
 */
export function shutdownSignal(log: Logger): Promise<NodeJS.Signals> {
  for (const signal of SIGNALS) process.removeAllListeners(signal);
  return new Promise((resolve) => {
    let first: { signal: NodeJS.Signals; at: number } | null = null;
    const onSignal = (signal: NodeJS.Signals) => {
      if (!first) {
        first = { signal, at: Date.now() };
        return resolve(signal);
      }
      if (Date.now() - first.at < SAME_REQUEST_MS) return;
      log.warn({ signal }, 'second signal: exiting without finishing the shutdown');
      process.exit(128 + (os.constants.signals[signal] ?? 1));
    };
    for (const signal of SIGNALS) process.on(signal, onSignal);
  });
}

/** Whatever still runs at `deadline` (a step that hangs), the process exits then. */
export function exitAt(deadline: number, log: Logger): void {
  setTimeout(
    () => {
      log.warn({ grace_ms_exceeded: true }, 'shutdown did not finish within its grace period; exiting with work unfinished');
      process.exit(1);
    },
    Math.max(0, deadline - Date.now()),
  ).unref();
}

/**
 * Runs `step` but waits for it no later than `deadline`: a stop that hangs (a database that went
 * away, a pool waiting for a client never released) must not hold the ones after it.
 */
export async function untilDeadline(name: string, step: () => Promise<unknown>, deadline: number, log: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), Math.max(0, deadline - Date.now()));
    timer.unref();
  });
  try {
    const outcome = await Promise.race([step().then(() => 'done' as const), late]);
    if (outcome === 'late') log.warn({ step: name }, 'shutdown step still running at its deadline; going on without it');
  } finally {
    clearTimeout(timer);
  }
}
