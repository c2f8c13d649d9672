/**
 * readingKindOf: which extractor reads a confirmed upload. The bytes' own signature decides first for
 * the binary formats we read (a PDF named .txt is a PDF); then the name's extension (what the uploader
 * meant: binary junk named .csv is read as a CSV and fails as malformed, it is not 'unsupported'); then
 * the declared content type, when the bytes do not contradict it; then the bytes' text sniff.
 */
import { cadFormatOf } from '../cad/formats.js';
import type { ReadingKind } from './reading.js';

const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/webp', 'image/gif', 'image/tiff']);

const BY_EXTENSION: Readonly<Record<string, ReadingKind>> = {
  pdf: 'pdf',
  csv: 'csv',
  tsv: 'csv',
  json: 'json',
  jsonl: 'jsonl',
  ndjson: 'jsonl',
  txt: 'text',
  md: 'text',
  log: 'text',
  png: 'image',
  jpg: 'image',
  jpeg: 'image',
  webp: 'image',
  gif: 'image',
  tif: 'image',
  tiff: 'image',
};

const BY_TYPE: Readonly<Record<string, ReadingKind>> = {
  'application/pdf': 'pdf',
  'text/csv': 'csv',
  'text/tab-separated-values': 'csv',
  'application/json': 'json',
  'application/x-ndjson': 'jsonl',
  'application/jsonl': 'jsonl',
  'application/x-jsonlines': 'jsonl',
};

/**
 * The kind of a file from its name, the content type sniffed from its bytes (src/content/sniff.ts;
 * null when nothing was recognised) and the content type the uploader declared (null when none).
 */
export function readingKindOf(name: string, detectedContentType: string | null, declaredContentType: string | null): ReadingKind {
  if (cadFormatOf(name)) return 'cad';
  const detected = mediaType(detectedContentType);
  const declared = mediaType(declaredContentType);
  // A signature is the bytes' own word: it beats a name.
  if (detected === 'application/pdf') return 'pdf';
  if (detected && IMAGE_TYPES.has(detected)) return 'image';
  const extension = extensionOf(name);
  if (Object.hasOwn(BY_EXTENSION, extension)) return BY_EXTENSION[extension];
  // A declared type is believed unless the bytes show some other binary format (a zip declared text/plain).
  if (declared && (detected === null || isTextual(detected))) {
    const byDeclared = typeKind(declared);
    if (byDeclared !== 'unsupported') return byDeclared;
  }
  return detected ? typeKind(detected) : 'unsupported';
}

function typeKind(type: string): ReadingKind {
  if (Object.hasOwn(BY_TYPE, type)) return BY_TYPE[type];
  if (IMAGE_TYPES.has(type)) return 'image';
  if (type.startsWith('text/')) return 'text';
  return 'unsupported';
}

function isTextual(type: string): boolean {
  return type.startsWith('text/') || type === 'application/json';
}

/** "Text/CSV; charset=utf-8" → "text/csv"; null for none. */
function mediaType(type: string | null): string | null {
  const bare = type?.split(';', 1)[0].trim().toLowerCase();
  return bare ? bare : null;
}

function extensionOf(name: string): string {
  const base = name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  return dot <= 0 ? '' : base.slice(dot + 1).toLowerCase();
}
