import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..', '..');
const CLI = path.join(root, 'dist', 'cli.js');

/** Servers still running when this test process ends (a test that timed out) go with it. */
const running = new Set<ChildProcess>();
const killRunning = () => {
  for (const child of running) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
};
process.once('exit', killRunning);
// The test runner ends a file that timed out with a signal, which skips 'exit': the servers would outlive it.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    killRunning();
    process.kill(process.pid, signal);
  });
}

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export type ServerRole = 'start' | 'serve' | 'worker';

export interface SpawnedServer {
  child: ChildProcess;
  role: ServerRole;
  /** Where it serves HTTP; '' for a worker, which serves none. */
  url: string;
  /** The admin key printed on first start, or null on a later start. */
  adminKey: string | null;
  /** pino JSON lines read so far from stdout. */
  logs: LogLine[];
  /** Resolves with how the process ended and when (epoch ms). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  stderr(): string;
}

/**
 * `node dist/cli.js start` (or `serve`, `worker`) as users run it, in a process group of its own (so a
 * test can signal the group as a terminal does). Resolves once it serves (a worker: once its worker
 * has started). Environment: ours without any database or log settings, then `env`.
 */
export async function spawnServer(
  env: Record<string, string>,
  options: { readyTimeoutMs?: number; role?: ServerRole; installed?: { bin: string; cwd: string } } = {},
): Promise<SpawnedServer> {
  if (!options.installed && !existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const role = options.role ?? 'start';
  const base = { ...process.env };
  for (const name of ['DATABASE_URL', 'TEST_DATABASE_URL', 'LOG_LEVEL', 'PORT', 'STOWAGE_DATA_DIR']) delete base[name];
  // An installed package runs as a user runs it: its bin (the shebang picks node) from a folder of their own.
  const [command, args] = options.installed ? [options.installed.bin, [role]] : [process.execPath, [CLI, role]];
  const child = spawn(command, args, {
    cwd: options.installed?.cwd ?? root,
    env: { ...base, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const logs: LogLine[] = [];
  let stdout = '';
  let stderr = '';
  let pending = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const ready = new Promise<{ url: string; adminKey: string | null }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`not serving within ${options.readyTimeoutMs ?? 60_000} ms:\n${stdout}\n${stderr}`)),
      options.readyTimeoutMs ?? 60_000,
    );
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk;
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith('{')) logs.push(JSON.parse(line));
      }
      const served = /serving at (\S+)/.exec(stdout);
      const fresh = /First start/.test(stdout);
      const key = /^(stw_\S+)$/m.exec(stdout);
      if (role === 'worker' && logs.some((line) => line.msg === 'worker started')) {
        clearTimeout(timer);
        resolve({ url: '', adminKey: null });
      } else if (served && (!fresh || key)) {
        clearTimeout(timer);
        resolve({ url: served[1]!, adminKey: key?.[1] ?? null });
      }
    });
    void exited.then(({ code }) => reject(new Error(`exited (${code}) before serving:\n${stdout}\n${stderr}`)));
  });
  const { url, adminKey } = await ready;
  return { child, role, url, adminKey, logs, exited, stderr: () => stderr };
}

/** Log lines at error level or above (pino: 50 error, 60 fatal). */
export const errorLines = (logs: LogLine[]) => logs.filter((line) => line.level >= 50);
