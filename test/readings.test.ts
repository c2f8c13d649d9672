/**
 * Readings over real HTTP: every confirmed upload is read by the processing job (a sandboxed child),
 * the reading can be corrected and re-run, its text is searchable, images and PDFs get a thumbnail —
 * and a hostile file fails only its own reading, never its upload or the server.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { eventually, type Harness, startStowage } from './helpers/harness.js';
import { pngClaiming, zipBomb } from './helpers/hostile-files.js';
import { makeTextPdf } from './helpers/pdf-fixture.js';
import { presign, sha256, uploadConfirmed } from './helpers/uploads.js';

describe('readings', () => {
  let h: Harness;
  const api = (method: string, route: string, body?: unknown, key = h.keys.admin) => h.api(method, route, { key, body });

  before(async () => {
    h = await startStowage({ STOWAGE_READING_TIMEOUT_SECONDS: '60', STOWAGE_READING_MAX_INPUT_MB: '1' });
  });
  after(() => h?.close());

  /** The reading of an upload once the processing job has decided it. */
  async function settledReading(uploadId: string) {
    return eventually(async () => {
      const listed = await api('GET', `/api/v1/readings?data_source_id=${uploadId}`);
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      const reading = listed.body.data[0];
      return reading && reading.status !== 'pending' ? reading : undefined;
    }, `the reading of ${uploadId}`);
  }

  async function read(name: string, bytes: Buffer | string) {
    const upload = await uploadConfirmed(h, name, bytes);
    return { upload, reading: await settledReading(upload.id) };
  }

  it('reads CSV, JSON, JSON Lines and text; anything else is a ready reading of kind unsupported', async () => {
    const csv = await read('people.csv', 'name;age\nada;36\ngrace;45\nalan;41\n');
    assert.equal(csv.reading.status, 'ready', JSON.stringify(csv.reading));
    assert.equal(csv.reading.kind, 'csv');
    assert.equal(csv.reading.content.delimiter, ';');
    assert.deepEqual(csv.reading.content.header, ['name', 'age']);
    assert.equal(csv.reading.content.row_count, 3);
    assert.deepEqual(csv.reading.content.sample_rows[0], ['ada', '36']);

    const json = await read('config.json', JSON.stringify({ alpha: 1, beta: [1, 2], gamma: { d: true } }));
    assert.equal(json.reading.kind, 'json');
    assert.deepEqual(json.reading.content.top_level_keys, ['alpha', 'beta', 'gamma']);

    const jsonl = await read('events.jsonl', '{"a":1}\n{"a":2}\n{"a":3}\n');
    assert.equal(jsonl.reading.kind, 'jsonl');
    assert.equal(jsonl.reading.content.record_count, 3);

    const text = await read('notes.txt', 'first line\nsecond line about turbines\nthird\n');
    assert.equal(text.reading.kind, 'text');
    assert.equal(text.reading.content.line_count, 3);
    assert.match(text.reading.content.text, /turbines/);

    const other = await read('blob.bin', randomBytes(4096));
    assert.equal(other.reading.kind, 'unsupported');
    assert.equal(other.reading.status, 'ready');
    assert.equal(other.reading.content.kind, 'unsupported');
    assert.equal(other.upload.status, 'confirmed');
  });

  it('reads a PDF (pages, title, author, text) and an image, each with a thumbnail; others have none', async () => {
    const pdf = await read(
      'manual.pdf',
      makeTextPdf({ pages: [['Pump maintenance manual'], ['Replace the impeller yearly']], title: 'Pump manual', author: 'Ada' }),
    );
    assert.equal(pdf.reading.status, 'ready', JSON.stringify(pdf.reading));
    assert.equal(pdf.reading.content.pages, 2);
    assert.equal(pdf.reading.content.title, 'Pump manual');
    assert.equal(pdf.reading.content.author, 'Ada');
    assert.match(pdf.reading.content.text, /impeller/);

    const png = await sharp({ create: { width: 640, height: 320, channels: 3, background: '#3366aa' } })
      .png()
      .toBuffer();
    const image = await read('photo.png', png);
    assert.equal(image.reading.kind, 'image');
    assert.deepEqual([image.reading.content.width, image.reading.content.height], [640, 320]);
    assert.equal(image.reading.has_thumbnail, true);

    for (const { upload } of [pdf, image]) {
      const answer = await fetch(`${h.url}/api/v1/uploads/${upload.id}/thumbnail`, { headers: { 'x-api-key': h.keys.reader } });
      assert.equal(answer.status, 200);
      assert.equal(answer.headers.get('content-type'), 'image/webp');
      const meta = await sharp(Buffer.from(await answer.arrayBuffer())).metadata();
      assert.equal(meta.format, 'webp');
      assert.ok(meta.width! <= 256 && meta.height! <= 256, `${meta.width}×${meta.height}`);
    }
    const csv = await uploadConfirmed(h, 'plain.csv', 'a,b\n1,2\n');
    await settledReading(csv.id);
    const none = await api('GET', `/api/v1/uploads/${csv.id}/thumbnail`);
    assert.equal(none.status, 404);
    assert.equal(none.body.error.code, 'not_found');
    const foreign = await h.api('GET', `/api/v1/uploads/${image.upload.id}/thumbnail`, { key: h.keys.otherOrg });
    assert.equal(foreign.status, 404);
  });

  it('a hostile file fails only its own reading: the upload stays confirmed and the server keeps reading others', async () => {
    const junk = await read('table.csv', Buffer.concat([Buffer.from([0, 1, 2, 0xff, 0xfe]), randomBytes(8192)]));
    assert.equal(junk.reading.status, 'failed', JSON.stringify(junk.reading));
    assert.equal(junk.reading.error.reason, 'malformed');
    assert.equal(junk.upload.status, 'confirmed');
    assert.equal((await api('GET', `/api/v1/uploads/${junk.upload.id}`)).body.status, 'confirmed');

    const broken = await read('broken.pdf', '%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer\n%%EOF');
    assert.equal(broken.reading.status, 'failed');
    assert.equal(broken.reading.error.reason, 'malformed');

    const wide = await read('wide.csv', `${Array.from({ length: 100_000 }, (_, i) => `c${i}`).join(',')}\n`);
    assert.equal(wide.reading.status, 'failed');

    const bomb = await read('zeros.zip', zipBomb(64));
    assert.equal(bomb.reading.status, 'ready', 'a zip is not unpacked: it is read as what it is');
    assert.equal(bomb.reading.kind, 'unsupported');

    const huge = await read('huge.png', pngClaiming(50_000, 50_000));
    assert.equal(huge.reading.status, 'ready', JSON.stringify(huge.reading));
    assert.deepEqual([huge.reading.content.width, huge.reading.content.height], [50_000, 50_000]);
    assert.equal(huge.reading.has_thumbnail, false, 'never decoded');
    assert.match(huge.reading.content.thumbnail_error, /pixel/);

    const big = await read('big.txt', 'a line of text\n'.repeat(100_000));
    assert.equal(big.reading.status, 'failed', 'over STOWAGE_READING_MAX_INPUT_MB (1 here): not copied out to be read');
    assert.equal(big.reading.error.reason, 'too_large');
    assert.equal(big.upload.status, 'confirmed');

    assert.equal((await fetch(`${h.url}/healthz`)).status, 200);
    const after = await read('after.txt', 'still reading\n');
    assert.equal(after.reading.status, 'ready');
  });

  it('PUT stores a correction beside the extracted content; PROCESS_DOCUMENT re-reads and keeps it', async () => {
    const { upload, reading } = await read('list.csv', 'sku,qty\nA1,3\n');
    const edited = await api('PUT', `/api/v1/readings/${reading.id}`, { content: { ...reading.content, header: ['SKU', 'Quantity'] } });
    assert.equal(edited.status, 200, JSON.stringify(edited.body));
    assert.deepEqual(edited.body.edited_content.header, ['SKU', 'Quantity']);
    assert.deepEqual(edited.body.content.header, ['sku', 'qty'], 'the extracted content is untouched');
    assert.equal((await api('PUT', `/api/v1/readings/${reading.id}`, { content: 'not an object' })).status, 422);

    const rerun = await api('POST', `/api/v1/uploads/${upload.id}/events`, { event: 'PROCESS_DOCUMENT' });
    assert.equal(rerun.status, 202, JSON.stringify(rerun.body));
    const job = await eventually(async () => {
      const answer = await api('GET', `/api/v1/jobs/${rerun.body.job_id}`);
      return answer.body.status === 'succeeded' ? answer.body : undefined;
    }, 'the re-run job');
    assert.equal(job.kind, 'process');
    const again = (await api('GET', `/api/v1/readings/${reading.id}`)).body;
    assert.equal(again.status, 'ready');
    assert.deepEqual(again.edited_content.header, ['SKU', 'Quantity']);

    const unknown = await api('POST', `/api/v1/uploads/${upload.id}/events`, { event: 'MAKE_COFFEE' });
    assert.equal(unknown.status, 422);
    assert.equal(unknown.body.error.code, 'validation_error');
    const preview = await api('POST', `/api/v1/uploads/${upload.id}/events`, { event: 'GENERATE_PREVIEW' });
    assert.equal(preview.status, 409, 'a CSV has no 3D preview');
    const foreign = await h.api('POST', `/api/v1/uploads/${upload.id}/events`, {
      key: h.keys.otherOrg,
      body: { event: 'PROCESS_DOCUMENT' },
    });
    assert.equal(foreign.status, 404);
    assert.equal((await h.api('GET', `/api/v1/readings/${reading.id}`, { key: h.keys.otherOrg })).status, 404);
    assert.equal((await api('PUT', `/api/v1/readings/${reading.id}`, { content: {} }, h.keys.reader)).status, 403);
  });

  it('lists by kind and status with exact counts, and by file', async () => {
    const all = (await api('GET', '/api/v1/readings?limit=200')).body;
    const byKind = (await api('GET', '/api/v1/readings?kind=csv&limit=200')).body;
    assert.equal(byKind.count, all.data.filter((r: { kind: string }) => r.kind === 'csv').length);
    const failedCsv = (await api('GET', '/api/v1/readings?kind=csv&status=failed')).body;
    assert.equal(
      failedCsv.count,
      all.data.filter((r: { kind: string; status: string }) => r.kind === 'csv' && r.status === 'failed').length,
    );
    assert.ok(failedCsv.count >= 2);

    const upload = await uploadConfirmed(h, 'spec.txt', 'the spec of the flange\n');
    const file = await api('POST', '/api/v1/files', {
      filename: 'spec.txt',
      content_type: 'text/plain',
      size: 23,
      data_source_id: upload.id,
    });
    assert.equal(file.status, 201, JSON.stringify(file.body));
    await settledReading(upload.id);
    const ofFile = (await api('GET', `/api/v1/readings?file_id=${file.body.id}`)).body;
    assert.equal(ofFile.count, 1);
    assert.equal(ofFile.data[0].data_source_id, upload.id);
    assert.equal((await api('GET', `/api/v1/readings?file_id=${file.body.id}`, undefined, h.keys.otherOrg)).status, 404);
  });

  it('search finds names and the text of readings, ranked, with an escaped snippet; tenant-scoped; the trash hides', async () => {
    const { upload } = await read('gearbox-report.txt', 'The vibration of "A & B" exceeded 3 < 5 limits on the second shaft.\n');
    const found = await api('GET', `/api/v1/search?q=${encodeURIComponent('vibration shaft')}`);
    assert.equal(found.status, 200, JSON.stringify(found.body));
    const hit = found.body.data.find((d: { data_source_id: string }) => d.data_source_id === upload.id);
    assert.ok(hit, JSON.stringify(found.body));
    assert.equal(hit.kind, 'upload');
    assert.match(hit.snippet, /<mark>vibration<\/mark>/);
    assert.match(hit.snippet, /&quot;A &amp; B&quot;/, 'the document text is escaped');

    const byName = (await api('GET', '/api/v1/search?q=gearbox')).body;
    assert.ok(byName.data.some((d: { id: string }) => d.id === upload.id));
    assert.equal((await h.api('GET', '/api/v1/search?q=vibration', { key: h.keys.otherOrg })).body.count, 0);
    assert.equal((await api('GET', '/api/v1/search')).status, 422);

    assert.equal((await api('DELETE', `/api/v1/uploads/${upload.id}`)).status, 200);
    const gone = (await api('GET', '/api/v1/search?q=vibration')).body;
    assert.ok(!gone.data.some((d: { data_source_id: string }) => d.data_source_id === upload.id), 'the trash is not searched');
  });

  it('bytes already read under another upload are not read again: the reading is shared', async () => {
    const bytes = 'x,y\n1,2\n3,4\n';
    const first = await read('first.csv', bytes);
    // The same bytes again are deduplicated at presign: confirmed at once, never sent.
    const again = await presign(h, { name: 'second.csv', size_bytes: Buffer.byteLength(bytes), sha256: sha256(bytes) });
    assert.equal(again.deduplicated, true);
    const second = await settledReading(again.data_source_id);
    assert.equal(second.status, 'ready');
    assert.notEqual(second.id, first.reading.id);
    assert.deepEqual(second.content, first.reading.content);
  });
});
