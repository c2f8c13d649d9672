/**
 * extractJson / extractJsonLines: the shape of a JSON document or a JSON Lines file, in flat memory.
 *
 * JSON: one streamed pass of a small scanner (strings, nesting, the separators of the top level)
 * counts the top-level elements or keys, keeps the first keys and the raw text of the first entries
 * (parsed alone for the sample), refuses nesting deeper than JSON_MAX_DEPTH and any byte JSON cannot
 * hold outside a string. Files up to JSON_PARSE_WHOLE_BYTES are also parsed whole with JSON.parse, the
 * full validation; past that the scan's structural check is the validation (balanced brackets, closed
 * strings, one top-level value, JSON's characters), and a single value that large is refused.
 *
 * JSON Lines: streamed line by line, each line parsed; a bad one fails the reading with its number.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { type Extraction, ReadingError } from '../reading.js';
import { cutString } from './text.js';

/**
 * Parsed whole (the full validation) up to this size. A parsed document costs several times its size:
 * measured, 8 MiB of empty objects (`[{},{},…]`, 2.8 M of them) peaked at ~360 MB RSS in the child.
 */
export const JSON_PARSE_WHOLE_BYTES = 8 * 1024 * 1024;
export const JSON_MAX_DEPTH = 1000;
export const JSONL_MAX_LINE_BYTES = 8 * 1024 * 1024;
const TOP_LEVEL_KEYS = 1000;
const SAMPLE_ENTRIES = 5;
/** Raw text kept of one top-level entry for the sample; a larger entry is summarised. */
const ENTRY_CAP_BYTES = 256 * 1024;
const KEY_CAP_BYTES = 4096;
const STRING_CAP_CHARS = 1000;
const NESTED_ITEMS_CAP = 20;
const SAMPLE_DEPTH_CAP = 6;

export async function extractJson(inputPath: string): Promise<Extraction> {
  const { size } = await stat(inputPath);
  const scan = await scanJson(inputPath);
  if (size <= JSON_PARSE_WHOLE_BYTES) {
    let text = (await readFile(inputPath)).toString('utf8');
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    try {
      JSON.parse(text);
    } catch (error) {
      throw new ReadingError('malformed', `not valid JSON: ${(error as Error).message}`);
    }
  }
  if (scan.top === 'scalar') {
    if (size > JSON_PARSE_WHOLE_BYTES)
      throw new ReadingError('too_large', `a single JSON value larger than ${JSON_PARSE_WHOLE_BYTES} bytes`);
    return { content: { kind: 'scalar', value: sampleValue(JSON.parse(stripBom((await readFile(inputPath)).toString('utf8')))) } };
  }
  if (scan.top === 'array') {
    const sample = scan.entries.map((raw) => (raw === null ? `[an element over ${ENTRY_CAP_BYTES} bytes]` : sampleValue(parseEntry(raw))));
    return { content: { kind: 'array', element_count: scan.count, sample } };
  }
  const sample: Record<string, unknown> = {};
  scan.entries.forEach((raw, i) => {
    if (raw === null) sample[scan.keys[i]] = `[a value over ${ENTRY_CAP_BYTES} bytes]`;
    else for (const [key, value] of Object.entries(parseEntry(`{${raw}}`) as object)) sample[key] = sampleValue(value);
  });
  return { content: { kind: 'object', top_level_keys: scan.keys, key_count: scan.count, sample } };
}

export async function extractJsonLines(inputPath: string): Promise<Extraction> {
  let records = 0;
  let line = 0;
  const sample: unknown[] = [];
  const take = (bytes: Buffer) => {
    line++;
    if (bytes.includes(0)) throw new ReadingError('malformed', `line ${line} holds binary data (a NUL byte)`);
    let text = bytes.toString('utf8');
    if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new ReadingError('malformed', `line ${line} is not valid JSON: ${(error as Error).message}`);
    }
    records++;
    if (sample.length < SAMPLE_ENTRIES) sample.push(sampleValue(value));
  };
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const chunk of createReadStream(inputPath, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      if (pendingBytes + nl - start > JSONL_MAX_LINE_BYTES) throw lineTooLong(line + 1);
      take(pending.length ? Buffer.concat([...pending, chunk.subarray(start, nl)]) : chunk.subarray(start, nl));
      pending = [];
      pendingBytes = 0;
      start = nl + 1;
    }
    if (start < chunk.length) {
      pending.push(chunk.subarray(start));
      pendingBytes += chunk.length - start;
      if (pendingBytes > JSONL_MAX_LINE_BYTES) throw lineTooLong(line + 1);
    }
  }
  if (pendingBytes > 0) take(Buffer.concat(pending));
  return { content: { kind: 'jsonl', record_count: records, sample } };
}

