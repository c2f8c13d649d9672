/**
 * runChild: one child script run in its own process, held to a wall-clock and a memory limit, for
 * work on a file that may be hostile (a converter, an extractor). Whatever the file does to the code
 * reading it (loop, trap, eat memory, crash), the cost is that one child: the caller gets an outcome
 * to judge, never an exception of the child's.
 *
 * The child is started by fork with an IPC channel and answers with exactly one message (its reply);
 * a reply may carry `maxRssMb`, the child's own VmHWM (sandbox/memory.ts ownPeakRssMb), so that a
 * child done between two samples still has its peak counted.
 */
import { fork } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { watchRss } from './memory.js';

export interface ChildLimits {
  timeoutMs: number;
  /** Resident memory of the whole child in MiB (V8 heap, WASM heap, native buffers): the figure the machine pays. */
  maxMemoryMb: number;
}

export interface RunChildOptions {
  /** Absolute path of the child script: a .ts one (run under tsx, as the parent is) or a built .js one. */
  script: string;
  args: readonly string[];
  limits: ChildLimits;
  /** Kills the child (outcome `killed` / `aborted`), for a worker shutting down mid-work. */
  signal?: AbortSignal;
  /** Extra V8 flags for the child (before the heap cap). */
  execArgv?: readonly string[];
  /** Memory is sampled this often; the kernel's high-water mark also catches what happens in between. */
  memoryPollMs?: number;
}

/** Why the parent killed the child. */
export type KillReason = 'timeout' | 'memory_limit' | 'aborted';

/**
 * How a run ended, judged in this order: killed by the parent; over the memory limit by the kernel's
 * figure even though not caught in time; answered; V8 out of heap; died some other way; never started.
 * `peakRssMb` is the child's highest resident memory in MiB (2^20 bytes), as the limit counts it.
 */
export type ChildOutcome<Reply> =
  | { kind: 'replied'; reply: Reply; peakRssMb: number; ms: number }
  | { kind: 'killed'; reason: KillReason; peakRssMb: number; ms: number }
  | { kind: 'heap_exhausted'; peakRssMb: number; ms: number; stderr: string }
  | { kind: 'died'; code: number | null; signal: NodeJS.Signals | null; stderr: string; peakRssMb: number; ms: number }
  | { kind: 'failed_to_start'; error: Error; ms: number };

const MEMORY_POLL_MS = 100;
const STDERR_TAIL_BYTES = 4096;

/**
 * Runs the script with the args in a child process and resolves with how it ended; never rejects.
 * The child is killed (SIGKILL) on its first reply: the answer is all the parent needs, and anything
 * it wrote is written before it answers. That saves the time a process with a grown heap takes to
 * exit on its own (~200 ms for a large WASM heap).
 */
export function runChild<Reply>(options: RunChildOptions): Promise<ChildOutcome<Reply>> {
  const { script, args, limits, signal } = options;
  if (!(limits.timeoutMs > 0) || !(limits.maxMemoryMb > 0)) {
    throw new RangeError(`child limits must be positive, got ${JSON.stringify(limits)}`);
  }
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve({ kind: 'killed', reason: 'aborted', peakRssMb: 0, ms: 0 });
    const child = fork(script, [...args], {
      execArgv: childExecArgv(script, limits.maxMemoryMb, options.execArgv ?? []),
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr = (stderr + text).slice(-STDERR_TAIL_BYTES)));
    child.stdout!.resume(); // a library's chatter is dropped, not left to fill the pipe and stall the child

    let replied = false;
    let reply: Reply | undefined;
    let killedFor: KillReason | null = null;
    const kill = (reason: KillReason) => {
      if (killedFor || replied) return;
      killedFor = reason;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => kill('timeout'), limits.timeoutMs);
    const watch = child.pid
      ? watchRss(child.pid, limits.maxMemoryMb, options.memoryPollMs ?? MEMORY_POLL_MS, () => kill('memory_limit'))
      : { stop: () => 0 };
    const onAbort = () => kill('aborted');
    signal?.addEventListener('abort', onAbort, { once: true });

    child.on('message', (message: Reply) => {
      if (!replied && !killedFor) {
        replied = true;
        reply = message;
      }
      child.kill('SIGKILL');
    });
    let settled = false;
    const settle = (outcome: ChildOutcome<Reply>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    child.on('error', (error) => {
      watch.stop();
      child.kill('SIGKILL');
      settle({ kind: 'failed_to_start', error, ms: elapsed() });
    });
    // 'close', not 'exit': stderr has been read to its end by then.
    child.on('close', (code, exitSignal) => {
      const reported = replied ? replyPeak(reply) : 0;
      const peakRssMb = Math.max(watch.stop(), reported);
      const ms = elapsed();
      if (killedFor) return settle({ kind: 'killed', reason: killedFor, peakRssMb, ms });
      // Over the limit between two samples and done before the next: the kernel's figure still says so,
      // and the verdict must not depend on the sampling's luck.
      if (peakRssMb > limits.maxMemoryMb) return settle({ kind: 'killed', reason: 'memory_limit', peakRssMb, ms });
      if (replied) return settle({ kind: 'replied', reply: reply as Reply, peakRssMb, ms });
      // No answer: the child died. V8 reaching the heap cap aborts the process with this on stderr.
      if (/heap out of memory|Allocation failed|Fatal process out of memory/i.test(stderr)) {
        return settle({ kind: 'heap_exhausted', peakRssMb, ms, stderr });
      }
      settle({ kind: 'died', code, signal: exitSignal, stderr, peakRssMb, ms });
    });
  });
}

