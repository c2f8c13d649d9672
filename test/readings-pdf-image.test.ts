/**
 * The PDF and image extractors, called directly (in this process, not the sandbox) on files made here:
 * hand-written PDFs (test/helpers/pdf-fixture.ts), images made with sharp, and damaged or hostile ones.
 * A reading answers true facts or fails as `malformed`; a thumbnail, when there is one, is a WebP that
 * fits 256×256.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { extractImage } from '../src/readings/extractors/image.js';
import { extractPdf } from '../src/readings/extractors/pdf.js';
import { CONTENT_TEXT_CAP_CHARS, type Extraction, ReadingError } from '../src/readings/reading.js';
import { pngClaiming } from './helpers/hostile-files.js';
import { loremPages, makeTextPdf } from './helpers/pdf-fixture.js';
import { firstPassOnly } from './helpers/ci-pass.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'stowage-readings-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A fresh work folder per extraction, as the sandbox gives each child. */
async function workDir(): Promise<string> {
  return mkdtemp(path.join(dir, 'work-'));
}

async function input(name: string, bytes: Buffer | Uint8Array): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, bytes);
  return file;
}

/** The thumbnail is a WebP file in the work folder that fits 256×256; answers its size. */
async function assertThumbnail(result: Extraction, work: string): Promise<{ width: number; height: number }> {
  assert.ok(result.thumbnail, `a thumbnail (content: ${JSON.stringify(result.content)})`);
  assert.equal(result.thumbnail.contentType, 'image/webp');
  assert.equal(path.dirname(result.thumbnail.path), work);
  assert.ok(existsSync(result.thumbnail.path));
  const meta = await sharp(result.thumbnail.path).metadata();
  assert.equal(meta.format, 'webp');
  assert.ok(meta.width <= 256 && meta.height <= 256, `${meta.width}×${meta.height} fits 256×256`);
  return { width: meta.width, height: meta.height };
}

async function assertMalformed(promise: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ReadingError, `a ReadingError, got ${String(error)}`);
    assert.equal(error.reason, 'malformed');
    assert.match(error.message, message);
    return true;
  });
}

describe('PDF', { skip: firstPassOnly }, () => {
  const pages = [
    ['Quarterly report (draft)', 'Second line of the first page'],
    ['Page two speaks of bearings'],
    ['Page three: café and naïve'],
  ];

  it('answers pages, title, author and the text, page by page in the search file, and a thumbnail of page 1', async () => {
    const file = await input('three.pdf', makeTextPdf({ pages, title: 'Pump Housing Manual', author: 'Ada Lovelace' }));
    const work = await workDir();
    const result = await extractPdf(file, work);
    assert.equal(result.content.pages, 3);
    assert.equal(result.content.title, 'Pump Housing Manual');
    assert.equal(result.content.author, 'Ada Lovelace');
    const text = result.content.text as string;
    for (const line of pages.flat()) assert.ok(text.includes(line), `text has "${line}": ${JSON.stringify(text)}`);
    assert.equal(result.content.text_truncated, undefined);
    assert.equal(result.content.thumbnail_error, undefined);

    assert.ok(result.textPath && path.dirname(result.textPath) === work);
    const byPage = (await readFile(result.textPath, 'utf8')).split('\f');
    assert.equal(byPage.length, 3);
    pages.forEach((lines, i) => {
      for (const line of lines) assert.ok(byPage[i].includes(line), `page ${i + 1} has "${line}": ${JSON.stringify(byPage[i])}`);
    });

    const thumb = await assertThumbnail(result, work);
    assert.equal(thumb.height, 256, 'an A4 portrait page fills the height');
    assert.ok(thumb.width >= 170 && thumb.width <= 190, `A4 width ${thumb.width}`);
  });

  it('answers null title and author when the file has none, and reads compressed content streams', async () => {
    const file = await input('plain.pdf', makeTextPdf({ pages: [['Only a line']], compress: true }));
    const result = await extractPdf(file, await workDir());
    assert.deepEqual(
      { pages: result.content.pages, title: result.content.title, author: result.content.author, text: result.content.text },
      { pages: 1, title: null, author: null, text: 'Only a line' },
    );
  });

  it('cuts the reading text at CONTENT_TEXT_CAP_CHARS and says so, while the search file keeps it all', async () => {
    const long = loremPages(120, 12); // about 130,000 characters, past a document clean-up (every 100 pages)
    const file = await input('long.pdf', makeTextPdf({ pages: long, compress: true }));
    const result = await extractPdf(file, await workDir());
    assert.equal(result.content.pages, 120);
    assert.equal((result.content.text as string).length, CONTENT_TEXT_CAP_CHARS);
    assert.equal(result.content.text_truncated, true);
    assert.equal(result.content.search_text_truncated, undefined);
    assert.equal(result.content.text_pages, undefined);
    const all = await readFile(result.textPath!, 'utf8');
    assert.ok(all.length > CONTENT_TEXT_CAP_CHARS);
    assert.equal(all.split('\f').length, 120);
    assert.ok(all.includes(long[119][11]), 'the last line of the last page is searchable');
  });

  it('fails a truncated PDF as malformed', async () => {
    const whole = makeTextPdf({ pages, title: 'Cut short' });
    const file = await input('truncated.pdf', whole.subarray(0, Math.floor(whole.length * 0.6)));
    await assertMalformed(extractPdf(file, await workDir()), /not a valid PDF/);
  });

  it('fails a file that is not a PDF as malformed', async () => {
    const file = await input('not-a.pdf', Buffer.from('name,qty\nbolt,4\n'));
    await assertMalformed(extractPdf(file, await workDir()), /not a PDF/);
  });

  it('fails a password-protected PDF as malformed', async () => {
    const file = await input('locked.pdf', makeTextPdf({ pages: [['secret']], encrypted: true }));
    await assertMalformed(extractPdf(file, await workDir()), /password/);
  });

  it('answers a PDF with no pages, without a thumbnail and saying why', async () => {
    const file = await input('empty.pdf', makeTextPdf({ pages: [] }));
    const result = await extractPdf(file, await workDir());
    assert.equal(result.content.pages, 0);
    assert.equal(result.content.text, '');
    assert.equal(result.thumbnail, undefined);
    assert.match(result.content.thumbnail_error as string, /no pages/);
  });
});

