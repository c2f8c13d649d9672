/**
 * extractCsv: delimiter, header, row count and the first rows of a CSV/TSV, in flat memory whatever its
 * size. Three steps: the delimiter is sniffed on the head (own code: csv-parse's delimiter_auto picks
 * wrong on quoted text); csv-parse reads the first records (header + sample); a quote-aware byte scanner
 * counts the records of the whole file, enforcing the column and record-size caps as it goes (csv-parse
 * has no column cap, and is ~10× slower than the scanner for counting).
 */
import { createReadStream } from 'node:fs';
import { CsvError, parse } from 'csv-parse';
import { type Extraction, ReadingError } from '../reading.js';
import { cutString, isStrictUtf8, readHead } from './text.js';

export const CSV_MAX_COLUMNS = 2048;
export const CSV_MAX_RECORD_BYTES = 1024 * 1024;
/** The delimiter is sniffed on this much (more when the first record is longer, up to CSV_MAX_RECORD_BYTES). */
const SNIFF_BYTES = 64 * 1024;
const SNIFF_LINES = 50;
const SAMPLE_ROWS = 5;
/** Records read for the header heuristic (the sample is their first SAMPLE_ROWS data rows). */
const HEADER_PROBE_ROWS = 20;
const CELL_CAP_CHARS = 1000;
const DELIMITERS = [',', '\t', ';', '|'] as const;

export interface CsvContent {
  delimiter: string;
  header: string[] | null;
  /** Data records (the header not counted; empty lines skipped). */
  row_count: number;
  sample_rows: string[][];
  column_count: number;
  [key: string]: unknown;
}

export async function extractCsv(inputPath: string): Promise<Extraction> {
  const { head, size } = await readCsvHead(inputPath);
  if (head.includes(0)) throw new ReadingError('malformed', 'the file holds binary data (NUL bytes), not CSV text');
  if (!isStrictUtf8(head, head.length < size)) throw new ReadingError('malformed', 'the file is not UTF-8 text');
  let text = head.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') {
    const empty: CsvContent = { delimiter: ',', header: null, row_count: 0, sample_rows: [], column_count: 0 };
    return { content: empty };
  }
  const eol = text.includes('\n') || !text.includes('\r') ? '\n' : '\r';
  const { delimiter, columns } = sniffDelimiter(text, eol, head.length < size);
  if (columns > CSV_MAX_COLUMNS) throw tooManyColumns(1);

  const rows = await firstRecords(inputPath, delimiter, HEADER_PROBE_ROWS);
  const header = rows.length > 0 && looksLikeHeader(rows) ? rows[0] : null;
  const records = await countRecords(inputPath, delimiter.charCodeAt(0), eol.charCodeAt(0));
  const content: CsvContent = {
    delimiter,
    header: header && header.map((cell) => cutString(cell, CELL_CAP_CHARS)),
    row_count: Math.max(0, records - (header ? 1 : 0)),
    sample_rows: rows
      .slice(header ? 1 : 0, (header ? 1 : 0) + SAMPLE_ROWS)
      .map((row) => row.map((cell) => cutString(cell, CELL_CAP_CHARS))),
    column_count: rows[0]?.length ?? 0,
  };
  return { content };
}

/** The first SNIFF_BYTES, or up to the end of the first record when that is longer (capped). */
async function readCsvHead(inputPath: string): Promise<{ head: Buffer; size: number }> {
  let { head, size } = await readHead(inputPath, SNIFF_BYTES);
  if (head.length < size && !head.includes(10) && !head.includes(13)) {
    ({ head, size } = await readHead(inputPath, CSV_MAX_RECORD_BYTES + 1));
    if (!head.includes(10) && !head.includes(13) && head.length > CSV_MAX_RECORD_BYTES) {
      throw new ReadingError('too_large', `the first record is longer than ${CSV_MAX_RECORD_BYTES} bytes`);
    }
  }
  return { head, size };
}

/**
 * The delimiter whose count per line (outside quotes) agrees best with the first line's, then the one
 * giving more columns. A file with none of them on its first line is one column, comma-separated.
 */
export function sniffDelimiter(text: string, eol: '\n' | '\r', cut: boolean): { delimiter: string; columns: number } {
  // A head cut mid-file ends in a partial line: only complete lines are scored.
  const body = cut && text.includes(eol) ? text.slice(0, text.lastIndexOf(eol) + 1) : text.endsWith(eol) ? text : text + eol;
  let best: { delimiter: string; columns: number; score: number } | null = null;
  for (const delimiter of DELIMITERS) {
    const counts = countPerLine(body, delimiter, eol);
    if (counts.length === 0 || counts[0] === 0) continue;
    const agreeing = counts.filter((count) => count === counts[0]).length / counts.length;
    const score = agreeing * 1e7 + Math.min(counts[0], 1e6);
    if (!best || score > best.score) best = { delimiter, columns: counts[0] + 1, score };
  }
  return best ?? { delimiter: ',', columns: 1 };
}

