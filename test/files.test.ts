/**
 * Files over real HTTP: create (from a confirmed upload, or pending its bytes), edits with
 * compare-and-swap on expect_tip, reupload, content with Range and ?ver, versions, and the cids
 * anyone can recompute from what the API answers.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as dagCbor from '@ipld/dag-cbor';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 as sha256Hasher } from 'multiformats/hashes/sha2';
import { type Harness, startStowage } from './helpers/harness.js';
import { sendFileContent } from './helpers/files.js';
import { postForm } from './helpers/forms.js';
import { presign, uploadConfirmed } from './helpers/uploads.js';

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
/** A content CID as any IPFS tool computes it, not through our code. */
const cidOfBytes = async (data: string) => CID.createV1(raw.code, await sha256Hasher.digest(new TextEncoder().encode(data))).toString();

describe('files', () => {
  let h: Harness;
  let key: string;
  let readOnly: string;
  const api = (method: string, route: string, body?: unknown, k = key) => h.api(method, route, { key: k, body });

  before(async () => {
    h = await startStowage();
    key = await h.createKey(h.orgId, ['files:read', 'files:write', 'uploads:read', 'uploads:write']);
    readOnly = await h.createKey(h.orgId, ['files:read']);
  });
  after(() => h.close());

  const sendContent = (id: string, bytes: string) => sendFileContent(h, key, id, bytes);

  async function readyFile(text: string, extra: Record<string, unknown> = {}) {
    const created = await api('POST', '/api/v1/files', {
      filename: 'notes.txt',
      content_type: 'text/plain',
      size: Buffer.byteLength(text),
      ...extra,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const sent = await sendContent(created.body.id, text);
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    return sent.body;
  }

  it('a file created without content is pending until exactly its declared bytes arrive', async () => {
    const created = await api('POST', '/api/v1/files', { filename: 'a.txt', content_type: 'text/plain', size: 5, label: 'Alpha' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.status, 'pending');
    assert.equal(created.body.ver, 0);
    assert.equal(created.body.cid, null);
    assert.equal(created.body.properties.label, 'Alpha');

    const wrong = await sendContent(created.body.id, 'too long');
    assert.equal(wrong.status, 422, JSON.stringify(wrong.body));
    assert.equal((await api('GET', `/api/v1/files/${created.body.id}`)).body.status, 'pending', 'a wrong size keeps nothing');

    const sent = await sendContent(created.body.id, 'hello');
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    assert.equal(sent.body.status, 'ready');
    assert.equal(sent.body.ver, 1);
    assert.equal(sent.body.prev_cid, null);
    assert.match(sent.body.cid, /^bafyrei/);
    assert.equal(sent.body.properties.sha256, sha256('hello'));
    assert.equal(sent.body.properties.content_cid, await cidOfBytes('hello'));
    assert.equal(sent.body.properties.size, 5);
    assert.equal(sent.body.edited_by.method, 'api');

    const again = await sendContent(created.body.id, 'hello');
    assert.equal(again.status, 409, 'no content is awaited any more');
  });

  it('a content POST retried with its Idempotency-Key is replayed for the same bytes and refused for others', async () => {
    const created = await api('POST', '/api/v1/files', { filename: 'once.txt', content_type: 'text/plain', size: 4 });
    const send = (bytes: string) =>
      fetch(`${h.url}/api/v1/files/${created.body.id}/content`, {
        method: 'POST',
        headers: { 'x-api-key': key, 'content-type': 'application/octet-stream', 'idempotency-key': `content-${created.body.id}` },
        body: bytes,
      });
    const first = await send('once');
    assert.equal(first.status, 200);
    const again = await send('once');
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal((await again.json()).ver, 1, 'the first answer, not a second version');
    assert.equal((await send('twice')).status, 409);
  });

  it('creates version 1 at once from a confirmed upload, sharing its bytes', async () => {
    const upload = await uploadConfirmed(h, 'report.pdf', 'pdf-ish bytes');
    const created = await api('POST', '/api/v1/files', {
      filename: 'report.pdf',
      content_type: 'application/pdf',
      size: 13,
      data_source_id: upload.data_source_id ?? upload.id,
      collection: 'reports',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.ver, 1);
    assert.deepEqual(created.body.relationships, [{ predicate: 'collection', peer: 'reports', peer_type: 'collection' }]);
    const content = await fetch(`${h.url}/api/v1/files/${created.body.id}/content`, { headers: { 'x-api-key': key } });
    assert.equal(content.status, 200);
    assert.equal(await content.text(), 'pdf-ish bytes');
    assert.equal(content.headers.get('content-type'), 'application/pdf');

    const wrongSize = await api('POST', '/api/v1/files', {
      filename: 'r.pdf',
      content_type: 'application/pdf',
      size: 99,
      data_source_id: upload.id,
    });
    assert.equal(wrongSize.status, 422, JSON.stringify(wrongSize.body));
  });

  it('a key that is a content CID must name the bytes', async () => {
    const good = await readyFile('keyed', { key: await cidOfBytes('keyed') });
    assert.equal(good.properties.key, await cidOfBytes('keyed'));
    const created = await api('POST', '/api/v1/files', {
      filename: 'k.txt',
      content_type: 'text/plain',
      size: 5,
      key: await cidOfBytes('other'),
    });
    const sent = await sendContent(created.body.id, 'keyed');
    assert.equal(sent.status, 422, JSON.stringify(sent.body));
  });

  it('PUT makes the next version with deep-merged properties; a stale expect_tip is 409 with expected and actual', async () => {
    const file = await readyFile('v1', { properties: { config: { options: { debug: true, level: 2 }, tags: ['a'] }, old: 1 } });
    const put = await api('PUT', `/api/v1/files/${file.id}`, {
      expect_tip: file.cid,
      note: 'tune',
      properties: { config: { options: { level: 3 }, tags: ['b'] } },
      properties_remove: ['old'],
      relationships_add: [{ predicate: 'derived_from', peer: 'x1' }],
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.ver, 2);
    assert.equal(put.body.prev_cid, file.cid);
    assert.deepEqual(put.body.properties.config, { options: { debug: true, level: 3 }, tags: ['b'] });
    assert.equal('old' in put.body.properties, false);
    assert.equal(put.body.properties.sha256, sha256('v1'), 'the content stays');

    const stale = await api('PUT', `/api/v1/files/${file.id}`, { expect_tip: file.cid, properties: { x: 1 } });
    assert.equal(stale.status, 409);
    assert.deepEqual(stale.body.error.details, { expected: file.cid, actual: put.body.cid });
    assert.equal((await api('GET', `/api/v1/files/${file.id}`)).body.ver, 2, 'nothing changed');

    const reserved = await api('PUT', `/api/v1/files/${file.id}`, { expect_tip: put.body.cid, properties: { sha256: 'lie' } });
    assert.equal(reserved.status, 422, JSON.stringify(reserved.body));
  });

  it('of 8 concurrent writers on one tip exactly one wins, and the chain does not fork', async () => {
    const file = await readyFile('race');
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => api('PUT', `/api/v1/files/${file.id}`, { expect_tip: file.cid, properties: { writer: i } })),
    );
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [200, 409, 409, 409, 409, 409, 409, 409]);
    const versions = await api('GET', `/api/v1/files/${file.id}/versions`);
    assert.equal(versions.body.count, 2);
    assert.deepEqual(
      versions.body.data.map((v: { ver: number }) => v.ver),
      [2, 1],
    );
  });

  it('reupload declares the next content; Range and ?ver read any version', async () => {
    const file = await readyFile('first content');
    const re = await api('POST', `/api/v1/files/${file.id}/reupload`, {
      expect_tip: file.cid,
      content_type: 'text/plain',
      size: 14,
      note: 'second',
    });
    assert.equal(re.status, 200, JSON.stringify(re.body));
    assert.equal(re.body.ver, 1, 'the tip stays until the bytes arrive');
    const sent = await sendContent(file.id, 'second content');
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    assert.equal(sent.body.ver, 2);
    assert.equal(sent.body.prev_cid, file.cid);
    assert.equal(sent.body.note, 'second');

    // An edit between a reupload and its bytes: the bytes are refused, not silently dropped, and a new reupload works.
    const edited = await api('PUT', `/api/v1/files/${file.id}`, { expect_tip: sent.body.cid, note: 'meanwhile' });
    assert.equal(edited.status, 200, JSON.stringify(edited.body));
    await api('POST', `/api/v1/files/${file.id}/reupload`, { expect_tip: edited.body.cid, content_type: 'text/plain', size: 5 });
    await api('PUT', `/api/v1/files/${file.id}`, { expect_tip: edited.body.cid, note: 'an edit in between' });
    const late = await sendContent(file.id, 'third');
    assert.equal(late.status, 409, JSON.stringify(late.body));

    const ranged = await fetch(`${h.url}/api/v1/files/${file.id}/content?ver=1`, { headers: { 'x-api-key': key, range: 'bytes=6-12' } });
    assert.equal(ranged.status, 206);
    assert.equal(await ranged.text(), 'content');
    assert.equal(ranged.headers.get('content-range'), 'bytes 6-12/13');
    const tip = await fetch(`${h.url}/api/v1/files/${file.id}/content`, { headers: { 'x-api-key': key } });
    assert.equal(await tip.text(), 'second content');
    const url = await api('GET', `/api/v1/files/${file.id}/download-url?ver=1`);
    assert.equal(url.status, 200);
    assert.equal(await (await fetch(url.body.url)).text(), 'first content');
  });

  it("every version's cid is the dag-cbor hash of its record, chained by prev_cid", async () => {
    const file = await readyFile('chain');
    await api('PUT', `/api/v1/files/${file.id}`, { expect_tip: file.cid, properties: { n: 1 }, note: 'two' });
    const versions = (await api('GET', `/api/v1/files/${file.id}/versions`)).body.data;
    for (const v of versions) {
      const record = {
        // An IPLD link, so tools can walk the chain (`ipfs dag get <cid>/prev_cid`).
        prev_cid: v.prev_cid === null ? null : CID.parse(v.prev_cid),
        ver: v.ver,
        ts: v.ts,
        edited_by: v.edited_by,
        note: v.note,
        properties: v.properties,
        relationships: v.relationships,
        folder_id: v.folder_id,
      };
      const expected = CID.createV1(dagCbor.code, await sha256Hasher.digest(dagCbor.encode(record))).toString();
      assert.equal(v.cid, expected, `version ${v.ver}`);
    }
    assert.equal(versions[0].prev_cid, versions[1].cid);
  });

  it('an upload naming a folder becomes version 1 of a file there when it is confirmed, by every upload route', async () => {
    const folder = await api('POST', '/api/v1/folders/', { name: 'inbox' });
    assert.equal(folder.status, 201, JSON.stringify(folder.body));
    const viaJob = await uploadConfirmed(h, 'drawing.pdf', 'drawing bytes', { folder_id: folder.body.id }, key);
    const viaForm = await postForm(h, {
      bytes: Buffer.from('form bytes'),
      filename: 'form.txt',
      key,
      route: `/api/v1/uploads?folder_id=${folder.body.id}`,
    });
    assert.equal(viaForm.status, 201, JSON.stringify(viaForm.body));
    const twin = await api('POST', '/api/v1/uploads/multipart', {
      name: 'twin.txt',
      size_bytes: Buffer.byteLength('form bytes'),
      sha256: sha256('form bytes'),
      folder_id: folder.body.id,
    });
    assert.equal(twin.body.deduplicated, true, JSON.stringify(twin.body));
    const twinUpload = (await api('GET', `/api/v1/uploads/${twin.body.data_source_id}`)).body;

    for (const [upload, bytes] of [
      [viaJob, 'drawing bytes'],
      [viaForm.body, 'form bytes'],
      [twinUpload, 'form bytes'],
    ] as const) {
      assert.match(String(upload.file_id), /^[0-9a-f-]{36}$/, `the upload names its file: ${JSON.stringify(upload)}`);
      const file = (await api('GET', `/api/v1/files/${upload.file_id}`)).body;
      assert.equal(file.folder_id, folder.body.id);
      assert.equal(file.ver, 1);
      assert.equal(file.properties.filename, upload.name);
      assert.equal(file.properties.sha256, sha256(bytes));
      const content = await fetch(`${h.url}/api/v1/files/${upload.file_id}/content`, { headers: { 'x-api-key': key } });
      assert.equal(await content.text(), bytes);
    }
    const listed = await api('GET', `/api/v1/files?folder_id=${folder.body.id}`);
    assert.equal(listed.body.count, 3);

    const plain = await uploadConfirmed(h, 'loose.txt', 'no folder');
    assert.equal(plain.file_id, null, 'without a folder an upload makes no file');
    const unknownFolder = await h.api('POST', '/api/v1/uploads/presign', {
      key,
      body: { name: 'x.txt', folder_id: '0190a5c4-0000-7000-8000-000000000000' },
    });
    assert.equal(unknownFolder.status, 404);
    const uploadsOnly = await h.api('POST', '/api/v1/uploads/presign', {
      key: h.keys.writer,
      body: { name: 'y.txt', folder_id: folder.body.id },
    });
    assert.equal(uploadsOnly.status, 403, 'making a file through an upload needs files:write too');
    assert.equal(uploadsOnly.body.error.details.required_scope, 'files:write');
  });

  it('lists with q and pages; files:read cannot write; another org sees 404', async () => {
    const file = await readyFile('findable', { filename: 'unique-needle.txt' });
    const found = await api('GET', '/api/v1/files?q=needle');
    assert.equal(found.status, 200);
    assert.ok(found.body.data.some((f: { id: string }) => f.id === file.id));
    assert.equal((await api('PUT', `/api/v1/files/${file.id}`, { expect_tip: file.cid }, readOnly)).status, 403);
    const other = await api('GET', `/api/v1/files/${file.id}`, undefined, h.keys.otherOrg);
    const unknown = await api('GET', `/api/v1/files/0190a5c4-0000-7000-8000-000000000000`, undefined, h.keys.otherOrg);
    assert.equal(other.status, 404);
    assert.deepEqual({ ...other.body.error, request_id: null }, { ...unknown.body.error, request_id: null });
  });
});
