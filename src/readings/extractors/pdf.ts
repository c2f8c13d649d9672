/**
 * PDF → `{pages, title, author, text}`, the whole text for search (pages separated by a form feed) and
 * a WebP thumbnail of the first page. Runs inside the sandboxed child (one file per process): pdfjs-dist's
 * legacy build with its "fake worker" on this thread, pages read one at a time and released after.
 * Time and memory are bounded from outside, by killing the child.
 */
import { open, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CONTENT_TEXT_CAP_CHARS, type Extraction, ReadingError, TEXT_FILE_CAP_BYTES } from '../reading.js';

type PdfJs = typeof import('pdfjs-dist/legacy/build/pdf.mjs');
type PdfDocument = Awaited<ReturnType<PdfJs['getDocument']>['promise']>;

/** Pages read for text at most: past it the reading says how many were (`text_pages`), never silently. */
export const MAX_TEXT_PAGES = 10_000;
/** The thumbnail fits in a square of this side, in pixels. */
export const THUMBNAIL_SIZE = 256;
/** Images inside the PDF larger than this (pixels) are skipped when rendering the thumbnail, to bound memory. */
const MAX_IMAGE_PIXELS = 25_000_000;
/**
 * pdfjs keeps every page it parsed (and its fonts) until the document is cleaned up: without it the heap
 * grows with the page count (2,000 pages do not fit in 96 MB of heap; with it they do, ~57 MB used).
 */
const CLEANUP_EVERY_PAGES = 100;
/** The search text is written to its file in chunks of about this size. */
const WRITE_CHUNK_BYTES = 1024 * 1024;
/** Title and author are a line, not a document. */
const MAX_FIELD_CHARS = 1000;
/** A PDF's header may follow some junk, within the first kilobyte (as readers accept). */
const HEADER_WINDOW = 1024;

let pdfjs: Promise<PdfJs> | undefined;
// A specifier in a constant: the minified build has no types of its own; they are pdf.mjs's.
const PDFJS_MIN = 'pdfjs-dist/legacy/build/pdf.min.mjs';

/**
 * The minified builds, library and (fake) worker alike: the same code, but a third less to load,
 * which under a loader that transforms every module (tsx, in tests) is seconds per child.
 */
const loadPdfJs = () =>
  (pdfjs ??= (import(PDFJS_MIN) as Promise<PdfJs>).then((mod) => {
    mod.GlobalWorkerOptions.workerSrc = pathToFileURL(
      createRequire(import.meta.url).resolve('pdfjs-dist/legacy/build/pdf.worker.min.mjs'),
    ).href;
    return mod;
  }));

/** pdfjs-dist's data folders (fonts, CMaps, WASM decoders), as file-system paths with the trailing slash pdfjs requires. */
function pdfjsDataDirs() {
  const root = path.dirname(createRequire(import.meta.url).resolve('pdfjs-dist/package.json'));
  const dir = (name: string) => path.join(root, name) + path.sep;
  return { cMapUrl: dir('cmaps'), standardFontDataUrl: dir('standard_fonts'), wasmUrl: dir('wasm'), iccUrl: dir('iccs') };
}