/** Delimiters outside quotes on each of the first SNIFF_LINES complete lines (empty lines skipped). */
function countPerLine(text: string, delimiter: string, eol: string): number[] {
  const counts: number[] = [];
  let inQuotes = false;
  let count = 0;
  let length = 0;
  for (let i = 0; i < text.length && counts.length < SNIFF_LINES; i++) {
    const char = text[i];
    if (char === '"') inQuotes = !inQuotes;
    else if (inQuotes) continue;
    else if (char === delimiter) count++;
    else if (char === eol) {
      if (length > 0 && !(length === 1 && text[i - 1] === '\r')) counts.push(count);
      count = 0;
      length = 0;
      continue;
    }
    length++;
  }
  return counts;
}

/** The first `limit` records by csv-parse, lenient about ragged rows and stray quotes, as a spreadsheet is. */
async function firstRecords(inputPath: string, delimiter: string, limit: number): Promise<string[][]> {
  const parser = createReadStream(inputPath).pipe(
    parse({
      delimiter,
      bom: true,
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      max_record_size: CSV_MAX_RECORD_BYTES,
      to: limit,
    }),
  );
  const rows: string[][] = [];
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      if (record.length > CSV_MAX_COLUMNS) throw tooManyColumns(rows.length + 1);
      rows.push(record);
      if (rows.length >= limit) break;
    }
  } catch (error) {
    if (error instanceof CsvError) {
      if (error.code === 'CSV_MAX_RECORD_SIZE') {
        throw new ReadingError('too_large', `a record is longer than ${CSV_MAX_RECORD_BYTES} bytes (${error.message})`);
      }
      throw new ReadingError('malformed', `not a readable CSV: ${error.message}`);
    }
    throw error;
  } finally {
    parser.destroy();
  }
  return rows;
}

/**
 * A first row is a header when none of its cells is a number while later rows have some, or (for
 * all-text files) when its cells are all distinct and non-empty.
 */
function looksLikeHeader(rows: string[][]): boolean {
  const isNumber = (cell: string) => cell.trim() !== '' && !Number.isNaN(Number(cell.trim()));
  const first = rows[0];
  if (first.some(isNumber)) return false;
  if (rows.slice(1).some((row) => row.some(isNumber))) return true;
  return first.every((cell) => cell.trim() !== '') && new Set(first).size === first.length;
}

const QUOTE = 0x22;
const CR = 0x0d;
// Scanner states: at the start of a field, in an unquoted field, in a quoted one, just after a quote in a quoted one.
const FIELD_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
const QUOTE_IN_QUOTED = 3;

/**
 * Records in the whole file (non-empty lines outside quotes), streamed in 1 MiB chunks: flat memory.
 * Quotes open a field only at its start and "" is an escaped quote, as csv-parse with relax_quotes
 * reads them. Throws past CSV_MAX_COLUMNS, CSV_MAX_RECORD_BYTES, or at a NUL byte.
 */
export async function countRecords(inputPath: string, delimiter: number, eol: number): Promise<number> {
  let state = FIELD_START;
  let records = 0;
  let delimiters = 0;
  let length = 0; // bytes in the current record
  let previous = -1;
  for await (const chunk of createReadStream(inputPath, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte === 0) throw new ReadingError('malformed', `binary data (a NUL byte) in record ${records + 1}`);
      if (state === QUOTED) {
        if (byte === QUOTE) state = QUOTE_IN_QUOTED;
      } else if (state === QUOTE_IN_QUOTED && byte === QUOTE) {
        state = QUOTED;
      } else if (byte === delimiter) {
        state = FIELD_START;
        if (++delimiters >= CSV_MAX_COLUMNS) throw tooManyColumns(records + 1);
      } else if (byte === eol) {
        if (length > 0 && !(length === 1 && previous === CR)) records++;
        state = FIELD_START;
        delimiters = 0;
        length = 0;
        previous = byte;
        continue;
      } else if (state === FIELD_START) {
        state = byte === QUOTE ? QUOTED : UNQUOTED;
      } else {
        state = UNQUOTED;
      }
      previous = byte;
      if (++length > CSV_MAX_RECORD_BYTES) {
        const why = state === QUOTED ? ' (a quoted field that never closes?)' : '';
        throw new ReadingError('too_large', `record ${records + 1} is longer than ${CSV_MAX_RECORD_BYTES} bytes${why}`);
      }
    }
  }
  if (state === QUOTED) throw new ReadingError('malformed', `record ${records + 1} has a quoted field that never closes`);
  if (length > 0 && !(length === 1 && previous === CR)) records++;
  return records;
}

function tooManyColumns(record: number): ReadingError {
  return new ReadingError('too_large', `record ${record} has more than ${CSV_MAX_COLUMNS} columns`);
}
