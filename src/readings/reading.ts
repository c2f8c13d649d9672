/**
 * The contract between the processing job (modules/readings) and the extractors: what kinds of file
 * there are, what an extraction answers, and why one fails. Extractors run in a sandboxed child
 * (extract.ts → extract-child.ts), one file per child.
 */

/** What a confirmed upload is, for reading it. `unsupported` gets a reading too, never a failure. */
export type ReadingKind = 'pdf' | 'csv' | 'json' | 'jsonl' | 'image' | 'text' | 'cad' | 'unsupported';

export const READING_KINDS: readonly ReadingKind[] = ['pdf', 'csv', 'json', 'jsonl', 'image', 'text', 'cad', 'unsupported'];

/** Why a reading failed: the file's fault (recorded, not retried). Our own faults are thrown as plain Errors and retried. */
export type ReadingFailure = 'malformed' | 'too_large' | 'timeout' | 'memory_limit' | 'crashed' | 'aborted';

export class ReadingError extends Error {
  constructor(
    readonly reason: ReadingFailure,
    message: string,
  ) {
    super(message);
    this.name = 'ReadingError';
  }
}

/** Limits of one extraction: the child is killed past either. */
export interface ExtractLimits {
  timeoutMs: number;
  /** Resident memory of the whole child in MiB, native libraries included. */
  maxMemoryMb: number;
}

/** Text kept in a reading's `content.text`; the whole text (up to TEXT_FILE_CAP_BYTES) goes to search. */
export const CONTENT_TEXT_CAP_CHARS = 100_000;
/** Text extracted for search at most; past it `text_truncated: true` says so, the end is never dropped silently. */
export const TEXT_FILE_CAP_BYTES = 16 * 1024 * 1024;

/**
 * What an extraction answers.
 * - `content`: the reading's content, as the SPEC gives it per kind (pdf {pages, text, title, author};
 *   csv {delimiter, header, row_count, sample_rows}; json {kind: 'object'|'array'|…, top_level_keys |
 *   element_count, sample}; jsonl {kind: 'jsonl', record_count, sample}; image {width, height, format};
 *   text {encoding, line_count, text}); small (a text field is cut at CONTENT_TEXT_CAP_CHARS with
 *   `text_truncated: true`).
 * - `textPath`: a UTF-8 file in the work folder with all the text found (for search), when the kind has text.
 * - `thumbnailPath`: a small image in the work folder (images, a PDF's first page), with its content type.
 */
export interface Extraction {
  content: Record<string, unknown>;
  textPath?: string;
  thumbnail?: { path: string; contentType: 'image/webp' | 'image/png' };
}