export async function extractPdf(inputPath: string, workDir: string): Promise<Extraction> {
  const data = new Uint8Array(await readFile(inputPath));
  if (!Buffer.from(data.buffer, data.byteOffset, Math.min(data.length, HEADER_WINDOW)).includes('%PDF-'))
    throw new ReadingError('malformed', 'not a PDF: no "%PDF-" header in the first 1 KiB');

  const { getDocument } = await loadPdfJs();
  const task = getDocument({
    data,
    ...pdfjsDataDirs(),
    isEvalSupported: false,
    disableFontFace: true,
    useSystemFonts: false,
    enableXfa: false,
    maxImageSize: MAX_IMAGE_PIXELS,
    verbosity: 0, // errors only: warnings about a sloppy file would go to the child's stdout
  });
  let doc: PdfDocument;
  try {
    doc = await task.promise;
  } catch (error) {
    await task.destroy().catch(() => {});
    throw openFailure(error);
  }
  try {
    const facts = await titleAndAuthor(doc);
    let thumbnail: Extraction['thumbnail'];
    let thumbnailError: string | undefined;
    if (doc.numPages === 0) thumbnailError = 'the PDF has no pages';
    else
      thumbnail = await renderThumbnail(doc, workDir).catch((error: unknown) => {
        thumbnailError = `the first page could not be rendered: ${messageOf(error)}`;
        return undefined;
      });
    const textPath = path.join(workDir, 'text.txt');
    const content = {
      pages: doc.numPages,
      ...facts,
      ...(await extractText(doc, textPath)),
      ...(thumbnailError !== undefined && { thumbnail_error: thumbnailError }),
    };
    return { content, textPath, ...(thumbnail && { thumbnail }) };
  } finally {
    await doc.destroy().catch(() => {});
  }
}

