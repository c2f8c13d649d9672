/**
 * extractReading: one file's reading, extracted in a child process (extract-child.ts) held to a
 * wall-clock and a memory limit by the sandbox (sandbox/run-child.ts). Whatever the file does to the
 * extractor (loop, bomb, trap, eat memory), the cost is that one child: the server never notices.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { childScriptBeside, describeDeath, runChild } from '../sandbox/run-child.js';
import type { ChildReply } from './extract-child.js';
import { classify, extractHere } from './extract-here.js';
import { type ExtractLimits, type Extraction, ReadingError, type ReadingKind } from './reading.js';

/**
 * Inputs up to this size of these kinds are read in the calling process, not a child: their extractors
 * scan text in linear time under their own caps (columns, record size, nesting depth), so 64 KiB
 * bounds what they can cost to milliseconds and a few MB, while a child costs 0.3 s and ~40 MB to
 * start. Native parsers (PDF, images) always run in the child, whatever the size.
 */
const IN_PROCESS_MAX_BYTES = 64 * 1024;
const IN_PROCESS_KINDS: readonly ReadingKind[] = ['csv', 'json', 'jsonl', 'text'];

/** The kinds extracted here; 'cad' (previews) and 'unsupported' are the job's own. */
export const EXTRACTED_KINDS = ['pdf', 'csv', 'json', 'jsonl', 'image', 'text'] as const satisfies readonly ReadingKind[];

export interface ExtractOptions {
  /** Kills the child (ReadingError 'aborted'), for a worker shutting down mid-extraction. */
  signal?: AbortSignal;
}

export interface ExtractResult extends Extraction {
  /** Wall-clock time from starting the child to its answer (process start and module load included). */
  ms: number;
  /** The child's highest resident memory, in MiB, as the limit counts it; 0 for a small input read in process. */
  peakRssMb: number;
}

/**
 * Extracts the reading of the file at inputPath, read as `kind`; the files it answers (text for
 * search, a thumbnail) are written in workDir, the caller's own fresh folder. Rejects with a
 * ReadingError for anything about the file (its verdict: record it, do not retry) and with a plain
 * Error for anything about the machine (missing input, disk full: worth a retry).
 */
export async function extractReading(
  inputPath: string,
  kind: ReadingKind,
  workDir: string,
  limits: ExtractLimits,
  options: ExtractOptions = {},
): Promise<ExtractResult> {
  if (!(EXTRACTED_KINDS as readonly string[]).includes(kind)) throw new TypeError(`no extractor for kind ${JSON.stringify(kind)}`);
  if (!(limits.timeoutMs > 0) || !(limits.maxMemoryMb > 0)) {
    throw new RangeError(`extraction limits must be positive, got ${JSON.stringify(limits)}`);
  }
  const input = await stat(inputPath);
  if (!input.isFile()) throw new Error(`extraction input ${inputPath} is not a file`);
  if (!(await stat(workDir)).isDirectory()) throw new Error(`extraction work folder ${workDir} is not a folder`);
  if (options.signal?.aborted) throw new ReadingError('aborted', 'the extraction was cancelled before it started');

  if (IN_PROCESS_KINDS.includes(kind) && input.size <= IN_PROCESS_MAX_BYTES) return extractInProcess(inputPath, kind, workDir);
  // A small "PDF" without a single object cannot hold a page: no need to start pdfjs (0.2 s built, 2 s under tsx) to say so.
  if (kind === 'pdf' && input.size <= IN_PROCESS_MAX_BYTES && !/\d+\s+\d+\s+obj\b/.test(await readFile(inputPath, 'latin1'))) {
    throw new ReadingError('malformed', 'not a valid PDF: it holds no objects');
  }
  // extract-child beside this file: .js in dist/; under tsx the .ts, or under `npm test` its fresh twin in dist/.
  const script = await childScriptBeside(import.meta.url, 'extract-child');
  const outcome = await runChild<ChildReply>({ script, args: [inputPath, kind, workDir], limits, signal: options.signal });
  switch (outcome.kind) {
    case 'failed_to_start':
      throw new Error(`could not run the extractor: ${outcome.error.message}`);
    case 'killed':
      if (outcome.reason === 'timeout')
        throw new ReadingError('timeout', `the extraction took longer than ${limits.timeoutMs} ms and was stopped`);
      if (outcome.reason === 'aborted') throw new ReadingError('aborted', 'the extraction was cancelled');
      throw new ReadingError(
        'memory_limit',
        `the extraction used ${Math.round(outcome.peakRssMb)} MB of memory, over the ${limits.maxMemoryMb} MB limit, and was stopped`,
      );
    case 'heap_exhausted':
      throw new ReadingError('memory_limit', `the extractor ran out of heap (limit ${limits.maxMemoryMb} MB)`);
    case 'died':
      throw new ReadingError('crashed', `the extractor ${describeDeath(outcome)}`);
    case 'replied': {
      const { reply } = outcome;
      if (!reply.ok) {
        if (reply.reason === 'system') throw new Error(`extraction: ${reply.message}`);
        throw new ReadingError(reply.reason, reply.message);
      }
      const { extraction } = reply;
      // The child names files in the work folder only; anything else is not trusted.
      for (const file of [extraction.textPath, extraction.thumbnail?.path]) {
        if (file !== undefined && path.relative(workDir, file).startsWith('..'))
          throw new Error(`the extractor answered a file outside ${workDir}`);
      }
      return { ...extraction, ms: outcome.ms, peakRssMb: outcome.peakRssMb };
    }
  }
}

async function extractInProcess(inputPath: string, kind: ReadingKind, workDir: string): Promise<ExtractResult> {
  const started = performance.now();
  try {
    return { ...(await extractHere(inputPath, kind, workDir)), ms: performance.now() - started, peakRssMb: 0 };
  } catch (error) {
    const { reason, message } = classify(error);
    if (reason === 'system') throw new Error(`extraction: ${message}`);
    throw new ReadingError(reason, message);
  }
}
