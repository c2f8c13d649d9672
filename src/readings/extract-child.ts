/**
 * The child process of extractReading (extract.ts): reads one file and exits. Started by fork with
 * `inputPath kind workDir`; answers with one ChildReply over IPC. Living in its own process is the
 * point: a hostile file may make a parser loop, trap, or grow native memory to gigabytes, and the
 * parent can kill this process for it without losing anything of its own.
 */
import { ownPeakRssMb } from '../sandbox/memory.js';
import { extractCsv } from './extractors/csv.js';
import { extractJson, extractJsonLines } from './extractors/json.js';
import { extractText } from './extractors/text.js';
import { type Extraction, type ReadingFailure, ReadingError, type ReadingKind } from './reading.js';

export type ChildReply =
  | { ok: true; extraction: Extraction; maxRssMb: number | null }
  /** `system`: the failure is the machine's (disk full, permissions), not the file's; the parent rethrows it as a plain Error. */
  | { ok: false; reason: ReadingFailure | 'system'; message: string; maxRssMb: number | null };

const send = process.send?.bind(process);
if (!send) {
  console.error('extract-child is started by extractReading (src/readings/extract.ts) with an IPC channel, not by hand');
  process.exit(2);
}
// A parent that died (or gave up on us) cannot read the answer: stop at the next chance.
process.on('disconnect', () => process.exit(1));

const [inputPath, kind, workDir] = process.argv.slice(2) as [string, ReadingKind, string];

let reply: ChildReply;
try {
  reply = { ok: true, extraction: await extract(inputPath, kind, workDir), maxRssMb: ownPeakRssMb() };
} catch (error) {
  reply = { ok: false, ...classify(error), maxRssMb: ownPeakRssMb() };
}
send(reply, () => process.exit(0));

async function extract(inputPath: string, kind: ReadingKind, workDir: string): Promise<Extraction> {
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

function classify(error: unknown): { reason: ReadingFailure | 'system'; message: string } {
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
