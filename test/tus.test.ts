/**
 * Resumable uploads through the tus protocol (/api/v1/tus), driven by tus-js-client, the client Uppy's
 * Tus plugin runs, over real HTTP: a tus upload is an upload like any other (its row, its confirm job,
 * its sha256 and sniffed type, its folder, deduplication), and a dropped connection costs only the
 * bytes that never arrived.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { type HttpRequest, type HttpResponse, Upload, type UploadOptions } from 'tus-js-client';
import { assertError, assertInvalid } from './helpers/assertions.js';
import { type ApiAnswer, type Harness, callApi, startStowage } from './helpers/harness.js';
import { TcpProxy } from './helpers/tcp-proxy.js';
import { settle, sha256 } from './helpers/uploads.js';
import { runSweep } from '../src/modules/sweeper/sweep-job.js';

const MiB = 1024 * 1024;
/** The part size of every upload here: storage's smallest, which the server picks for files under 50 GiB. */
const PART = 5 * MiB;
const TUS = { 'tus-resumable': '1.0.0' };

/** Bytes that sniff as gzip (its magic number), then noise: the declared type is not what the confirm job finds. */
function gzipLike(size: number): Buffer {
  const bytes = randomBytes(size);
  bytes.set([0x1f, 0x8b, 0x08, 0x00], 0);
  return bytes;
}

const encode = (metadata: Record<string, string>) =>
  Object.entries(metadata)
    .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
    .join(',');

interface Sent {
  url: string;
  id: string;
  lastResponse: HttpResponse;
  /** Every request tus-js-client made, with the Upload-Offset of each PATCH and the status answered. */
  requests: { method: string; offset: string | undefined; status: number }[];
}

