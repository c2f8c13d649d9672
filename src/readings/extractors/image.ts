/**
 * Image (PNG, JPEG, WebP, GIF, TIFF) → `{width, height, format}` from the header, and a WebP thumbnail
 * that fits 256×256. Runs inside the sandboxed child (one file per process) with sharp on one libvips
 * thread and no cache; time and memory are bounded from outside, by killing the child.
 */
import { open } from 'node:fs/promises';
import path from 'node:path';
import sharp, { type Metadata } from 'sharp';
import { type Extraction, ReadingError } from '../reading.js';

sharp.concurrency(1);
sharp.cache(false);

/** What this extractor reads; sharp also opens SVG, HEIF, PDF…, which are not images for Stowage. */
export const IMAGE_FORMATS = ['png', 'jpeg', 'webp', 'gif', 'tiff'] as const;
/** Pixels of one frame at most for a thumbnail (decoding is what costs memory); above it the reading has no thumbnail. */
export const THUMBNAIL_PIXEL_LIMIT = 100_000_000;
/** The thumbnail fits in a square of this side, in pixels. */
export const THUMBNAIL_SIZE = 256;

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * The format its first bytes announce, or null: sharp is only given files that start like one of
 * IMAGE_FORMATS, so no other decoder it carries (librsvg, libheif…) ever parses an upload here.
 */
async function sniff(inputPath: string): Promise<(typeof IMAGE_FORMATS)[number] | null> {
  const file = await open(inputPath, 'r');
  const head = Buffer.alloc(12);
  try {
    await file.read(head, 0, head.length, 0);
  } finally {
    await file.close();
  }
  const ascii = (from: number, to: number) => head.toString('latin1', from, to);
  if (head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  if (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a') return 'gif';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  if (['II*\0', 'MM\0*', 'II+\0', 'MM\0+'].includes(ascii(0, 4))) return 'tiff'; // classic and BigTIFF
  return null;
}

export async function extractImage(inputPath: string, workDir: string): Promise<Extraction> {
  if (!(await sniff(inputPath)))
    throw new ReadingError('malformed', `not an image in one of ${IMAGE_FORMATS.join(', ')}: the file does not start like one`);
  let meta: Metadata;
  try {
    // Header only: no pixel limit here, so an image too large to decode still reports its size.
    meta = await sharp(inputPath, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw new ReadingError('malformed', `not a readable image: ${messageOf(error)}`);
  }
  const format = meta.format as string;
  if (!(IMAGE_FORMATS as readonly string[]).includes(format))
    throw new ReadingError('malformed', `format ${format} is not one of ${IMAGE_FORMATS.join(', ')}`);

  // Multi-frame images (animated GIF/WebP, multi-page TIFF): sharp's height is that of one frame.
  const frameHeight = meta.pageHeight ?? meta.height;
  const swapped = (meta.orientation ?? 1) >= 5; // EXIF orientations 5–8 turn the picture a quarter
  const content: Record<string, unknown> = {
    // As displayed: EXIF orientation applied, as the thumbnail is.
    width: swapped ? frameHeight : meta.width,
    height: swapped ? meta.width : frameHeight,
    format,
    has_alpha: meta.hasAlpha,
    ...(meta.pages !== undefined && meta.pages > 1 && { pages: meta.pages }),
    ...(meta.orientation !== undefined && meta.orientation !== 1 && { orientation: meta.orientation }),
  };

  const pixels = meta.width * frameHeight;
  if (pixels > THUMBNAIL_PIXEL_LIMIT) {
    content.thumbnail_error = `the image has ${megapixels(pixels)} megapixels, more than the ${megapixels(THUMBNAIL_PIXEL_LIMIT)} a thumbnail is made from`;
    return { content };
  }
  const file = path.join(workDir, 'thumbnail.webp');
  try {
    await sharp(inputPath, { limitInputPixels: THUMBNAIL_PIXEL_LIMIT, sequentialRead: true, failOn: 'error' })
      .rotate()
      .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 70, effort: 2 })
      .toFile(file);
  } catch (error) {
    const message = messageOf(error);
    if (/pixel limit/i.test(message)) {
      content.thumbnail_error = `no thumbnail: ${message}`;
      return { content };
    }
    throw new ReadingError('malformed', `the image data is damaged: ${message}`);
  }
  return { content, thumbnail: { path: file, contentType: 'image/webp' } };
}

const megapixels = (pixels: number) => (pixels / 1e6).toLocaleString('en-US', { maximumFractionDigits: 1 });