/** Why pdfjs refused to open the file, in words for the reading's error. Everything it throws here is the file's fault. */
function openFailure(error: unknown): ReadingError {
  const name = error instanceof Error ? error.name : '';
  if (name === 'PasswordException') return new ReadingError('malformed', 'the PDF is encrypted and needs a password to be opened');
  if (name === 'InvalidPDFException') return new ReadingError('malformed', `not a valid PDF (truncated or damaged): ${messageOf(error)}`);
  return new ReadingError('malformed', `the PDF could not be opened: ${messageOf(error)}`);
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** A metadata field as one trimmed line, or null when absent or not text. */
function field(value: unknown): string | null {
  const text = Array.isArray(value) ? value.filter((v) => typeof v === 'string').join('; ') : value;
  if (typeof text !== 'string') return null;
  const clean = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return clean ? clean.slice(0, MAX_FIELD_CHARS) : null;
}

/** From the Info dictionary, else from the XMP metadata (dc:title, dc:creator). */
async function titleAndAuthor(doc: PdfDocument): Promise<{ title: string | null; author: string | null }> {
  try {
    const { info, metadata } = await doc.getMetadata();
    const dict = (info ?? {}) as Record<string, unknown>;
    return {
      title: field(dict.Title) ?? field(metadata?.get('dc:title')),
      author: field(dict.Author) ?? field(metadata?.get('dc:creator')),
    };
  } catch {
    return { title: null, author: null }; // a damaged Info dictionary is no reason to lose the text
  }
}

/** Page 1 scaled to fit THUMBNAIL_SIZE², on white, as WebP. */
async function renderThumbnail(doc: PdfDocument, workDir: string): Promise<Extraction['thumbnail']> {
  const { createCanvas } = await import('@napi-rs/canvas');
  const page = await doc.getPage(1);
  try {
    const unit = page.getViewport({ scale: 1 });
    if (!(unit.width > 0 && unit.height > 0)) throw new Error(`the page has no area (${unit.width}×${unit.height})`);
    const viewport = page.getViewport({ scale: Math.min(THUMBNAIL_SIZE / unit.width, THUMBNAIL_SIZE / unit.height) });
    const width = Math.max(1, Math.min(THUMBNAIL_SIZE, Math.round(viewport.width)));
    const height = Math.max(1, Math.min(THUMBNAIL_SIZE, Math.round(viewport.height)));
    const canvas = createCanvas(width, height);
    await page.render({ canvas: canvas as unknown as HTMLCanvasElement, viewport, background: 'white' }).promise;
    const file = path.join(workDir, 'thumbnail.webp');
    await writeFile(file, await canvas.encode('webp', 70));
    return { path: file, contentType: 'image/webp' };
  } finally {
    page.cleanup();
  }
}

interface TextFacts {
  text: string;
  text_truncated?: true;
  /** Pages whose text was read, when not all of them were. */
  text_pages?: number;
  /** The search text stops before the end of the document (TEXT_FILE_CAP_BYTES or MAX_TEXT_PAGES reached). */
  search_text_truncated?: true;
  /** Pages pdfjs could not read (their text is missing). */
  unreadable_pages?: number;
}

/**
 * Reads the pages in order, one at a time: the text goes to `textPath` (UTF-8, pages separated by a form
 * feed) up to TEXT_FILE_CAP_BYTES, and its start to `text` (pages separated by a blank line) up to
 * CONTENT_TEXT_CAP_CHARS.
 */
async function extractText(doc: PdfDocument, textPath: string): Promise<TextFacts> {
  const out = await open(textPath, 'w');
  try {
    let written = 0;
    let pending: Buffer[] = []; // written in chunks of about WRITE_CHUNK_BYTES, not one write per page
    let pendingBytes = 0;
    const flush = async () => {
      if (pendingBytes) await out.write(Buffer.concat(pending, pendingBytes));
      pending = [];
      pendingBytes = 0;
    };
    let shown = '';
    let shownFull = true;
    let fileFull = false;
    let read = 0;
    let unreadable = 0;
    const last = Math.min(doc.numPages, MAX_TEXT_PAGES);
    for (let n = 1; n <= last && !fileFull; n++) {
      let pageText = '';
      try {
        pageText = await pageTextOf(doc, n);
      } catch {
        unreadable++;
      }
      if (n % CLEANUP_EVERY_PAGES === 0) await doc.cleanup();
      const forFile = n > 1 ? `\f${pageText}` : pageText;
      let bytes: Buffer = Buffer.from(forFile, 'utf8');
      if (written + bytes.length > TEXT_FILE_CAP_BYTES) {
        bytes = cutUtf8(bytes, TEXT_FILE_CAP_BYTES - written);
        fileFull = true;
      }
      if (!fileFull || bytes.length > (n > 1 ? 1 : 0)) read = n; // some of the page's text is in the file (past its form feed)
      pending.push(bytes);
      pendingBytes += bytes.length;
      written += bytes.length;
      if (pendingBytes >= WRITE_CHUNK_BYTES) await flush();
      if (shownFull) {
        const next = shown && pageText ? `${shown}\n\n${pageText}` : shown || pageText;
        if (next.length > CONTENT_TEXT_CAP_CHARS) {
          shown = cutChars(next, CONTENT_TEXT_CAP_CHARS);
          shownFull = false;
        } else shown = next;
      }
    }
    await flush();
    if (doc.numPages > 0 && unreadable === doc.numPages)
      throw new ReadingError('malformed', `none of the PDF's ${doc.numPages} pages could be read`);
    const complete = read === doc.numPages && !fileFull;
    return {
      text: shown,
      ...((!shownFull || !complete) && { text_truncated: true as const }),
      ...(!complete && { text_pages: read, search_text_truncated: true as const }),
      ...(unreadable > 0 && { unreadable_pages: unreadable }),
    };
  } finally {
    await out.close();
  }
}

/** One page's text: items in reading order, a newline where pdfjs sees a line end; the page released after. */
async function pageTextOf(doc: PdfDocument, n: number): Promise<string> {
  const page = await doc.getPage(n);
  try {
    const { items } = await page.getTextContent();
    let text = '';
    for (const item of items) if ('str' in item) text += item.hasEOL ? `${item.str}\n` : item.str;
    return text.trimEnd();
  } finally {
    page.cleanup();
  }
}

/** The longest prefix of UTF-8 `bytes` of at most `max` bytes that does not split a character. */
function cutUtf8(bytes: Buffer, max: number): Buffer {
  let end = Math.max(0, max);
  if (end >= bytes.length) return bytes;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--; // bytes[end] continues the character it would cut
  return bytes.subarray(0, end);
}

/** At most `max` UTF-16 units, not splitting a surrogate pair. */
function cutChars(text: string, max: number): string {
  const code = text.charCodeAt(max - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}
