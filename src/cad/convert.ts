/**
 * convertToGlb: one model to a GLB preview in a child process held to a wall-clock and a memory limit.
 * Whatever the file does to the converter (loop, trap, eat memory), the cost is that one conversion.
 */
import { fork } from 'node:child_process';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { ChildReply } from './convert-child.js';
import { PreviewError } from './errors.js';
import { CAD_FORMATS, type CadFormat } from './formats.js';
import { watchRss } from './memory.js';

export { PreviewError, type PreviewFailure } from './errors.js';

export interface PreviewLimits {
  timeoutMs: number;
  /** Resident memory of the whole child in MiB (V8 heap, WASM heap, buffers): the figure the machine pays. */
  maxMemoryMb: number;
}

export interface PreviewResult {
  /** Size of the GLB written. */
  bytes: number;
  meshes: number;
  triangles: number;
  /** Wall-clock time from starting the child to its answer (process start and module load included). */
  ms: number;
  /** The child's highest resident memory, in MiB (2^20 bytes), as the limit counts it. */
  peakRssMb: number;
}

export interface ConvertOptions {
  /** Kills the child (PreviewError 'aborted'), for a worker shutting down mid-conversion. */
  signal?: AbortSignal;
}

/** Memory is sampled this often; the kernel's high-water mark also catches what happens in between. */
const MEMORY_POLL_MS = 100;
const STDERR_TAIL_BYTES = 4096;

// Beside this file, with its extension: convert-child.ts under tsx (tests, benchmarks), convert-child.js in dist/.
const HERE = fileURLToPath(import.meta.url);
const CHILD_SCRIPT = path.join(path.dirname(HERE), `convert-child${path.extname(HERE)}`);

/**
 * Converts the model at inputPath to a GLB written to outputPath, in a child process held to the limits.
 * Rejects with a PreviewError for anything about the file (its verdict: record it, do not retry) and
 * with a plain Error for anything about the machine (missing input, disk full: worth a retry).
 * outputPath must be the caller's own fresh path: on failure it is removed.
 */
export async function convertToGlb(
  inputPath: string,
  format: CadFormat,
  outputPath: string,
  limits: PreviewLimits,
  options: ConvertOptions = {},
): Promise<PreviewResult> {
  if (!CAD_FORMATS.includes(format)) throw new TypeError(`unknown preview format ${JSON.stringify(format)}`);
  if (!(limits.timeoutMs > 0) || !(limits.maxMemoryMb > 0))
    throw new RangeError(`preview limits must be positive, got ${JSON.stringify(limits)}`);
  const input = await stat(inputPath);
  if (!input.isFile()) throw new Error(`preview input ${inputPath} is not a file`);
  if (options.signal?.aborted) throw new PreviewError('aborted', 'the conversion was cancelled before it started');

  const started = performance.now();
  const outcome = await runChild(inputPath, format, outputPath, limits, options.signal);
  const ms = performance.now() - started;
  if (outcome.ok) {
    const { size } = await stat(outputPath);
    return { bytes: size, meshes: outcome.meshes, triangles: outcome.triangles, ms, peakRssMb: outcome.peakRssMb };
  }
  await rm(outputPath, { force: true });
  throw outcome.error;
}

type Outcome = { ok: true; meshes: number; triangles: number; peakRssMb: number } | { ok: false; error: Error };

