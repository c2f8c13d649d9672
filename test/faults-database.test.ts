/**
 * PostgreSQL failing under a running service: the whole server (API, pool, pg-boss, workers) reaches
 * its database through a TCP proxy that the tests cut, refuse and black-hole, then bring back.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { openDatabase } from '../src/db/database.js';
import { assertError } from './helpers/assertions.js';
import { type Harness, eventually, freshDatabase, startStowage } from './helpers/harness.js';
import { TcpProxy } from './helpers/tcp-proxy.js';
import { confirm, presign, putBytes, settle, sha256, uploadConfirmed } from './helpers/uploads.js';

describe('database faults', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let proxy: TcpProxy;
  let h: Harness;

  before(async () => {
    database = await freshDatabase();
    proxy = await TcpProxy.forUrl(database.url);
    h = await startStowage({ DATABASE_URL: proxy.rewrite(database.url) });
  });
  after(async () => {
    proxy?.restore();
    await h?.close();
    await proxy?.close();
    await database?.drop();
  });
  afterEach(() => proxy.restore());

  /** What a client sees of the outage on routes of each kind: all 503, retryable, with a request id. */
  async function assertUnavailable(uploadId: string) {
    const answers = {
      'GET upload': await h.api('GET', `/api/v1/uploads/${uploadId}`),
      'GET list': await h.api('GET', '/api/v1/uploads/'),
      'POST presign': await h.api('POST', '/api/v1/uploads/presign', { body: { name: 'during.txt' } }),
      'POST confirm': await h.api('POST', '/api/v1/uploads/confirm', { body: { data_source_id: uploadId } }),
      'GET readyz': await h.api('GET', '/readyz', { key: null }),
    };
    for (const [what, answer] of Object.entries(answers)) {
      assertError(answer, 503, 'unavailable', what);
      assert.equal(answer.body.error.retryable, true, what);
      assert.match(answer.body.error.message, /database/, what);
    }
    assert.equal((await h.api('GET', '/healthz', { key: null })).status, 200, 'the process itself is alive');
  }

  it('a refused database answers 503 everywhere; once it is back the same requests succeed and nothing is lost', async () => {
    const kept = await uploadConfirmed(h, 'kept.txt', 'confirmed before the outage');
    const waiting = await presign(h, { name: 'waiting.txt' });
    await putBytes(waiting, 'stored before the outage');

    proxy.refuse();
    await assertUnavailable(kept.id);

    proxy.restore();
    const again = await eventually(
      async () => {
        const answer = await h.api('GET', `/api/v1/uploads/${kept.id}`);
        return answer.status === 200 ? answer.body : undefined;
      },
      'the pool to reconnect',
      10_000,
    );
    assert.equal(again.status, 'confirmed');
    assert.equal(again.sha256, sha256('confirmed before the outage'), 'nothing lost');
    assert.equal((await h.api('GET', '/readyz', { key: null })).status, 200);
    // The queue and the worker reconnected too: a confirm sent now is carried out.
    const { upload } = await settle(h, waiting.data_source_id, await confirm(h, waiting.data_source_id));
    assert.equal(upload.status, 'confirmed');
  });

  it('idle connections cut cost nothing; connections cut mid-handshake answer 503 until the database is back', async () => {
    const p = await presign(h, { name: 'midway.txt' });
    proxy.cutAll();
    // The pool drops what it finds broken and connects again: the client never notices.
    assert.equal((await h.api('GET', `/api/v1/uploads/${p.data_source_id}`)).status, 200);

    proxy.cutAfter(16); // every new connection dies inside its startup message
    proxy.cutAll();
    assertError(await h.api('GET', `/api/v1/uploads/${p.data_source_id}`), 503, 'unavailable', 'cut mid-handshake');
    proxy.restore();
    const retried = await eventually(
      async () => {
        const next = await h.api('GET', `/api/v1/uploads/${p.data_source_id}`);
        return next.status === 200 ? next : undefined;
      },
      'the retried request',
      10_000,
    );
    assert.equal(retried.body.status, 'pending');
  });

  it('a connection lost inside a transaction fails that transaction and does not crash the process', async () => {
    const handle = openDatabase(proxy.rewrite(database.url), { max: 1 });
    try {
      const failed = handle.db.transaction().execute(async (tx) => {
        await sql`SELECT 1`.execute(tx);
        // Between two queries the client is checked out and idle: the reset reaches it there. Nothing
        // outside the pool can see it arrive, hence a short wait.
        const closed = new Promise((resolve) => setTimeout(resolve, 200));
        proxy.cutAll();
        await closed;
        await sql`SELECT 1`.execute(tx);
      });
      await assert.rejects(failed);
      assert.equal((await sql<{ one: number }>`SELECT 1 AS one`.execute(handle.db)).rows[0].one, 1, 'the pool connects again');
    } finally {
      await handle.close();
    }
  });
});
