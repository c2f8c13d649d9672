// Hand-written checks of what the generated matrix (tenant-matrix.test.ts: every route of
// /openapi.json × another org's ids, in paths and bodies, both ways) does not: lists, summaries,
// bulk rows, scopes, key states and the envelope.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertError } from './helpers/assertions.js';
import { type ApiAnswer, type Harness, startStowage } from './helpers/harness.js';
import { confirm, presign, putBytes, settle, uploadConfirmed } from './helpers/uploads.js';

const UNKNOWN_ID = '0190d7c4-0000-7000-8000-000000000000';
const UNKNOWN_KEY = `stw_000000000000_${'A'.repeat(43)}`;

const ids = (answer: ApiAnswer) => answer.body.data.map((u: { id: string }) => u.id);

describe('tenancy, scopes and API keys', () => {
  let h: Harness;
  let confirmed: { id: string; updated_at: string };
  let confirmedJob: string;
  let pendingId: string;
  before(async () => {
    h = await startStowage();
    confirmed = await uploadConfirmed(h, 'mine.txt', 'first org bytes');
    confirmedJob = await confirm(h, confirmed.id);
    pendingId = (await presign(h, { name: 'pending.txt', size_bytes: 4 })).data_source_id;
  });
  after(() => h.close());

  const get = (id: string, key = h.keys.writer) => h.api('GET', `/api/v1/uploads/${id}`, { key });
  const summary = async () => (await h.api('GET', '/api/v1/uploads/summary', { key: h.keys.admin })).body;
  const listKeys = async () => (await h.api('GET', '/api/v1/keys', { key: h.keys.admin })).body.data;

  it("another org's key gets 404 on every uploads endpoint for the first org's ids, and changes nothing", async () => {
    const otherOrg = h.keys.otherOrg;
    // Jobs are enqueued in the request's own transaction: a foreign confirm or retry that slipped through would show here at once.
    const jobsOf = async () =>
      (await h.runtime.database.db.selectFrom('jobs').select('id').where('subject_id', 'in', [confirmed.id, pendingId]).execute()).length;
    const before = { confirmed: (await get(confirmed.id)).body, pending: (await get(pendingId)).body, jobs: await jobsOf() };
    const own = await presign(h, { name: 'globex.txt' }, otherOrg);

    for (const id of [confirmed.id, pendingId]) {
      for (const [method, route] of [
        ['GET', `/api/v1/uploads/${id}`],
        ['POST', `/api/v1/uploads/${id}/cancel`],
        ['POST', `/api/v1/uploads/${id}/retry`],
        ['GET', `/api/v1/uploads/${id}/download-url`],
      ]) {
        assertError(await h.api(method, route, { key: otherOrg }), 404, 'not_found', `${method} ${route}`);
      }
      assertError(
        await h.api('POST', '/api/v1/uploads/confirm', { key: otherOrg, body: { data_source_id: id } }),
        404,
        'not_found',
        'confirm',
      );
      for (const op of ['bulk-cancel', 'bulk-retry']) {
        const bulk = await h.api('POST', `/api/v1/uploads/${op}`, { key: otherOrg, body: { ids: [id] } });
        assert.equal(bulk.status, 200, op);
        assert.deepEqual(bulk.body, { cancelled: [], retried: [], skipped: [{ id, reason: 'not_found' }] }, op);
      }
    }
    assertError(await h.api('GET', `/api/v1/jobs/${confirmedJob}`, { key: otherOrg }), 404, 'not_found', 'job');

    const list = await h.api('GET', '/api/v1/uploads/?include_cancelled=true&limit=200', { key: otherOrg });
    assert.equal(list.status, 200);
    assert.deepEqual(ids(list), [own.data_source_id], "only the org's own upload is listed");
    assert.equal(list.body.count, 1);
    const theirs = (await h.api('GET', '/api/v1/uploads/summary', { key: otherOrg })).body;
    assert.equal(theirs.total_count, 1);
    assert.equal(theirs.total_bytes, 0, "the first org's confirmed bytes are not counted");
    assert.equal(theirs.by_status.confirmed, 0);

    assert.equal(await jobsOf(), before.jobs, "no job was enqueued for the first org's uploads");
    assert.deepEqual((await get(confirmed.id)).body, before.confirmed, 'the confirmed upload is untouched');
    assert.deepEqual((await get(pendingId)).body, before.pending, 'the pending upload is untouched');
    const ownJob = await h.api('GET', `/api/v1/jobs/${confirmedJob}`);
    assert.equal(ownJob.status, 200, 'the job is still visible to its own org');
  });

  it('a read-only key gets 403 on every write and nothing changes; reads still work', async () => {
    const reader = h.keys.reader;
    const totalBefore = (await summary()).total_count;
    const keysBefore = (await listKeys()).length;
    const writes: [string, string, unknown][] = [
      ['POST', '/api/v1/uploads/presign', { name: 'x.txt' }],
      ['POST', '/api/v1/uploads/presign/batch', { files: [{ name: 'x.txt' }, { name: 'y.txt' }] }],
      ['POST', '/api/v1/uploads/confirm', { data_source_id: pendingId }],
      ['POST', `/api/v1/uploads/${pendingId}/cancel`, undefined],
      ['POST', `/api/v1/uploads/${pendingId}/retry`, undefined],
      ['POST', '/api/v1/uploads/bulk-cancel', { ids: [pendingId] }],
      ['POST', '/api/v1/uploads/bulk-retry', { ids: [pendingId] }],
      ['POST', '/api/v1/keys', { scopes: ['admin'] }],
    ];
    for (const [method, route, body] of writes) {
      const answer = await h.api(method, route, { key: reader, body });
      assertError(answer, 403, 'insufficient_scope', `${method} ${route}`);
      assert.ok(answer.body.error.details.required_scope, 'details name the missing scope');
    }
    assert.equal((await summary()).total_count, totalBefore, 'no upload was created');
    assert.equal((await listKeys()).length, keysBefore, 'no key was created');
    const pending = (await get(pendingId)).body;
    assert.equal(pending.status, 'pending');
    assertError(
      await h.api('GET', `/api/v1/uploads/${pendingId}/download-url`, { key: h.keys.writer }),
      404,
      'not_found',
      'still not confirmed: the confirm was refused',
    );

    for (const route of [
      '/api/v1/uploads/',
      `/api/v1/uploads/${confirmed.id}`,
      '/api/v1/uploads/summary',
      `/api/v1/uploads/${confirmed.id}/download-url`,
      `/api/v1/jobs/${confirmedJob}`,
    ]) {
      assert.equal((await h.api('GET', route, { key: reader })).status, 200, route);
    }
  });

  it('a writer key gets 403 on admin-only endpoints', async () => {
    const writer = h.keys.writer;
    const victim = (await listKeys())[0];
    for (const [method, route, body] of [
      ['GET', '/api/v1/uploads/?include_cancelled=true', undefined],
      ['GET', '/api/v1/uploads/?status=cancelled', undefined],
      ['POST', '/api/v1/keys', { scopes: ['uploads:read'] }],
      ['GET', '/api/v1/keys', undefined],
      ['DELETE', `/api/v1/keys/${victim.id}`, undefined],
    ] as const) {
      const answer = await h.api(method, route, { key: writer, body });
      assertError(answer, 403, 'insufficient_scope', `${method} ${route}`);
      assert.equal(answer.body.error.details.required_scope, 'admin');
    }
    const still = (await listKeys()).find((k: { id: string }) => k.id === victim.id);
    assert.equal(still.revoked_at, null, 'the key was not revoked');
  });

  it('missing, malformed, unknown and revoked keys are 401; Bearer works like X-API-Key', async () => {
    const list = (headers: Record<string, string>) => h.api('GET', '/api/v1/uploads/', { key: null, headers });
    assert.equal((await list({ authorization: `Bearer ${h.keys.reader}` })).status, 200);
    assert.equal((await list({ authorization: `bearer ${h.keys.reader}` })).status, 200, 'the scheme is case-insensitive');

    const created = await h.api('POST', '/api/v1/keys', { key: h.keys.admin, body: { scopes: ['uploads:read'], label: 'temp' } });
    assert.equal(created.status, 201);
    const temp: string = created.body.key;
    assert.equal((await list({ 'x-api-key': temp })).status, 200, 'the new key works');

    assertError(
      await h.api('DELETE', `/api/v1/keys/${created.body.id}`, { key: h.keys.otherOrg }),
      404,
      'not_found',
      "another org cannot revoke this org's key",
    );
    assert.equal((await list({ authorization: `Bearer ${temp}` })).status, 200, 'still valid');
    const revoked = await h.api('DELETE', `/api/v1/keys/${created.body.id}`, { key: h.keys.admin });
    assert.equal(revoked.status, 200);
    assert.ok(revoked.body.revoked_at);

    const cases: [string, Record<string, string>][] = [
      ['missing', {}],
      ['empty', { 'x-api-key': ' ' }],
      ['malformed', { 'x-api-key': 'not-a-key' }],
      ['truncated', { 'x-api-key': h.keys.reader.slice(0, -1) }],
      ['unknown', { 'x-api-key': UNKNOWN_KEY }],
      ['unknown bearer', { authorization: `Bearer ${UNKNOWN_KEY}` }],
      ['basic auth', { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }],
      ['revoked', { 'x-api-key': temp }],
      ['revoked bearer', { authorization: `Bearer ${temp}` }],
    ];
    for (const [what, headers] of cases) assertError(await list(headers), 401, 'invalid_api_key', what);

    const totalBefore = (await summary()).total_count;
    assertError(
      await h.api('POST', '/api/v1/uploads/presign', { key: temp, body: { name: 'x.txt' } }),
      401,
      'invalid_api_key',
      'revoked write',
    );
    assertError(
      await h.api('POST', '/api/v1/uploads/presign', { key: null, body: { name: 'x.txt' } }),
      401,
      'invalid_api_key',
      'keyless write',
    );
    assert.equal((await summary()).total_count, totalBefore, 'no upload was created');
  });

  it('every error answer carries the envelope, and request_id follows a sane X-Request-Id', async () => {
    const answers: [string, ApiAnswer, number, string][] = [
      ['unknown route', await h.api('GET', '/api/v1/nowhere'), 404, 'not_found'],
      ['bad JSON', await h.api('POST', '/api/v1/uploads/presign', { body: '{' }), 400, 'bad_request'],
      ['validation', await h.api('POST', '/api/v1/uploads/bulk-cancel', { body: { ids: [] } }), 422, 'validation_error'],
      ['conflict', await h.api('POST', `/api/v1/uploads/${confirmed.id}/cancel`), 409, 'conflict'],
      ['unknown upload', await get(UNKNOWN_ID), 404, 'not_found'],
    ];
    for (const [what, answer, status, code] of answers) assertError(answer, status, code, what);

    const echoed = await h.api('GET', `/api/v1/uploads/${UNKNOWN_ID}`, { headers: { 'x-request-id': 'client-trace.42' } });
    assertError(echoed, 404, 'not_found');
    assert.equal(echoed.body.error.request_id, 'client-trace.42');
    const insane = await h.api('GET', `/api/v1/uploads/${UNKNOWN_ID}`, { headers: { 'x-request-id': 'has spaces & <tags>' } });
    assertError(insane, 404, 'not_found');
    assert.notEqual(insane.body.error.request_id, 'has spaces & <tags>');
    assert.ok((await get(confirmed.id)).headers.get('x-request-id'), 'success answers carry X-Request-Id too');
  });

  it('bulk-cancel handles each id on its own: pending, confirmed, unknown, malformed, foreign, duplicate', async () => {
    const pending = (await presign(h, { name: 'bulk-a.txt' })).data_source_id;
    const foreign = (await presign(h, { name: 'foreign.txt' }, h.keys.otherOrg)).data_source_id;
    const answer = await h.api('POST', '/api/v1/uploads/bulk-cancel', {
      body: { ids: [pending, confirmed.id, UNKNOWN_ID, 'nope', foreign, pending] },
    });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, {
      cancelled: [pending],
      retried: [],
      skipped: [
        { id: confirmed.id, reason: 'is_confirmed' },
        { id: UNKNOWN_ID, reason: 'not_found' },
        { id: 'nope', reason: 'not_found' },
        { id: foreign, reason: 'not_found' },
      ],
    });
    assert.equal((await get(pending)).body.status, 'cancelled');
    assert.equal((await get(confirmed.id)).body.status, 'confirmed');
    assert.equal((await get(foreign, h.keys.otherOrg)).body.status, 'pending', "the other org's upload is untouched");

    const again = await h.api('POST', '/api/v1/uploads/bulk-cancel', { body: { ids: [pending] } });
    assert.deepEqual(again.body.cancelled, [pending], 'cancelling a cancelled upload is idempotent');
  });

  it('bulk-retry re-queues a failed upload and skips the rest per row', async () => {
    const p = await presign(h, { name: 'late.txt', size_bytes: 5 });
    const { upload: failed, job: firstJob } = await settle(h, p.data_source_id, await confirm(h, p.data_source_id));
    assert.equal(failed.status, 'failed');
    assert.equal(failed.failure_reason, 'object_missing');
    const cancelled = (await presign(h, { name: 'gone.txt' })).data_source_id;
    await h.api('POST', `/api/v1/uploads/${cancelled}/cancel`);
    const foreign = (await presign(h, { name: 'foreign2.txt' }, h.keys.otherOrg)).data_source_id;

    await h.stopWorker(); // so the re-queued job cannot run before the state is looked at
    try {
      const answer = await h.api('POST', '/api/v1/uploads/bulk-retry', {
        body: { ids: [failed.id, confirmed.id, UNKNOWN_ID, 'nope', foreign, cancelled, failed.id] },
      });
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body, {
        cancelled: [],
        retried: [failed.id],
        skipped: [
          { id: confirmed.id, reason: 'is_confirmed' },
          { id: UNKNOWN_ID, reason: 'not_found' },
          { id: 'nope', reason: 'not_found' },
          { id: foreign, reason: 'not_found' },
          { id: cancelled, reason: 'is_cancelled' },
        ],
      });
      const requeued = (await get(failed.id)).body;
      assert.equal(requeued.status, 'pending');
      assert.equal(requeued.failure_reason, null);
      assert.equal((await get(foreign, h.keys.otherOrg)).body.status, 'pending');
      assert.equal((await get(cancelled)).body.status, 'cancelled');
      assert.equal((await putBytes(p, 'hello')).status, 200);
    } finally {
      await h.startWorker();
    }
    const newJob = await confirm(h, failed.id);
    assert.notEqual(newJob, firstJob.id, 'the retry made a new confirm job');
    const { upload } = await settle(h, failed.id, newJob);
    assert.equal(upload.status, 'confirmed', 'the re-queued job confirmed the bytes sent after the retry');
  });

  it('bulk operations take 1 to 100 ids', async () => {
    for (const op of ['bulk-cancel', 'bulk-retry']) {
      const tooMany = Array.from({ length: 101 }, () => UNKNOWN_ID);
      for (const ids of [tooMany, []]) {
        const answer = await h.api('POST', `/api/v1/uploads/${op}`, { body: { ids } });
        assertError(answer, 422, 'validation_error', `${op} with ${ids.length} ids`);
        assert.equal(answer.body.error.details[0].path, 'body.ids');
      }
      const hundred = await h.api('POST', `/api/v1/uploads/${op}`, { body: { ids: Array.from({ length: 100 }, () => UNKNOWN_ID) } });
      assert.equal(hundred.status, 200, `${op} with 100 ids`);
      assert.deepEqual(hundred.body.skipped, [{ id: UNKNOWN_ID, reason: 'not_found' }]);
    }
  });
});