describe('images', { skip: firstPassOnly }, () => {
  const picture = (width: number, height: number, channels: 3 | 4 = 3) =>
    sharp({ create: { width, height, channels, background: { r: 30, g: 120, b: 200, alpha: 0.5 } } });

  const cases = [
    { format: 'png', make: () => picture(600, 400, 4).png().toBuffer(), width: 600, height: 400, alpha: true, thumb: [256, 171] },
    { format: 'jpeg', make: () => picture(1200, 900).jpeg().toBuffer(), width: 1200, height: 900, alpha: false, thumb: [256, 192] },
    { format: 'webp', make: () => picture(300, 600).webp().toBuffer(), width: 300, height: 600, alpha: false, thumb: [128, 256] },
    { format: 'tiff', make: () => picture(100, 50).tiff().toBuffer(), width: 100, height: 50, alpha: false, thumb: [100, 50] },
  ] as const;
  for (const c of cases) {
    it(`answers width, height and format of a ${c.format}, and a thumbnail that fits 256×256 (never enlarged)`, async () => {
      const file = await input(`picture.${c.format}`, await c.make());
      const work = await workDir();
      const result = await extractImage(file, work);
      assert.deepEqual(result.content, { width: c.width, height: c.height, format: c.format, has_alpha: c.alpha });
      assert.deepEqual(Object.values(await assertThumbnail(result, work)), c.thumb);
    });
  }

  it('answers the frame size and the frame count of an animated GIF', async () => {
    const frames = Buffer.alloc(40 * 30 * 4 * 3);
    for (let i = 0; i < frames.length; i += 5) frames[i] = i & 0xff; // frames that differ, so none is merged
    const gif = await sharp(frames, { raw: { width: 40, height: 120, channels: 3, pageHeight: 30 } })
      .gif({ delay: [100, 100, 100, 100], loop: 0 })
      .toBuffer();
    const work = await workDir();
    const result = await extractImage(await input('animated.gif', gif), work);
    assert.equal(result.content.format, 'gif');
    assert.equal(result.content.width, 40);
    assert.equal(result.content.height, 30);
    assert.equal(result.content.pages, 4);
    assert.deepEqual(Object.values(await assertThumbnail(result, work)), [40, 30]);
  });

  it('answers the size as displayed for a JPEG turned by its EXIF orientation, as the thumbnail is', async () => {
    const jpeg = await picture(400, 200).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const work = await workDir();
    const result = await extractImage(await input('turned.jpg', jpeg), work);
    assert.deepEqual(result.content, { width: 200, height: 400, format: 'jpeg', has_alpha: false, orientation: 6 });
    assert.deepEqual(Object.values(await assertThumbnail(result, work)), [128, 256]);
  });

  it('answers the size of an image too large to decode from its header, without a thumbnail and saying why', async () => {
    const png = pngClaiming(50_000, 50_000);
    const started = performance.now();
    const result = await extractImage(await input('huge-claim.png', png), await workDir());
    assert.ok(performance.now() - started < 5000, 'refused from the header, not decoded');
    assert.equal(result.content.width, 50_000);
    assert.equal(result.content.height, 50_000);
    assert.equal(result.content.format, 'png');
    assert.equal(result.thumbnail, undefined);
    assert.match(result.content.thumbnail_error as string, /2,500 megapixels/);
  });

  it('fails a truncated JPEG as malformed', async () => {
    const jpeg = await picture(800, 600).jpeg().toBuffer();
    const file = await input('truncated.jpg', jpeg.subarray(0, Math.floor(jpeg.length / 2)));
    await assertMalformed(extractImage(file, await workDir()), /damaged/);
  });

  it('fails bytes that are no image as malformed', async () => {
    const file = await input('noise.png', Buffer.from('this is a text file named like an image\n'));
    await assertMalformed(extractImage(file, await workDir()), /does not start like one/);
  });

  it('fails a file that starts like a PNG but is not one as malformed', async () => {
    const file = await input(
      'fake.png',
      Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 7)]),
    );
    await assertMalformed(extractImage(file, await workDir()), /not a readable image/);
  });

  it('fails an SVG as malformed: sharp could open it, but it is not one of the image formats read', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10"><rect width="20" height="10"/></svg>');
    await assertMalformed(
      extractImage(await input('drawing.svg', svg), await workDir()),
      /not an image in one of png, jpeg, webp, gif, tiff/,
    );
  });
});