function runChild(
  inputPath: string,
  format: CadFormat,
  outputPath: string,
  limits: PreviewLimits,
  signal: AbortSignal | undefined,
): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = fork(CHILD_SCRIPT, [inputPath, format, outputPath], {
      execArgv: childExecArgv(limits.maxMemoryMb),
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr = (stderr + text).slice(-STDERR_TAIL_BYTES)));
    child.stdout!.resume(); // OpenCascade's chatter is captured in the child; anything else is dropped, not left to fill the pipe

    let reply: ChildReply | null = null;
    let killedFor: PreviewError | null = null;
    const kill = (error: PreviewError) => {
      if (killedFor) return;
      killedFor = error;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(
      () => kill(new PreviewError('timeout', `the conversion took longer than ${limits.timeoutMs} ms and was stopped`)),
      limits.timeoutMs,
    );
    const watch = child.pid
      ? watchRss(child.pid, limits.maxMemoryMb, MEMORY_POLL_MS, (peakMb) => kill(overMemory(peakMb, limits.maxMemoryMb)))
      : { stop: () => 0 };
    const onAbort = () => kill(new PreviewError('aborted', 'the conversion was cancelled'));
    signal?.addEventListener('abort', onAbort, { once: true });

    child.on('message', (message: ChildReply) => {
      reply ??= message;
      // The answer is all we need, and the file is written before it is sent. Killing saves the ~200 ms
      // a process with a grown WASM heap takes to exit on its own.
      child.kill('SIGKILL');
    });
    let settled = false;
    const settle = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    child.on('error', (error) => {
      watch.stop();
      child.kill('SIGKILL');
      settle({ ok: false, error: new Error(`could not run the preview converter: ${error.message}`) });
    });
    // 'close', not 'exit': stderr has been read to its end by then.
    child.on('close', (code, exitSignal) => {
      const peakRssMb = Math.max(watch.stop(), reply?.maxRssMb ?? 0);
      settle(judge(reply, killedFor, peakRssMb, limits, { code, signal: exitSignal, stderr }));
    });
  });
}

function judge(
  reply: ChildReply | null,
  killedFor: PreviewError | null,
  peakRssMb: number,
  limits: PreviewLimits,
  exit: { code: number | null; signal: NodeJS.Signals | null; stderr: string },
): Outcome {
  if (killedFor) return { ok: false, error: withPeak(killedFor, peakRssMb) };
  // Over the limit between two samples and done before the next: the kernel's figure still says so,
  // and the verdict must not depend on the sampling's luck.
  if (peakRssMb > limits.maxMemoryMb) return { ok: false, error: overMemory(peakRssMb, limits.maxMemoryMb) };
  if (reply?.ok) return { ok: true, meshes: reply.meshes, triangles: reply.triangles, peakRssMb };
  if (reply) {
    if (reply.reason === 'system') return { ok: false, error: new Error(`preview conversion: ${reply.message}`) };
    return { ok: false, error: new PreviewError(reply.reason, reply.message, peakRssMb) };
  }
  // No answer: the child died. V8 reaching the heap cap aborts the process with this on stderr.
  if (/heap out of memory|Allocation failed|Fatal process out of memory/i.test(exit.stderr)) {
    return {
      ok: false,
      error: new PreviewError('memory_limit', `the converter ran out of heap (limit ${limits.maxMemoryMb} MB)`, peakRssMb),
    };
  }
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
  const last = exit.stderr.trim().split('\n').slice(-3).join(' | ');
  return { ok: false, error: new PreviewError('crashed', `the converter ${how} without an answer${last ? `: ${last}` : ''}`, peakRssMb) };
}

function overMemory(peakMb: number, limitMb: number): PreviewError {
  return new PreviewError(
    'memory_limit',
    `the conversion used ${Math.round(peakMb)} MB of memory, over the ${limitMb} MB limit, and was stopped`,
    peakMb,
  );
}

function withPeak(error: PreviewError, peakRssMb: number): PreviewError {
  return error.peakRssMb === undefined ? new PreviewError(error.reason, error.message, peakRssMb) : error;
}

/**
 * The heap cap, plus, for the .ts child (tests, benchmarks under tsx), the parent's module loader
 * flags: they are how it loads TypeScript. Only those are passed on, never the parent's whole execArgv:
 * that can hold `-e <code>` (the child would run the parent's code again, and fork again), --test,
 * --inspect or --watch. The compiled child needs no loader. The cap is a second line behind the RSS
 * watch: V8 fails cleanly inside the limit rather than growing until killed.
 */
function childExecArgv(maxMemoryMb: number): string[] {
  const heapCap = `--max-old-space-size=${Math.max(16, Math.floor(maxMemoryMb))}`;
  const kept = process.execArgv.includes('--enable-source-maps') ? ['--enable-source-maps'] : [];
  if (!CHILD_SCRIPT.endsWith('.ts')) return [...kept, heapCap];
  const args = process.execArgv;
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split(/=(.*)/s, 2);
    if (!LOADER_FLAGS.has(flag)) continue;
    if (inline !== undefined) kept.push(args[i]);
    else if (i + 1 < args.length) kept.push(flag, args[++i]);
  }
  if (!kept.some((arg) => arg.includes('tsx'))) kept.push('--import', 'tsx');
  return [...kept, heapCap];
}

const LOADER_FLAGS = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader']);