describe('tus uploads with tus-js-client over real HTTP', () => {
  let h: Harness;
  before(async () => {
    h = await startStowage();
  });
  after(() => h?.close());

  /** One upload through tus-js-client, resolved on its success (or rejected with its error). */
  function tusUpload(bytes: Buffer, options: Partial<UploadOptions> & { key?: string; endpoint?: string } = {}): Promise<Sent> {
    const { key = h.keys.writer, ...rest } = options;
    const requests: Sent['requests'] = [];
    return new Promise((resolve, reject) => {
      const upload = new Upload(bytes, {
        endpoint: `${h.url}/api/v1/tus`,
        headers: { 'X-API-Key': key },
        metadata: { filename: 'drawing.bin', filetype: 'application/octet-stream' },
        retryDelays: [0, 200, 500],
        ...rest,
        onAfterResponse: (req: HttpRequest, res: HttpResponse) => {
          requests.push({ method: req.getMethod(), offset: req.getHeader('Upload-Offset'), status: res.getStatus() });
          return rest.onAfterResponse?.(req, res);
        },
        onSuccess: ({ lastResponse }) => resolve({ url: upload.url!, id: upload.url!.split('/').pop()!, lastResponse, requests }),
        onError: reject,
      });
      upload.start();
    });
  }

  /** Waits for the confirm job of an upload and answers the upload as it then stands. */
  async function confirmed(id: string, jobId: string) {
    const { job, upload } = await settle(h, id, jobId);
    assert.equal(job.status, 'succeeded', JSON.stringify(job));
    return upload;
  }

  /** One tus request as it is sent: the tus version, the key, the headers given and the bytes. */
  async function raw(
    method: string,
    route: string,
    headers: Record<string, string> = {},
    body?: Buffer,
    key: string | null = h.keys.writer,
  ) {
    const response = await fetch(h.url + route, {
      method,
      headers: { ...TUS, ...(key && { 'x-api-key': key }), ...headers },
      body: body && new Uint8Array(body),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null } as ApiAnswer;
  }

  const patch = (id: string, offset: number, body: Buffer, key = h.keys.writer) =>
    raw('PATCH', `/api/v1/tus/${id}`, { 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' }, body, key);

  /** A tus upload created without bytes; answers its id. */
  async function created(size: number, metadata: Record<string, string> = { filename: 'raw.bin' }, key = h.keys.writer) {
    const answer = await raw('POST', '/api/v1/tus', { 'upload-length': String(size), 'upload-metadata': encode(metadata) }, undefined, key);
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    return answer.headers.get('location')!.split('/').pop()!;
  }

  const offsetOf = async (id: string) => Number((await raw('HEAD', `/api/v1/tus/${id}`)).headers.get('upload-offset'));

  it('uploads a file in one PATCH: the upload is confirmed with its sha256 and the type sniffed from its bytes', async () => {
    const bytes = gzipLike(2 * PART + 12_345);
    const sent = await tusUpload(bytes);
    assert.equal(sent.url, `${h.url}/api/v1/tus/${sent.id}`, 'Location is /api/v1/tus/{upload id}');
    assert.deepEqual(
      sent.requests.map((r) => `${r.method} ${r.status}`),
      ['POST 201', 'PATCH 204'],
    );
    const jobId = sent.lastResponse.getHeader('Stowage-Job-Id');
    assert.ok(jobId, 'the last PATCH names the confirm job');
    const upload = await confirmed(sent.id, jobId);
    assert.equal(upload.id, sent.id);
    assert.equal(upload.status, 'confirmed');
    assert.equal(upload.name, 'drawing.bin');
    assert.equal(upload.content_type, 'application/octet-stream');
    assert.equal(upload.size_bytes, bytes.length);
    assert.equal(upload.sha256, sha256(bytes));
    assert.equal(upload.detected_content_type, 'application/gzip');
    const download = await h.api('GET', `/api/v1/uploads/${sent.id}/download-url`);
    assert.equal(sha256(Buffer.from(await (await fetch(download.body.url)).arrayBuffer())), sha256(bytes), 'storage holds the exact bytes');
  });

  it('uploads in chunks smaller than a part and not dividing it: tails carry the bytes between PATCHes', async () => {
    const bytes = gzipLike(2 * PART + 777);
    const chunkSize = 3 * MiB + 7;
    const sent = await tusUpload(bytes, { chunkSize });
    const patches = sent.requests.filter((r) => r.method === 'PATCH');
    assert.equal(patches.length, Math.ceil(bytes.length / chunkSize));
    assert.deepEqual(
      patches.map((p) => Number(p.offset)),
      patches.map((_, i) => i * chunkSize),
    );
    assert.ok(
      patches.every((p) => p.status === 204),
      JSON.stringify(patches),
    );
    const upload = await confirmed(sent.id, sent.lastResponse.getHeader('Stowage-Job-Id')!);
    assert.equal(upload.sha256, sha256(bytes));
    assert.equal(upload.size_bytes, bytes.length);
  });

  it('resumes after a dropped connection from every byte that arrived, and ends with the exact file', async () => {
    const proxy = await TcpProxy.forUrl(h.url);
    try {
      const bytes = gzipLike(4 * PART + 4321);
      // The connection is cut 3.5 parts into the body. What the server had not read yet when the reset
      // came (socket buffers: a few MiB on loopback) is lost, as on a real network; the rest is kept,
      // full parts and the tail after them.
      const cutAt = 3 * PART + PART / 2;
      proxy.cutAfter(cutAt);
      let retried = 0;
      const sent = await tusUpload(bytes, {
        endpoint: `${proxy.rewrite(h.url)}/api/v1/tus`,
        onShouldRetry: () => {
          retried++;
          proxy.restore();
          return true;
        },
      });
      assert.equal(retried, 1, 'one retry after the cut');
      const patches = sent.requests.filter((r) => r.method === 'PATCH');
      assert.equal(patches.length, 1, `one PATCH answered (the cut one never was): ${JSON.stringify(sent.requests)}`);
      const resumedAt = Number(patches[0].offset);
      assert.ok(resumedAt > PART, `resumed past the stored parts, at ${resumedAt}`);
      assert.notEqual(resumedAt % PART, 0, `resumed at ${resumedAt}, within a part: the bytes after the last full part were kept`);
      assert.ok(resumedAt < cutAt, `resumed at ${resumedAt}, within what passed the cut (${cutAt} bytes, headers included)`);
      const resent = bytes.length - resumedAt;
      console.log(
        `# tus resume: connection cut after ${cutAt} bytes, resumed at ${resumedAt}, ${resent} of ${bytes.length} bytes sent again`,
      );
      assert.ok(resent < bytes.length - PART, `${resent} bytes sent again of ${bytes.length}`);
      const upload = await confirmed(sent.id, sent.lastResponse.getHeader('Stowage-Job-Id')!);
      assert.equal(upload.sha256, sha256(bytes), 'the file is the exact bytes');
      assert.equal(upload.size_bytes, bytes.length);
    } finally {
      await proxy.close();
    }
  });

  it('folder_id in the metadata puts the file of the upload in that folder; it takes files:write', async () => {
    const folder = await h.api('POST', '/api/v1/folders/', { key: h.keys.admin, body: { name: 'tus drop' } });
    assert.equal(folder.status, 201, JSON.stringify(folder.body));
    const bytes = gzipLike(1000);
    const metadata = { filename: 'in-folder.gz', filetype: 'application/gzip', folder_id: folder.body.id };
    const refused = await tusUpload(bytes, { metadata }).catch((error) => error);
    assert.equal(refused.originalResponse?.getStatus(), 403, 'uploads:write alone may not make a file');
    assert.equal(JSON.parse(refused.originalResponse.getBody()).error.code, 'insufficient_scope');

    const sent = await tusUpload(bytes, { metadata, key: h.keys.admin });
    const upload = await confirmed(sent.id, sent.lastResponse.getHeader('Stowage-Job-Id')!);
    assert.equal(upload.folder_id, folder.body.id);
    assert.ok(upload.file_id, 'confirming made a file');
    const file = await h.api('GET', `/api/v1/files/${upload.file_id}`, { key: h.keys.admin });
    assert.equal(file.body.folder_id, folder.body.id);
    assert.equal(file.body.properties.filename, 'in-folder.gz');
    assert.equal(file.body.properties.sha256, sha256(bytes));

    const unknown = await tusUpload(bytes, {
      metadata: { ...metadata, folder_id: '0190d7c4-0000-7000-8000-00000000beef' },
      key: h.keys.admin,
    }).catch((error) => error);
    assert.equal(unknown.originalResponse?.getStatus(), 404, 'a folder that is not yours');
  });

  it('a declared sha256 of bytes the org holds is deduplicated: confirmed at creation, no byte sent', async () => {
    const bytes = gzipLike(PART + 99);
    const first = await tusUpload(bytes);
    await confirmed(first.id, first.lastResponse.getHeader('Stowage-Job-Id')!);

    const sent = await tusUpload(bytes, { metadata: { filename: 'again.bin', sha256: sha256(bytes) } });
    // The PATCH from 0 is refused (the upload stands at its end); the client asks where it stands and is done.
    assert.deepEqual(
      sent.requests.map((r) => `${r.method} ${r.status}`),
      ['POST 201', 'PATCH 409', 'HEAD 200'],
    );
    const upload = (await h.api('GET', `/api/v1/uploads/${sent.id}`)).body;
    assert.equal(upload.status, 'confirmed');
    assert.equal(upload.deduplicated, true);
    assert.equal(upload.sha256, sha256(bytes));
    assert.equal(upload.name, 'again.bin');

    // With the bytes in the creation (creation-with-upload), they are read and dropped: the answer says all are in.
    const metadata = encode({ filename: 'third.bin', sha256: sha256(bytes) });
    const headers = {
      'upload-length': String(bytes.length),
      'upload-metadata': metadata,
      'content-type': 'application/offset+octet-stream',
    };
    const third = await raw('POST', '/api/v1/tus', headers, bytes);
    assert.equal(third.status, 201, JSON.stringify(third.body));
    assert.equal(third.headers.get('upload-offset'), String(bytes.length));
    const jobId = third.headers.get('stowage-job-id');
    assert.ok(jobId, 'the confirm job is named');
    const thirdId = third.headers.get('location')!.split('/').pop()!;
    const settled = await confirmed(thirdId, jobId);
    assert.equal(settled.deduplicated, true);
  });

  it('termination cancels the upload as POST /uploads/{id}/cancel does, and frees what it stored', async () => {
    const bytes = gzipLike(PART + 10);
    const id = await created(bytes.length);
    assert.equal((await patch(id, 0, bytes.subarray(0, 1000))).status, 204);
    const tail = await h.runtime.database.db
      .selectFrom('tus_uploads')
      .select('tail_key')
      .where('upload_id', '=', id)
      .executeTakeFirstOrThrow();
    assert.ok(tail.tail_key && (await h.runtime.blobs.stat(tail.tail_key)), 'the 1000 bytes wait in a tail blob');

    const deleted = await raw('DELETE', `/api/v1/tus/${id}`);
    assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
    assert.equal((await h.api('GET', `/api/v1/uploads/${id}`)).body.status, 'cancelled');
    assert.equal(await h.runtime.blobs.stat(tail.tail_key), null, 'the tail is removed');
    assert.equal((await raw('HEAD', `/api/v1/tus/${id}`)).status, 404, 'HEAD of a terminated upload');
    assertError(await patch(id, 1000, bytes.subarray(1000)), 404, 'not_found', 'PATCH of a terminated upload');

    // A confirmed upload is not terminated (409), as it is not cancelled.
    const done = await tusUpload(gzipLike(10));
    await confirmed(done.id, done.lastResponse.getHeader('Stowage-Job-Id')!);
    assertError(await raw('DELETE', `/api/v1/tus/${done.id}`), 409, 'conflict');
  });

  it('a PATCH at another offset than the stored one is 409 naming it, and changes nothing', async () => {
    const bytes = gzipLike(PART + 500);
    const id = await created(bytes.length);
    assert.equal((await patch(id, 0, bytes.subarray(0, 300))).status, 204);
    for (const wrong of [0, 299, 301, bytes.length]) {
      const answer = await patch(id, wrong, bytes.subarray(wrong, wrong + 10));
      assertError(answer, 409, 'conflict', `offset ${wrong}`);
      assert.equal(answer.body.error.retryable, true);
    }
    assert.equal((await patch(id, 5, Buffer.alloc(0))).body.error.details.offset, 300, 'the details name the offset to resume from');
    assert.equal(await offsetOf(id), 300);
    const last = await patch(id, 300, bytes.subarray(300));
    assert.equal(last.status, 204);
    const upload = await confirmed(id, last.headers.get('stowage-job-id')!);
    assert.equal(upload.sha256, sha256(bytes));
  });

  it('while another process writes an upload (its lease in the database), a PATCH is 409 until the lease runs out', async () => {
    // Two parts: the refusal must reach a client still sending them, not a reset connection.
    const bytes = gzipLike(2 * PART);
    const id = await created(bytes.length);
    const db = h.runtime.database.db;
    await db
      .updateTable('tus_uploads')
      .set({ writer: '0190d7c4-0000-7000-8000-0000000000aa', writer_until: new Date(Date.now() + 60_000) })
      .where('upload_id', '=', id)
      .execute();
    const refused = await patch(id, 0, bytes);
    assertError(refused, 409, 'conflict', 'a live writer');
    assert.equal(refused.body.error.retryable, true);
    assert.equal(await offsetOf(id), 0, 'nothing was written');
    // The other writer died: its lease ends, and the upload is free again.
    await db
      .updateTable('tus_uploads')
      .set({ writer_until: new Date(Date.now() - 1000) })
      .where('upload_id', '=', id)
      .execute();
    const taken = await patch(id, 0, bytes);
    assert.equal(taken.status, 204, JSON.stringify(taken.body));
    assert.ok(taken.headers.get('stowage-job-id'));
  });

  it('of two PATCHes racing at one offset, one writes and the other is 409', async () => {
    const bytes = gzipLike(PART + 100);
    const id = await created(bytes.length);
    // The first sends 1 MiB and then holds its body open, as a slow client does.
    const request = http.request(`${h.url}/api/v1/tus/${id}`, {
      method: 'PATCH',
      headers: {
        ...TUS,
        'x-api-key': h.keys.writer,
        'upload-offset': '0',
        'content-type': 'application/offset+octet-stream',
        'content-length': String(bytes.length),
      },
    });
    const first = new Promise<http.IncomingMessage>((resolve, reject) => {
      request.on('response', resolve);
      request.on('error', reject);
    });
    request.write(bytes.subarray(0, MiB));
    await new Promise((r) => setTimeout(r, 300));
    const second = await patch(id, 0, bytes.subarray(0, 10));
    assertError(second, 409, 'conflict', 'the second PATCH');
    // The first was asked to make way (tus-node-server's lock), kept what it had, and said how much.
    const answer = await first;
    request.destroy();
    assert.equal(answer.statusCode, 204);
    const kept = Number(answer.headers['upload-offset']);
    assert.ok(kept > 0 && kept <= MiB, `kept ${kept} bytes`);
    assert.equal(await offsetOf(id), kept);
    assert.equal((await patch(id, kept, bytes.subarray(kept))).status, 204, 'the upload goes on from there');
  });

  it('speaks tus 1.0: discovery without a key, creation with its first bytes, refusals in the error envelope', async () => {
    const discovery = await fetch(`${h.url}/api/v1/tus`, { method: 'OPTIONS' });
    assert.equal(discovery.status, 204);
    assert.equal(discovery.headers.get('tus-version'), '1.0.0');
    assert.deepEqual(discovery.headers.get('tus-extension')?.split(','), ['creation', 'creation-with-upload', 'termination']);
    assert.equal(Number(discovery.headers.get('tus-max-size')), h.config.limits.multipartBytes);
    assert.ok(discovery.headers.get('x-request-id'));

    // creation-with-upload: the whole file in the POST.
    const bytes = gzipLike(700);
    const withBody = await raw(
      'POST',
      '/api/v1/tus',
      {
        'upload-length': String(bytes.length),
        'upload-metadata': encode({ filename: 'one-shot.gz' }),
        'content-type': 'application/offset+octet-stream',
      },
      bytes,
    );
    assert.equal(withBody.status, 201, JSON.stringify(withBody.body));
    assert.equal(withBody.headers.get('upload-offset'), String(bytes.length));
    const id = withBody.headers.get('location')!.split('/').pop()!;
    const upload = await confirmed(id, withBody.headers.get('stowage-job-id')!);
    assert.equal(upload.sha256, sha256(bytes));

    const create = (headers: Record<string, string>) =>
      callApi(h.url, 'POST', '/api/v1/tus', { headers: { 'x-api-key': h.keys.writer, ...headers } });
    const valid = { 'upload-length': '10', 'upload-metadata': encode({ filename: 'x.bin' }) };
    const noVersion = await create(valid);
    assertError(noVersion, 412, 'bad_request', 'no Tus-Resumable');
    assert.equal(noVersion.headers.get('tus-version'), '1.0.0');
    assertError(await create({ ...TUS, ...valid, 'tus-resumable': '0.2.2' }), 412, 'bad_request', 'another version');
    assertError(await create({ ...TUS, 'upload-metadata': valid['upload-metadata'] }), 400, 'bad_request', 'no Upload-Length');
    assertError(
      await create({ ...TUS, ...valid, 'upload-length': undefined as never, 'upload-defer-length': '1' }),
      400,
      'bad_request',
      'deferred',
    );
    assertError(await create({ ...TUS, ...valid, 'upload-concat': 'partial' }), 400, 'bad_request', 'concatenation');
    assertInvalid(await create({ ...TUS, 'upload-length': '10' }), 'headers.upload-metadata.filename');
    assertInvalid(await create({ ...TUS, ...valid, 'upload-metadata': encode({ name: 'a/b' }) }), 'headers.upload-metadata.name');
    assertInvalid(
      await create({ ...TUS, ...valid, 'upload-metadata': encode({ filename: 'x', sha256: 'abc' }) }),
      'headers.upload-metadata.sha256',
    );
    assertInvalid(await create({ ...TUS, ...valid, 'upload-length': '0' }), 'headers.upload-length');
    assertError(await create({ ...TUS, ...valid, 'upload-length': String(h.config.limits.multipartBytes + 1) }), 413, 'payload_too_large');
    const refused = await create({
      ...TUS,
      ...valid,
      'upload-metadata': encode({ filename: 'x.exe', filetype: 'application/x-msdownload' }),
    });
    assertError(refused, 415, 'unsupported_media_type', 'a type the content policy refuses');
  });

  it('lets a page of another origin drive an upload: preflight, and the tus headers exposed', async () => {
    const origin = 'https://app.example.com';
    const id = await created(3);
    const preflight = await fetch(`${h.url}/api/v1/tus/${id}`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'PATCH',
        'access-control-request-headers': 'x-api-key,tus-resumable,upload-offset,content-type',
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
    assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /PATCH/);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /upload-offset/);
    const answer = await fetch(`${h.url}/api/v1/tus/${id}`, {
      method: 'PATCH',
      headers: { ...TUS, origin, 'x-api-key': h.keys.writer, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
      body: 'abc',
    });
    assert.equal(answer.status, 204);
    assert.equal(answer.headers.get('access-control-allow-origin'), '*');
    const exposed = (answer.headers.get('access-control-expose-headers') ?? '').toLowerCase().split(/,\s*/);
    for (const header of ['location', 'upload-offset', 'upload-length', 'tus-resumable', 'stowage-job-id'])
      assert.ok(exposed.includes(header), `${header} is exposed`);
  });

  it("wants an API key with uploads:write, and another org's upload is an unknown one", async () => {
    const noKey = await tusUpload(gzipLike(10), { key: '' }).catch((error) => error);
    assert.equal(noKey.originalResponse?.getStatus(), 401);
    const wrong = await tusUpload(gzipLike(10), { key: 'stw_not_a_key' }).catch((error) => error);
    assert.equal(wrong.originalResponse?.getStatus(), 401);
    assert.equal(JSON.parse(wrong.originalResponse.getBody()).error.code, 'invalid_api_key');
    const reader = await tusUpload(gzipLike(10), { key: h.keys.reader }).catch((error) => error);
    assert.equal(reader.originalResponse?.getStatus(), 403);
    assert.equal(JSON.parse(reader.originalResponse.getBody()).error.code, 'insufficient_scope');

    const id = await created(PART + 1);
    const unknown = '0190d7c4-0000-7000-8000-00000000beef';
    const other = h.keys.otherOrg;
    for (const [method, body] of [
      ['HEAD', undefined],
      ['PATCH', Buffer.from('x')],
      ['DELETE', undefined],
    ] as const) {
      const headers: Record<string, string> =
        method === 'PATCH' ? { 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' } : {};
      const foreign = await raw(method, `/api/v1/tus/${id}`, headers, body, other);
      const missing = await raw(method, `/api/v1/tus/${unknown}`, headers, body, other);
      assert.equal(foreign.status, 404, method);
      if (method !== 'HEAD') {
        assertError(foreign, 404, 'not_found', method);
        assert.equal(foreign.body.error.message, missing.body.error.message, method);
      }
      assert.equal(missing.status, 404, method);
    }
    assert.equal(await offsetOf(id), 0, 'nothing changed');
    assert.equal((await h.api('GET', `/api/v1/uploads/${id}`)).body.status, 'pending');
  });

  // Last: its second sweep, a day ahead, expires every pending upload of this harness.
  it('the sweeper keeps the tail of an upload still taking bytes, and removes it once the upload expired', async () => {
    const id = await created(PART + 10);
    assert.equal((await patch(id, 0, gzipLike(1000))).status, 204);
    const db = h.runtime.database.db;
    const { tail_key: tail } = await db.selectFrom('tus_uploads').select('tail_key').where('upload_id', '=', id).executeTakeFirstOrThrow();
    assert.ok(tail);
    // No grace at all: every blob no live row names is an orphan.
    const config = { ...h.config, sweeper: { ...h.config.sweeper, graceSeconds: 0 } };
    const sweep = (at: Date) => runSweep({ ...h.runtime, config, db, log: h.runtime.logger }, at);
    await sweep(new Date(Date.now() + 1000));
    assert.ok(await h.runtime.blobs.stat(tail), 'the tail of a pending upload is no orphan');
    assert.equal(await offsetOf(id), 1000);
    await sweep(new Date(Date.now() + h.config.limits.pendingTtlSeconds * 1000 + 60_000));
    assert.equal((await h.api('GET', `/api/v1/uploads/${id}`)).body.failure_reason, 'expired');
    assert.equal(await h.runtime.blobs.stat(tail), null, 'the tail of an expired upload is removed');
    assert.equal((await raw('HEAD', `/api/v1/tus/${id}`)).status, 404);
  });
});
