/**
 * convertToGlb: one model to a GLB preview in a child process held to a wall-clock and a memory limit.
 * Whatever the file does to the converter (loop, trap, eat memory), the cost is that one conversion.
 */
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ChildReply } from './convert-child.js';
import { PreviewError } from './errors.js';
import { CAD_FORMATS, type CadFormat } from './formats.js';
import type { Bbox } from './model.js';
import { childScriptBeside, describeDeath, type KillReason, runChild } from '../sandbox/run-child.js';

export { PreviewError, type PreviewFailure } from './errors.js';
export type { Bbox } from './model.js';

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
  /**
   * The axis-aligned box of the model's vertices in the file's own units and axes (Z up for CAD, Y up
   * for glTF), before the turn and scale the GLB adds to show it; null when the file does not give one.
   */
  bbox: Bbox | null;
  /** The unit of `bbox`: 'mm' (STEP, IGES: OpenCascade converts to it), 'm' (glTF), null (STL, BREP: no unit). */
  unit: string | null;
  /** Wall-clock time from starting the child to its answer (process start and module load included). */
  ms: number;
  /** The child's highest resident memory, in MiB (2^20 bytes), as the limit counts it. */
  peakRssMb: number;
}

export interface ConvertOptions {
  /** Kills the child (PreviewError 'aborted'), for a worker shutting down mid-conversion. */
  signal?: AbortSignal;
}

/**
 * Converts the model at inputPath to a GLB written to outputPath, in a child process held to the limits
 * (sandbox/run-child.ts).
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
  const outcome = await runConverter(inputPath, format, outputPath, limits, options.signal);
  const ms = performance.now() - started;
  if (outcome.ok) {
    const { size } = await stat(outputPath);
    const { meshes, triangles, bbox, unit, peakRssMb } = outcome;
    return { bytes: size, meshes, triangles, bbox, unit, ms, peakRssMb };
  }
  await rm(outputPath, { force: true });
  throw outcome.error;
}

async function runConverter(
  inputPath: string,
  format: CadFormat,
  outputPath: string,
  limits: PreviewLimits,
  signal: AbortSignal | undefined,
): Promise<Outcome> {
  // convert-child beside this file: .js in dist/; under tsx the .ts, or under `npm test` its fresh twin in dist/.
  const script = await childScriptBeside(import.meta.url, 'convert-child');
  const outcome = await runChild<ChildReply>({ script, args: [inputPath, format, outputPath], limits, signal });
  switch (outcome.kind) {
    case 'failed_to_start':
      return { ok: false, error: new Error(`could not run the preview converter: ${outcome.error.message}`) };
    case 'killed':
      return { ok: false, error: killed(outcome.reason, outcome.peakRssMb, limits) };
    case 'replied': {
      const { reply, peakRssMb } = outcome;
      if (reply.ok) return { ok: true, meshes: reply.meshes, triangles: reply.triangles, bbox: reply.bbox, unit: reply.unit, peakRssMb };
      if (reply.reason === 'system') return { ok: false, error: new Error(`preview conversion: ${reply.message}`) };
      return { ok: false, error: new PreviewError(reply.reason, reply.message, peakRssMb) };
    }
    case 'heap_exhausted':
      return {
        ok: false,
        error: new PreviewError('memory_limit', `the converter ran out of heap (limit ${limits.maxMemoryMb} MB)`, outcome.peakRssMb),
      };
    case 'died':
      return { ok: false, error: new PreviewError('crashed', `the converter ${describeDeath(outcome)}`, outcome.peakRssMb) };
  }
}

type Outcome =
  { ok: true; meshes: number; triangles: number; bbox: Bbox | null; unit: string | null; peakRssMb: number } | { ok: false; error: Error };

function killed(reason: KillReason, peakRssMb: number, limits: PreviewLimits): PreviewError {
  switch (reason) {
    case 'timeout':
      return new PreviewError('timeout', `the conversion took longer than ${limits.timeoutMs} ms and was stopped`, peakRssMb);
    case 'aborted':
      return new PreviewError('aborted', 'the conversion was cancelled', peakRssMb);
    case 'memory_limit':
      return new PreviewError(
        'memory_limit',
        `the conversion used ${Math.round(peakRssMb)} MB of memory, over the ${limits.maxMemoryMb} MB limit, and was stopped`,
        peakRssMb,
      );
  }
}