function lineTooLong(line: number): ReadingError {
  return new ReadingError('too_large', `line ${line} is longer than ${JSONL_MAX_LINE_BYTES} bytes`);
}

export interface JsonScan {
  top: 'object' | 'array' | 'scalar';
  /** Top-level elements (array) or keys (object). */
  count: number;
  /** The first TOP_LEVEL_KEYS keys of an object, decoded. */
  keys: string[];
  /** The raw text of the first SAMPLE_ENTRIES entries (`"key": value` for an object); null when over ENTRY_CAP_BYTES. */
  entries: (string | null)[];
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
/** Bytes JSON allows outside strings: whitespace, punctuation, numbers, true/false/null. */
const OUTSIDE_STRING = new Uint8Array(256);
for (const char of ' \t\r\n{}[],:0123456789+-.eEtrufalsn') OUTSIDE_STRING[char.charCodeAt(0)] = 1;
const SCALAR_BYTE = new Uint8Array(256);
for (const char of '0123456789+-.eEtrufalsn') SCALAR_BYTE[char.charCodeAt(0)] = 1;
const WHITESPACE = new Uint8Array(256);
for (const char of ' \t\r\n') WHITESPACE[char.charCodeAt(0)] = 1;

/** One streamed pass over a JSON file; see the file's comment. Throws ReadingError for what it refuses. */
export async function scanJson(inputPath: string): Promise<JsonScan> {
  const opened = new Uint8Array(JSON_MAX_DEPTH + 1); // the bracket opened at each depth
  let depth = 0;
  let inString = false;
  let escaped = false;
  let offset = 0;
  let top: JsonScan['top'] | null = null;
  let topDone = false;
  let count = 0;
  let segmentHasContent = false; // the current top-level entry has a non-whitespace byte
  let segmentHasKey = false;
  const keys: string[] = [];
  const entries: (string | null)[] = [];
  // Captures of the current entry and key, as chunk slices (either may span chunks).
  let entryParts: Buffer[] | null = null;
  let entryBytes = 0;
  let keyParts: Buffer[] | null = null;
  let keyBytes = 0;
  const fail = (message: string) => new ReadingError('malformed', `not valid JSON: ${message} at byte ${offset}`);
  const captureEntry = (slice: Buffer) => {
    entryBytes += slice.length;
    if (entryParts && entryBytes <= ENTRY_CAP_BYTES) entryParts.push(slice);
  };
  const captureKey = (slice: Buffer) => {
    keyBytes += slice.length;
    if (keyParts && keyBytes <= KEY_CAP_BYTES) keyParts.push(slice);
  };
  /** Ends a top-level entry at a comma or at the closing bracket; an empty one is a stray comma, but for `[]` / `{}`. */
  const endEntry = (atComma: boolean) => {
    if (segmentHasContent) {
      if (entryParts) entries.push(entryBytes > ENTRY_CAP_BYTES ? null : Buffer.concat(entryParts).toString('utf8'));
      count++;
    } else if (atComma || count > 0) throw fail('an empty entry (a stray comma)');
    entryParts = count < SAMPLE_ENTRIES ? [] : null;
    entryBytes = 0;
    segmentHasContent = false;
    segmentHasKey = false;
  };

  for await (const chunk of createReadStream(inputPath, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    let entryFrom = 0; // where the current entry's bytes start in this chunk
    let keyFrom = 0;
    let i = offset === 0 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf ? 3 : 0;
    for (; i < chunk.length; i++, offset++) {
      const byte = chunk[i];
      if (inString) {
        if (escaped) escaped = false;
        else if (byte === BACKSLASH) escaped = true;
        else if (byte === QUOTE) {
          inString = false;
          if (depth === 0) topDone = true;
          if (keyParts) {
            captureKey(chunk.subarray(keyFrom, i + 1));
            keys.push(decodeKey(Buffer.concat(keyParts), keyBytes, fail));
            keyParts = null;
          }
        } else if (byte < 0x20) throw fail('a control character inside a string');
        continue;
      }
      if (WHITESPACE[byte]) {
        if (depth === 0 && top === 'scalar') topDone = true;
        continue;
      }
      if (topDone) throw fail('more than one top-level value');
      if (!OUTSIDE_STRING[byte] && byte !== QUOTE) throw fail(`unexpected byte 0x${byte.toString(16).padStart(2, '0')}`);
      if (depth === 0) {
        if (top === null && (byte === OPEN_OBJECT || byte === OPEN_ARRAY)) {
          top = byte === OPEN_OBJECT ? 'object' : 'array';
          opened[++depth] = byte;
          entryParts = [];
          entryFrom = i + 1;
          continue;
        }
        // A scalar document: a string, or a number or literal running to the end or to whitespace.
        if (!SCALAR_BYTE[byte] && byte !== QUOTE) throw fail(`unexpected ${String.fromCharCode(byte)}`);
        if (top === null) top = 'scalar';
        if (byte === QUOTE) inString = true;
        continue;
      }
      if (depth === 1 && byte === COMMA) {
        captureEntry(chunk.subarray(entryFrom, i));
        endEntry(true);
        entryFrom = i + 1;
        continue;
      }
      if (depth === 1 && byte !== CLOSE_OBJECT && byte !== CLOSE_ARRAY) segmentHasContent = true;
      if (byte === QUOTE) {
        inString = true;
        if (depth === 1 && top === 'object' && !segmentHasKey) {
          segmentHasKey = true;
          if (keys.length < TOP_LEVEL_KEYS) {
            keyParts = [];
            keyBytes = 0;
            keyFrom = i;
          }
        }
      } else if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
        if (depth >= JSON_MAX_DEPTH) throw new ReadingError('too_large', `JSON nested deeper than ${JSON_MAX_DEPTH} levels`);
        opened[++depth] = byte;
      } else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) {
        if (opened[depth] !== (byte === CLOSE_OBJECT ? OPEN_OBJECT : OPEN_ARRAY)) throw fail(`unexpected ${String.fromCharCode(byte)}`);
        if (--depth === 0) {
          captureEntry(chunk.subarray(entryFrom, i));
          endEntry(false);
          entryParts = null;
          topDone = true;
        }
      }
    }
    if (entryParts) captureEntry(chunk.subarray(entryFrom));
    if (keyParts) captureKey(chunk.subarray(keyFrom));
  }
  if (inString) throw fail('a string that never closes');
  if (top === null) throw new ReadingError('malformed', 'not valid JSON: the file is empty');
  if (depth > 0) throw fail('the document ends inside an object or array');
  return { top, count, keys, entries };
}

