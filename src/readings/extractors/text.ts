/**
 * extractText: a plain-text file's encoding, line count and text. The encoding is detected on the
 * first 64 KiB: BOM → UTF-16 by its zero-byte pattern → binary (NUL or control bytes: malformed) →
 * ASCII → strict UTF-8 → chardet → windows-1252. chardet goes last because it guesses wrong on ASCII,
 * UTF-16 without a BOM and short Latin-1; iconv-lite decodes (TextDecoder's windows-1252 loses 0x80–0x9F).
 * The whole file is decoded as a stream: flat memory, the text for search written to the work folder.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import chardet from 'chardet';
import iconv from 'iconv-lite';
import { CONTENT_TEXT_CAP_CHARS, type Extraction, ReadingError, TEXT_FILE_CAP_BYTES } from '../reading.js';

const SAMPLE_BYTES = 64 * 1024;

export interface DetectedEncoding {
  /** An iconv-lite name: utf-8, ascii, utf-16le, utf-16be, windows-1252, or chardet's guess (iso-8859-2, shift_jis, …). */
  encoding: string;
  bom: boolean;
}

export async function extractText(inputPath: string, workDir: string): Promise<Extraction> {
  const { head, size } = await readHead(inputPath, SAMPLE_BYTES);
  const detected = detectEncoding(head, head.length < size);
  if (!detected) throw new ReadingError('malformed', 'the file holds binary data, not text');
  const { encoding, bom } = detected;

  const textPath = path.join(workDir, 'text.txt');
  const out = createWriteStream(textPath);
  const decoder = iconv.getDecoder(encoding === 'ascii' ? 'utf-8' : encoding, { stripBOM: bom });
  let kept = '';
  let charsSeen = 0;
  let written = 0;
  let fileTruncated = false;
  let newlines = 0;
  let last = '';
  const take = async (decoded: string) => {
    if (decoded.length === 0) return;
    newlines += countNewlines(decoded);
    last = decoded[decoded.length - 1];
    if (kept.length < CONTENT_TEXT_CAP_CHARS) kept += decoded.slice(0, CONTENT_TEXT_CAP_CHARS - kept.length);
    if (fileTruncated) return;
    let bytes: Buffer = Buffer.from(decoded, 'utf8');
    if (written + bytes.length > TEXT_FILE_CAP_BYTES) {
      bytes = cutUtf8(bytes, TEXT_FILE_CAP_BYTES - written);
      fileTruncated = true;
    }
    written += bytes.length;
    if (!out.write(bytes)) await once(out, 'drain');
  };
  try {
    for await (const chunk of createReadStream(inputPath, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      const decoded = decoder.write(chunk);
      await take(decoded);
      charsSeen += decoded.length;
    }
    const rest = decoder.end() ?? '';
    await take(rest);
    charsSeen += rest.length;
  } finally {
    out.end();
    await once(out, 'close');
  }
  const content: Record<string, unknown> = {
    encoding,
    line_count: charsSeen === 0 ? 0 : newlines + (last === '\n' ? 0 : 1),
    text: kept,
  };
  if (charsSeen > CONTENT_TEXT_CAP_CHARS) content.text_truncated = true;
  if (fileTruncated) content.text_file_truncated = true;
  return { content, textPath };
}

/** The encoding of a text sample (the file's first bytes); null for binary data. */
export function detectEncoding(sample: Buffer, cut: boolean): DetectedEncoding | null {
  if (sample[0] === 0xef && sample[1] === 0xbb && sample[2] === 0xbf) return { encoding: 'utf-8', bom: true };
  if (sample[0] === 0xff && sample[1] === 0xfe) return { encoding: 'utf-16le', bom: true };
  if (sample[0] === 0xfe && sample[1] === 0xff) return { encoding: 'utf-16be', bom: true };
  const n = sample.length;
  let zeroEven = 0;
  let zeroOdd = 0;
  let control = 0;
  let high = 0;
  for (let i = 0; i < n; i++) {
    const byte = sample[i];
    if (byte === 0) {
      if (i & 1) zeroOdd++;
      else zeroEven++;
    } else if (byte < 9 || (byte > 13 && byte < 32 && byte !== 27)) control++;
    else if (byte > 127) high++;
  }
  // Mostly-Latin UTF-16: every other byte is zero, on one side only.
  if (n >= 4 && zeroOdd > n * 0.3 && zeroEven < n * 0.05) return { encoding: 'utf-16le', bom: false };
  if (n >= 4 && zeroEven > n * 0.3 && zeroOdd < n * 0.05) return { encoding: 'utf-16be', bom: false };
  if (zeroEven + zeroOdd > 0 || control > n * 0.1) return null;
  if (high === 0) return { encoding: 'ascii', bom: false };
  if (isStrictUtf8(sample, cut)) return { encoding: 'utf-8', bom: false };
  // Not UTF-8: a legacy 8-bit or multi-byte encoding. chardet's UTF guesses are wrong by now.
  const guess = chardet.analyse(sample).find((match) => !/^UTF-/i.test(match.name) && match.confidence >= 10);
  const name = guess?.name.toLowerCase();
  if (name && iconv.encodingExists(name) && name !== 'iso-8859-1') return { encoding: name, bom: false };
  // ISO-8859-1 and windows-1252 agree but on 0x80–0x9F, where windows-1252 has printable characters (€, “, ”…).
  return { encoding: 'windows-1252', bom: false };
}

/** The first `bytes` of a file (fewer for a smaller file) and the file's size. */
export async function readHead(inputPath: string, bytes: number): Promise<{ head: Buffer; size: number }> {
  const file = await open(inputPath, 'r');
  try {
    const { size } = await file.stat();
    const head = Buffer.alloc(Math.min(bytes, size));
    let filled = 0;
    while (filled < head.length) {
      const { bytesRead } = await file.read(head, filled, head.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return { head: head.subarray(0, filled), size };
  } finally {
    await file.close();
  }
}

/** A string cut to `max` characters, with an ellipsis saying so. */
export function cutString(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max)}…`;
}

/** Strict UTF-8; a sample cut mid-file may end inside a multi-byte sequence, which is allowed. */
export function isStrictUtf8(bytes: Buffer, cut: boolean): boolean {
  let end = bytes.length;
  if (cut) {
    let i = bytes.length - 1;
    while (i >= 0 && bytes.length - i <= 3 && (bytes[i] & 0xc0) === 0x80) i--;
    if (i >= 0 && bytes[i] >= 0xc0) end = i;
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, end));
    return true;
  } catch {
    return false;
  }
}

function countNewlines(text: string): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) count++;
  return count;
}

/** At most `max` bytes of UTF-8, never cutting a character in two. */
function cutUtf8(bytes: Buffer, max: number): Buffer {
  if (bytes.length <= max) return bytes;
  let end = Math.max(0, max);
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}
