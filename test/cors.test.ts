import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Harness, startStowage } from './helpers/harness.js';

const APP = 'https://app.example.com';

function preflight(url: string, method: string, origin = APP) {
  return fetch(url, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'x-api-key,content-type' },
  });
}

describe('browsers (CORS)', () => {
  let h: Harness;
  before(async () => {
    // Local storage: the signed /blob/ URLs a browser PUTs parts to are this server's own.
    h = await startStowage({}, { storage: 'local' });
  });
  after(() => h.close());

  it('answers a preflight without an API key, and exposes the headers clients act on', async () => {
    const answer = await preflight(`${h.url}/api/v1/uploads/presign`, 'POST');
    assert.equal(answer.status, 204);
    assert.equal(answer.headers.get('access-control-allow-origin'), '*');
    assert.match(answer.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match(answer.headers.get('access-control-allow-headers') ?? '', /x-api-key/);

    const call = await fetch(`${h.url}/api/v1/uploads`, { headers: { origin: APP, 'x-api-key': h.keys.reader } });
    assert.equal(call.status, 200);
    assert.equal(call.headers.get('access-control-allow-origin'), '*');
    assert.match(call.headers.get('access-control-expose-headers') ?? '', /X-Request-Id/i);
  });

  it('lets a page PUT a multipart part to its signed URL and read the ETag it must list at completion', async () => {
    const size = 5 * 1024 * 1024;
    const started = await h.api('POST', '/api/v1/uploads/multipart', {
      body: { name: 'browser.bin', size_bytes: size + 3, part_size: size },
    });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const urls = await h.api('POST', `/api/v1/uploads/${started.body.data_source_id}/parts`, { body: { part_numbers: [1] } });
    const part = urls.body.parts[0];
    assert.equal((await preflight(part.url, 'PUT')).status, 204);
    const put = await fetch(part.url, { method: 'PUT', headers: { ...part.headers, origin: APP }, body: new Uint8Array(size) });
    assert.equal(put.status, 200, await put.text());
    assert.equal(put.headers.get('access-control-allow-origin'), '*');
    assert.match(put.headers.get('access-control-expose-headers') ?? '', /\bETag\b/);
    assert.match(put.headers.get('etag') ?? '', /^"[0-9a-f]{32}"$/);
  });
});

describe('CORS limited to configured origins', () => {
  let h: Harness;
  before(async () => {
    h = await startStowage({ CORS_ORIGINS: `${APP}, https://admin.example.com` }, { storage: 'local' });
  });
  after(() => h.close());

  it('allows the listed origins and no other', async () => {
    const allowed = await preflight(`${h.url}/api/v1/uploads`, 'GET');
    assert.equal(allowed.headers.get('access-control-allow-origin'), APP);
    const foreign = await preflight(`${h.url}/api/v1/uploads`, 'GET', 'https://evil.example.net');
    assert.equal(foreign.headers.get('access-control-allow-origin'), null);
  });
});
