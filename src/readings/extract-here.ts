/**
 * The extractors by kind, run in the calling process: the sandboxed child's body (extract-child.ts),
 * and, for small inputs of the kinds whose extractors only scan text, the worker itself (extract.ts).
 */
import { extractCsv } from './extractors/csv.js';
import { extractJson, extractJsonLines } from './extractors/json.js';
import { extractText } from './extractors/text.js';
import { type Extraction, type ReadingFailure, ReadingError, type ReadingKind } from './reading.js';

export async function extractHere(inputPath: string, kind: ReadingKind, workDir: string): Promise<Extraction> {
  switch (kind) {
    case 'csv':
      return extractCsv(inputPath);
    case 'json':
      return extractJson(inputPath);
    case 'jsonl':
      return extractJsonLines(inputPath);
    case 'text':
      return extractText(inputPath, workDir);
    // Loaded only for their kinds: pdfjs alone costs ~0.4 s to import.
    case 'pdf':
      return (await import('./extractors/pdf.js')).extractPdf(inputPath, workDir);
    case 'image':
      return (await import('./extractors/image.js')).extractImage(inputPath, workDir);
    default:
      throw new TypeError(`no extractor for kind ${JSON.stringify(kind)}`);
  }
}

/** A thrown error as a verdict: the file's fault (a ReadingFailure), or the machine's (`system`). */
export function classify(error: unknown): { reason: ReadingFailure | 'system'; message: string } {
  if (error instanceof ReadingError) return { reason: error.reason, message: error.message };
  const { code, message } = error as NodeJS.ErrnoException;
  if (code === 'ERR_FS_FILE_TOO_LARGE' || code === 'ERR_STRING_TOO_LONG') {
    return { reason: 'too_large', message: 'the file is too large to be read whole' };
  }
  if (error instanceof RangeError && /allocation failed|invalid (typed )?array length|call stack/i.test(message)) {
    return { reason: /call stack/i.test(message) ? 'malformed' : 'memory_limit', message: `the extractor gave up: ${message}` };
  }
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return { reason: 'system', message }; // errno codes, not ERR_*
  return { reason: 'crashed', message: `the extractor failed: ${error instanceof Error ? error.message : String(error)}` };
}