function decodeKey(raw: Buffer, bytes: number, fail: (message: string) => ReadingError): string {
  if (bytes > KEY_CAP_BYTES) return cutString(raw.toString('utf8', 1), KEY_CAP_BYTES);
  try {
    return JSON.parse(raw.toString('utf8')) as string;
  } catch {
    throw fail('a key with a bad escape');
  }
}

function parseEntry(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (error) {
    throw new ReadingError('malformed', `not valid JSON: ${(error as Error).message}`);
  }
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** A value cut for a reading's sample: long strings, long arrays and objects and deep nesting are shortened. */
export function sampleValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return cutString(value, STRING_CAP_CHARS);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= SAMPLE_DEPTH_CAP) return Array.isArray(value) ? '[…]' : '{…}';
  if (Array.isArray(value)) {
    const items = value.slice(0, NESTED_ITEMS_CAP).map((item) => sampleValue(item, depth + 1));
    if (value.length > NESTED_ITEMS_CAP) items.push(`… ${value.length - NESTED_ITEMS_CAP} more`);
    return items;
  }
  const entries = Object.entries(value);
  const cut: Record<string, unknown> = {};
  for (const [key, item] of entries.slice(0, NESTED_ITEMS_CAP)) cut[cutString(key, STRING_CAP_CHARS)] = sampleValue(item, depth + 1);
  if (entries.length > NESTED_ITEMS_CAP) cut['…'] = `${entries.length - NESTED_ITEMS_CAP} more keys`;
  return cut;
}
