/**
 * Idempotency-Key beyond the plain JSON replay (see http-conventions): streamed forms, secrets,
 * failures, expired and abandoned records. Clocks are moved by backdating rows, never by waiting.
 */
import assert from 'node:assert/strict';
import { rename } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { type Harness, eventually, startStowage } from './helpers/harness.js';
import { postForm } from './helpers/forms.js';
import { assertError } from './helpers/assertions.js';

describe('Idempotency-Key', () => {
  let h: Harness;
  before(async () => {
    h = await startStowage({ RATE_LIMIT_PER_KEY: '1000', RATE_LIMIT_PER_ORG: '5000' }, { storage: 'local' });
  });
  after(() => h.close());

  const db = () => h.runtime.database.db;
  const record = (key: string) => db().selectFrom('idempotency_keys').selectAll().where('key', '=', key).executeTakeFirst();
  const uploadCount = async () => (await h.api('GET', '/api/v1/uploads/summary')).body.total_count as number;

  describe('on a streamed form', () => {
    for (const contentLength of [true, false]) {
      const how = contentLength ? 'with-content-length' : 'chunked';
      it(`other bytes of the same length are 409, never the first upload replayed (${how})`, async () => {
        const key = `form-same-length-${how}`;
        const first = await postForm(h, { bytes: Buffer.alloc(1000, 'a'), filename: 'same.bin', idempotencyKey: key, contentLength });
        assert.equal(first.status, 201, JSON.stringify(first.body));
        const count = await uploadCount();
        const other = await postForm(h, { bytes: Buffer.alloc(1000, 'b'), filename: 'same.bin', idempotencyKey: key, contentLength });
        assert.equal(other.status, 409, JSON.stringify(other.body));
        assert.equal(other.body.error.code, 'conflict');
        assert.equal(other.body.error.retryable, false);
        assert.equal(other.replayed, false);
        assert.equal(await uploadCount(), count, 'the other bytes were not kept');

        const same = await postForm(h, { bytes: Buffer.alloc(1000, 'a'), filename: 'same.bin', idempotencyKey: key, contentLength });
        assert.equal(same.status, 201);
        assert.equal(same.replayed, true, 'the same bytes in a new form are the same request');
        assert.equal(same.body.id, first.body.id);
      });
    }

    it('a chunked form retried with a Content-Length (and a new boundary) is the same request', async () => {
      const bytes = Buffer.alloc(200 * 1024 + 77, 'boundary-');
      const first = await postForm(h, { bytes, filename: 'big.bin', idempotencyKey: 'form-big' });
      assert.equal(first.status, 201);
      const again = await postForm(h, { bytes, filename: 'big.bin', idempotencyKey: 'form-big', contentLength: true });
      assert.equal(again.replayed, true);
      assert.equal(again.body.id, first.body.id);
    });

    it('a 5xx is not stored: once storage is back, the retry runs and succeeds', async () => {
      const key = 'form-during-outage';
      const blobs = `${h.dataDir}/blobs`;
      await rename(blobs, `${blobs}.away`);
      let failed;
      try {
        failed = await postForm(h, { bytes: Buffer.from('outage'), filename: 'o.bin', idempotencyKey: key, contentLength: true });
      } finally {
        await rename(`${blobs}.away`, blobs);
      }
      assert.ok(failed.status >= 500, `status ${failed.status}`);
      assert.equal(await record(key), undefined, 'the failure was not kept');
      const retry = await postForm(h, { bytes: Buffer.from('outage'), filename: 'o.bin', idempotencyKey: key, contentLength: true });
      assert.equal(retry.status, 201, JSON.stringify(retry.body));
      assert.equal(retry.replayed, false);
    });
  });

  describe('on POST /api/v1/keys', () => {
    it('never stores the secret, and a replay refuses to show it again (409 naming the key)', async () => {
      const headers = { 'idempotency-key': 'new-key-once' };
      const created = await h.api('POST', '/api/v1/keys', { key: h.keys.admin, body: { scopes: ['uploads:read'] }, headers });
      assert.equal(created.status, 201);
      const secret: string = created.body.key;
      assert.ok(secret.length > 20);

      const row = await record('new-key-once');
      assert.ok(row, 'the request is recorded');
      assert.equal(row.state, 'done');
      assert.doesNotMatch(JSON.stringify(row), new RegExp(secret), 'the secret is nowhere in the record');

      const again = await h.api('POST', '/api/v1/keys', { key: h.keys.admin, body: { scopes: ['uploads:read'] }, headers });
      assert.equal(again.status, 409);
      assert.equal(again.body.error.code, 'conflict');
      assert.equal(again.body.error.details.api_key.id, created.body.id, 'names the key the first request created');
      assert.equal(again.body.error.details.api_key.key, undefined);
      assert.doesNotMatch(JSON.stringify(again.body), new RegExp(secret));
      const keys = (await h.api('GET', '/api/v1/keys', { key: h.keys.admin })).body.data;
      assert.equal(
        keys.filter((k: { label: string | null; scopes: string[] }) => k.scopes.join() === 'uploads:read').length,
        2,
        'no third key was made',
      );
      assert.equal((await h.api('GET', '/api/v1/uploads/summary', { key: secret })).status, 200, 'the key works');
    });
  });

  describe('records and the clock', () => {
    it('an in-flight record of no process (written before records had owners) is a retryable 409 for 300 s; then a retry takes it over', async () => {
      const key = 'held-by-a-dead-process';
      const body = { name: 'abandoned.txt' };
      // The fingerprint of this request, from the same request sent under another key.
      assert.equal((await h.api('POST', '/api/v1/uploads/presign', { body, headers: { 'idempotency-key': `${key}-probe` } })).status, 200);
      const { body_hash: fingerprint } = (await record(`${key}-probe`))!;
      // The record a process wrote before it died mid-request.
      await db()
        .insertInto('idempotency_keys')
        .values({
          org_id: h.orgId,
          key,
          method: 'POST',
          path: '/api/v1/uploads/presign',
          body_hash: fingerprint,
          state: 'in_flight',
          expires_at: sql<Date>`now() + interval '24 hours'`,
        })
        .execute();

      const busy = await h.api('POST', '/api/v1/uploads/presign', { body, headers: { 'idempotency-key': key } });
      assertError(busy, 409, 'conflict');
      assert.equal(busy.body.error.retryable, true);

      await db()
        .updateTable('idempotency_keys')
        .set({ created_at: sql<Date>`now() - interval '301 seconds'` })
        .where('key', '=', key)
        .execute();
      const taken = await h.api('POST', '/api/v1/uploads/presign', { body, headers: { 'idempotency-key': key } });
      assert.equal(taken.status, 200, JSON.stringify(taken.body));
      assert.equal(taken.headers.get('idempotent-replayed'), null);
      const replay = await h.api('POST', '/api/v1/uploads/presign', { body, headers: { 'idempotency-key': key } });
      assert.equal(replay.headers.get('idempotent-replayed'), 'true');
      assert.equal(replay.body.data_source_id, taken.body.data_source_id);
    });

    it('a record of a live process is a 409 with Retry-After however old; once its lease has expired, a retry takes it over', async () => {
      const key = 'held-by-a-process-of-the-cluster';
      const owner = 'process-that-stops-heartbeating';
      const body = { name: 'owned.txt' };
      assert.equal((await h.api('POST', '/api/v1/uploads/presign', { body, headers: { 'idempotency-key': `${key}-probe` } })).status, 200);
      const { body_hash: fingerprint } = (await record(`${key}-probe`))!;
      await sql`INSERT INTO process_leases (id) VALUES (${owner})`.execute(db());
      // An hour old: a long streamed upload on a live process keeps its record, past the old 300 s rule.
      await sql`INSERT INTO idempotency_keys (org_id, key, method, path, body_hash, state, owner_id, created_at, expires_at)
        VALUES (${h.orgId}, ${key}, 'POST', '/api/v1/uploads/presign', ${fingerprint}, 'in_flight', ${owner},
                now() - interval '1 hour', now() + interval '23 hours')`.execute(db());

      const busy = await h.api('POST', '/api/v1/uploads/presign', { body, headers: { 'idempotency-key': key } });
      assertError(busy, 409, 'conflict');
      assert.equal(busy.body.error.retryable, true);
      assert.match(busy.headers.get('retry-after') ?? '', /^\d+$/);

      // Three heartbeats missed (15 s): the process died.
      await sql`UPDATE process_leases SET heartbeat_at = now() - interval '16 seconds' WHERE id = ${owner}`.execute(db());
      const taken = await h.api('POST', '/api/v1/uploads/presign', { body, headers: { 'idempotency-key': key } });
      assert.equal(taken.status, 200, JSON.stringify(taken.body));
      assert.equal(taken.headers.get('idempotent-replayed'), null);
      const row = await sql<{ owner_id: string; state: string }>`SELECT owner_id, state FROM idempotency_keys WHERE key = ${key}`.execute(
        db(),
      );
      assert.equal(row.rows[0]!.state, 'done');
      assert.notEqual(row.rows[0]!.owner_id, owner, "the record is the retry's now");
      const replay = await h.api('POST', '/api/v1/uploads/presign', { body, headers: { 'idempotency-key': key } });
      assert.equal(replay.headers.get('idempotent-replayed'), 'true');
      assert.equal(replay.body.data_source_id, taken.body.data_source_id);
    });

    it('a record whose process has no lease at all (stopped, or forgotten) is taken over at once', async () => {
      const key = 'held-by-a-stopped-process';
      const body = { name: 'stopped.txt' };
      assert.equal((await h.api('POST', '/api/v1/uploads/presign', { body, headers: { 'idempotency-key': `${key}-probe` } })).status, 200);
      const { body_hash: fingerprint } = (await record(`${key}-probe`))!;
      await sql`INSERT INTO idempotency_keys (org_id, key, method, path, body_hash, state, owner_id, expires_at)
        VALUES (${h.orgId}, ${key}, 'POST', '/api/v1/uploads/presign', ${fingerprint}, 'in_flight', 'no-such-process',
                now() + interval '24 hours')`.execute(db());
      const taken = await h.api('POST', '/api/v1/uploads/presign', { body, headers: { 'idempotency-key': key } });
      assert.equal(taken.status, 200, JSON.stringify(taken.body));
    });

    it("this process's own lease is fresh: its heartbeat moves on", async () => {
      const leases = async () =>
        (await sql<{ id: string; heartbeat_at: Date }>`SELECT id, heartbeat_at FROM process_leases`.execute(db())).rows;
      const fresh = (
        await sql<{ id: string }>`SELECT id FROM process_leases WHERE heartbeat_at > now() - interval '15 seconds'`.execute(db())
      ).rows;
      const mine = (await leases()).find((row) => fresh.some((f) => f.id === row.id));
      assert.ok(mine, 'the app took a lease when it started');
      await eventually(
        async () => ((await leases()).find((row) => row.id === mine.id)!.heartbeat_at > mine.heartbeat_at ? true : undefined),
        'a heartbeat',
        15_000,
      );
    });

    it('an expired key may be used again, for another request', async () => {
      const headers = { 'idempotency-key': 'reused-after-a-day' };
      const first = await h.api('POST', '/api/v1/uploads/presign', { body: { name: 'day1.txt' }, headers });
      assert.equal(first.status, 200);
      assertError(
        await h.api('POST', '/api/v1/uploads/presign', { body: { name: 'day2.txt' }, headers }),
        409,
        'conflict',
        'while it is kept',
      );

      await db()
        .updateTable('idempotency_keys')
        .set({ expires_at: sql<Date>`now() - interval '1 second'` })
        .where('key', '=', 'reused-after-a-day')
        .execute();
      const second = await h.api('POST', '/api/v1/uploads/presign', { body: { name: 'day2.txt' }, headers });
      assert.equal(second.status, 200, JSON.stringify(second.body));
      assert.equal(second.headers.get('idempotent-replayed'), null);
      assert.notEqual(second.body.data_source_id, first.body.data_source_id);
      const replay = await h.api('POST', '/api/v1/uploads/presign', { body: { name: 'day2.txt' }, headers });
      assert.equal(replay.body.data_source_id, second.body.data_source_id, 'the new answer is the one kept now');
    });
  });
});