/** "exited with code 3: last | lines | of stderr", for a child that died without an answer. */
export function describeDeath(outcome: { code: number | null; signal: NodeJS.Signals | null; stderr: string }): string {
  const how = outcome.signal ? `was killed by ${outcome.signal}` : `exited with code ${outcome.code}`;
  const last = outcome.stderr.trim().split('\n').slice(-3).join(' | ');
  return `${how} without an answer${last ? `: ${last}` : ''}`;
}

function replyPeak(reply: unknown): number {
  const reported = (reply as { maxRssMb?: unknown } | null)?.maxRssMb;
  return typeof reported === 'number' && Number.isFinite(reported) ? reported : 0;
}

/**
 * The heap cap, plus, for a .ts child (tests, benchmarks under tsx), the parent's module loader
 * flags: they are how it loads TypeScript. Only those are passed on, never the parent's whole execArgv:
 * that can hold `-e <code>` (the child would run the parent's code again, and fork again), --test,
 * --inspect or --watch. A built .js child needs no loader. The cap is a second line behind the RSS
 * watch: V8 fails cleanly inside the limit rather than growing until killed.
 */
export function childExecArgv(script: string, maxMemoryMb: number, extra: readonly string[] = []): string[] {
  const heapCap = `--max-old-space-size=${Math.max(16, Math.floor(maxMemoryMb))}`;
  const kept = process.execArgv.includes('--enable-source-maps') ? ['--enable-source-maps'] : [];
  if (script.endsWith('.ts')) {
    const args = process.execArgv;
    for (let i = 0; i < args.length; i++) {
      const [flag, inline] = args[i].split(/=(.*)/s, 2);
      if (!LOADER_FLAGS.has(flag)) continue;
      if (inline !== undefined) kept.push(args[i]);
      else if (i + 1 < args.length) kept.push(flag, args[++i]);
    }
    if (!kept.some((arg) => arg.includes('tsx'))) kept.push('--import', 'tsx');
  }
  return [...kept, ...extra, heapCap];
}

const LOADER_FLAGS = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader']);

/** src/ when this module runs from it (dist/ otherwise, where childScriptBeside never looks). */
const SRC_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The child script `name` in the folder of the module at `moduleUrl`, with that module's own
 * extension: the built .js in dist/ (production), the .ts under tsx (tests, benchmarks).
 *
 * Under tsx with STOWAGE_CHILD_SCRIPTS_FROM=dist, which `npm test` (scripts/run-tests.ts) sets once it
 * has rebuilt dist/, its fresh built twin instead (freshBuiltTwin): a .ts child loads TypeScript on
 * every start (0.4–0.5 s for an empty child, 2.5 s against 0.2 s built for a bad one-page PDF), and
 * the suite starts hundreds.
 */
export async function childScriptBeside(moduleUrl: string, name: string): Promise<string> {
  const module = fileURLToPath(moduleUrl);
  const own = path.join(path.dirname(module), `${name}${path.extname(module)}`);
  if (path.extname(module) !== '.ts' || process.env.STOWAGE_CHILD_SCRIPTS_FROM !== 'dist') return own;
  return (await freshBuiltTwin(own, SRC_ROOT)) ?? own;
}

/**
 * The .js that tsc built from `source` (a file under `srcRoot`) in the dist/ beside it, or null when
 * there is none or it may be stale: it must be at least as new as everything under srcRoot, files and
 * folders (a deleted or renamed file shows only in its folder's time). Checked at each call, so that
 * an edit made since the build never meets an old child.
 */
export async function freshBuiltTwin(source: string, srcRoot: string): Promise<string | null> {
  const inSrc = path.relative(srcRoot, source);
  if (inSrc.startsWith('..') || path.isAbsolute(inSrc)) return null;
  const twin = path.join(srcRoot, '..', 'dist', inSrc.replace(/\.ts$/, '.js'));
  const built = await mtimeMs(twin);
  return built > 0 && built >= (await newestMtimeMs(srcRoot)) ? twin : null;
}

/** The newest modification time of the folder and anything in it, at any depth. */
async function newestMtimeMs(dir: string): Promise<number> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const times = await Promise.all(entries.map((entry) => mtimeMs(path.join(entry.parentPath ?? entry.path, entry.name))));
  return Math.max(await mtimeMs(dir), ...times);
}

/** 0 for a path that is not there (any more). */
function mtimeMs(file: string): Promise<number> {
  return stat(file).then(
    (s) => s.mtimeMs,
    () => 0,
  );
}
