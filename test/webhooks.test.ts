import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { type Harness, eventually, startStowage } from './helpers/harness.js';
import { presign, confirm, settle, streamedUpload } from './helpers/uploads.js';
import { type Receiver, startReceiver } from './helpers/webhook-receiver.js';

const ALL_EVENTS = ['upload.confirmed', 'upload.failed', 'file.version_created', 'file.deleted', 'reading.ready', 'preview.ready'];
const TRIANGLE_STL = 'solid t\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex 0 1 0\nendloop\nendfacet\nendsolid t\n';

describe('webhooks', () => {
  let h: Harness;
  let receiver: Receiver;
  let db: pg.Client;

  before(async () => {
    h = await startStowage({
      STOWAGE_WEBHOOK_ALLOW_PRIVATE: 'true',
      STOWAGE_WEBHOOK_RETRY_SCHEDULE: '0,0.3,0.3',
      STOWAGE_WEBHOOK_TIMEOUT_SECONDS: '1',
      STOWAGE_WEBHOOK_LEASE_SECONDS: '6',
    });
    receiver = await startReceiver();
    db = new pg.Client({ connectionString: h.databaseUrl });
    await db.connect();
  });
  after(async () => {
    await db?.end();
    for (const target of receivers) await target.close();
    await receiver?.close();
    await h?.close();
  });

  const receivers: Receiver[] = [];

  /** A fresh endpoint of the harness's org on a fresh receiver, listening to `events`. */
  async function endpoint(events = ALL_EVENTS, key = h.keys.admin) {
    const target = await startReceiver();
    receivers.push(target);
    const created = await h.api('POST', '/api/v1/webhooks', { key, body: { url: target.url, events, description: 'test' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    target.secrets = [created.body.secret];
    return { target, webhook: created.body };
  }

  it('creates, shows, changes and deletes an endpoint; the secret is shown once', async () => {
    const created = await h.api('POST', '/api/v1/webhooks', {
      key: h.keys.admin,
      body: { url: receiver.url, events: ['upload.confirmed'], description: 'ci' },
    });
    assert.equal(created.status, 201);
    assert.match(created.body.secret, /^whsec_[A-Za-z0-9+/=]+$/);
    assert.equal(created.body.enabled, true);
    const id = created.body.id;
    const shown = await h.api('GET', `/api/v1/webhooks/${id}`, { key: h.keys.admin });
    assert.equal(shown.status, 200);
    assert.equal(shown.body.secret, undefined);
    const listed = await h.api('GET', '/api/v1/webhooks', { key: h.keys.admin });
    assert.ok(listed.body.data.some((w: any) => w.id === id && w.secret === undefined));
    const changed = await h.api('PATCH', `/api/v1/webhooks/${id}`, {
      key: h.keys.admin,
      body: { events: ['upload.failed'], enabled: false },
    });
    assert.equal(changed.status, 200);
    assert.deepEqual(changed.body.events, ['upload.failed']);
    assert.equal(changed.body.enabled, false);
    const rotated = await h.api('POST', `/api/v1/webhooks/${id}/rotate-secret`, { key: h.keys.admin });
    assert.equal(rotated.status, 200);
    assert.notEqual(rotated.body.secret, created.body.secret);
    assert.equal((await h.api('DELETE', `/api/v1/webhooks/${id}`, { key: h.keys.admin })).status, 204);
    assert.equal((await h.api('GET', `/api/v1/webhooks/${id}`, { key: h.keys.admin })).status, 404);
  });

  it('refuses bad bodies with 422 and creates nothing', async () => {
    const before = (await h.api('GET', '/api/v1/webhooks', { key: h.keys.admin })).body.count;
    for (const body of [
      { url: receiver.url, events: ['upload.exploded'] },
      { url: receiver.url, events: [] },
      { url: 'ftp://example.com/x', events: ['upload.confirmed'] },
      { url: 'http://user:pw@127.0.0.1/x', events: ['upload.confirmed'] },
      { url: `http://127.0.0.1/${'a'.repeat(2100)}`, events: ['upload.confirmed'] },
      { url: receiver.url, events: ['upload.confirmed'], secret: 'whsec_mine' },
    ]) {
      const answer = await h.api('POST', '/api/v1/webhooks', { key: h.keys.admin, body });
      assert.equal(answer.status, 422, JSON.stringify(body).slice(0, 100));
      assert.equal(answer.body.error.code, 'validation_error');
    }
    assert.equal((await h.api('GET', '/api/v1/webhooks', { key: h.keys.admin })).body.count, before);
  });

  it('needs admin or webhooks:write; another org sees and triggers nothing of this one', async () => {
    const { target, webhook } = await endpoint(['upload.confirmed']);
    const writer = await h.api('GET', '/api/v1/webhooks', { key: h.keys.writer });
    assert.equal(writer.status, 403);
    const scoped = await h.createKey(h.orgId, ['webhooks:write']);
    assert.equal((await h.api('GET', `/api/v1/webhooks/${webhook.id}`, { key: scoped })).status, 200);
    const unknown = '0190f000-0000-7000-8000-000000000000';
    const other = await h.createKey(h.otherOrgId, ['admin']);
    for (const [method, path, body] of [
      ['GET', `/api/v1/webhooks/%s`, undefined],
      ['PATCH', `/api/v1/webhooks/%s`, { enabled: false }],
      ['DELETE', `/api/v1/webhooks/%s`, undefined],
      ['POST', `/api/v1/webhooks/%s/rotate-secret`, undefined],
      ['GET', `/api/v1/webhooks/%s/deliveries`, undefined],
      ['POST', `/api/v1/webhooks/%s/recover`, { since: '2020-01-01T00:00:00Z' }],
    ] as const) {
      const theirs = await h.api(method, path.replace('%s', webhook.id), { key: other, body });
      const none = await h.api(method, path.replace('%s', unknown), { key: other, body });
      assert.equal(theirs.status, 404, `${method} ${path}`);
      assert.deepEqual({ ...theirs.body.error, request_id: null }, { ...none.body.error, request_id: null });
    }
    // The other org's upload reaches no endpoint of this org.
    await streamedUpload(h, h.keys.otherOrg, 'theirs.txt', 'other org bytes');
    const mine = await streamedUpload(h, h.keys.writer, 'mine.txt', 'my org bytes');
    await target.waitFor(1);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(
      target.received.map((r) => r.body.data.upload_id),
      [mine.id],
    );
    await target.close();
  });

  it('sends each event once, signed, with a stable id, the facts and its subject sequence', async () => {
    const { target, webhook } = await endpoint();
    const text = (
      await h.api('GET', `/api/v1/uploads/${(await streamedUpload(h, h.keys.writer, 'notes.txt', 'hello webhook readers\n')).id}`)
    ).body;
    const stl = await streamedUpload(h, h.keys.writer, 'tri.stl', TRIANGLE_STL);
    const missing = await presign(h, { name: 'never-sent.bin' });
    await settle(h, missing.data_source_id, await confirm(h, missing.data_source_id));
    const file = await h.api('POST', '/api/v1/files', {
      key: h.keys.admin,
      body: { filename: 'notes.txt', content_type: 'text/plain', size: text.size_bytes, data_source_id: text.id },
    });
    assert.equal(file.status, 201, JSON.stringify(file.body));
    assert.equal((await h.api('DELETE', `/api/v1/files/${file.body.id}`, { key: h.keys.admin })).status, 200);

    const byType = (type: string) => (r: { body: { type: string } }) => r.body.type === type;
    await target.waitFor(2, byType('upload.confirmed'));
    await target.waitFor(1, byType('upload.failed'));
    await target.waitFor(1, byType('file.version_created'));
    await target.waitFor(1, byType('file.deleted'));
    await target.waitFor(2, byType('reading.ready'), 60_000);
    await target.waitFor(1, byType('preview.ready'), 60_000);

    for (const r of target.received) assert.deepEqual(r.verifiedBy, [0], `signature of ${r.body.type}`);
    const ids = target.received.map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length, 'one request per event');
    const confirmed = target.received.find((r) => r.body.type === 'upload.confirmed' && r.body.data.upload_id === text.id)!;
    assert.equal(confirmed.body.data.size_bytes, text.size_bytes);
    assert.equal(confirmed.body.data.sha256, text.sha256);
    assert.equal(confirmed.body.data.sequence, 1);
    assert.match(confirmed.body.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.ok(Math.abs(Number(confirmed.timestamp) * 1000 - confirmed.at) < 5000, 'webhook-timestamp is the time of sending');
    const failed = target.received.find(byType('upload.failed'))!;
    assert.equal(failed.body.data.upload_id, missing.data_source_id);
    assert.equal(failed.body.data.failure_reason, 'object_missing');
    const created = target.received.find(byType('file.version_created'))!;
    assert.deepEqual([created.body.data.file_id, created.body.data.version, created.body.data.sequence], [file.body.id, 1, 1]);
    const deleted = target.received.find(byType('file.deleted'))!;
    assert.deepEqual([deleted.body.data.file_id, deleted.body.data.permanent, deleted.body.data.sequence], [file.body.id, false, 2]);
    assert.equal(target.received.find(byType('preview.ready'))!.body.data.upload_id, stl.id);

    const deliveries = await h.api('GET', `/api/v1/webhooks/${webhook.id}/deliveries?status=succeeded`, { key: h.keys.admin });
    assert.equal(deliveries.status, 200);
    assert.equal(deliveries.body.count, target.received.length);
    for (const d of deliveries.body.data) {
      assert.equal(d.attempts, 1);
      assert.equal(d.last_status_code, 200);
      assert.equal(d.next_attempt_at, null);
      assert.ok(ids.includes(d.event_id));
    }
    await target.close();
  });

  it('writes no event for a change that rolled back', async () => {
    const { target } = await endpoint(['upload.confirmed']);
    const pending = await presign(h, { name: 'rolled-back.txt' });
    await db.query('BEGIN');
    await db.query(`UPDATE uploads SET status = 'confirmed', size_bytes = 1 WHERE id = $1`, [pending.data_source_id]);
    const inside = await db.query('SELECT count(*)::int AS n FROM webhook_events WHERE subject_id = $1', [pending.data_source_id]);
    assert.equal(inside.rows[0].n, 1, 'the event is written in the transaction of the change');
    await db.query('ROLLBACK');
    const afterwards = await db.query('SELECT count(*)::int AS n FROM webhook_events WHERE subject_id = $1', [pending.data_source_id]);
    assert.equal(afterwards.rows[0].n, 0);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(target.received.length, 0);
    await target.close();
  });

  it('retries failures with the same webhook-id, honours Retry-After, then dead-letters; redeliver and recover send again', async () => {
    const { target, webhook } = await endpoint(['upload.confirmed']);
    let answers = [500, 502];
    target.reply = () => {
      const status = answers.shift();
      return status ? { status } : { status: 204 };
    };
    const upload = await streamedUpload(h, h.keys.writer, 'retried.txt', 'try again');
    const tries = await target.waitFor(3);
    assert.equal(new Set(tries.map((r) => r.id)).size, 1, 'one webhook-id across attempts');
    assert.ok(tries.every((r) => r.body.data.upload_id === upload.id));
    const delivered = await eventually(async () => {
      const list = await h.api('GET', `/api/v1/webhooks/${webhook.id}/deliveries`, { key: h.keys.admin });
      return list.body.data[0]?.status === 'succeeded' ? list.body.data[0] : undefined;
    }, 'the delivery recorded');
    assert.equal(delivered.attempts, 3);
    assert.equal(delivered.last_status_code, 204);

    // Retry-After: the next attempt waits as long as the receiver asked, past the 0.3 s schedule.
    answers = [];
    let first = true;
    target.reply = () => {
      if (!first) return { status: 200 };
      first = false;
      return { status: 503, headers: { 'retry-after': '2' } };
    };
    target.received.length = 0;
    await streamedUpload(h, h.keys.writer, 'later.txt', 'come back later');
    const [asked, retried] = await target.waitFor(2);
    assert.ok(retried.at - asked.at >= 1900, `retried after ${retried.at - asked.at} ms`);

    // Every attempt failing: dead-lettered after the schedule's 3 attempts.
    target.reply = () => ({ status: 500 });
    target.received.length = 0;
    const dead = await streamedUpload(h, h.keys.writer, 'dead.txt', 'never accepted');
    await target.waitFor(3);
    const failed = await eventually(async () => {
      const list = await h.api('GET', `/api/v1/webhooks/${webhook.id}/deliveries?status=failed`, { key: h.keys.admin });
      return list.body.count === 1 ? list.body.data[0] : undefined;
    }, 'the delivery dead-lettered');
    assert.equal(failed.attempts, 3);
    assert.equal(failed.last_status_code, 500);
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(target.received.length, 3, 'nothing after the last attempt');

    target.reply = () => ({ status: 200 });
    const again = await h.api('POST', `/api/v1/webhooks/${webhook.id}/deliveries/${failed.id}/redeliver`, { key: h.keys.admin });
    assert.equal(again.status, 202, JSON.stringify(again.body));
    assert.equal(again.body.status, 'pending');
    const resent = await target.waitFor(4, (r) => r.body.data.upload_id === dead.id);
    assert.equal(resent.at(-1)!.id, failed.event_id);
    await eventually(async () => {
      const list = await h.api('GET', `/api/v1/webhooks/${webhook.id}/deliveries?status=succeeded`, { key: h.keys.admin });
      return list.body.data.some((d: any) => d.id === failed.id) ? true : undefined;
    }, 'the redelivery recorded');

    // Recover: what failed in the window is pending again.
    target.reply = () => ({ status: 500 });
    target.received.length = 0;
    await streamedUpload(h, h.keys.writer, 'dead-again.txt', 'never accepted either');
    await eventually(async () => {
      const list = await h.api('GET', `/api/v1/webhooks/${webhook.id}/deliveries?status=failed`, { key: h.keys.admin });
      return list.body.count === 1 ? true : undefined;
    }, 'a second dead delivery');
    target.reply = () => ({ status: 200 });
    const recovered = await h.api('POST', `/api/v1/webhooks/${webhook.id}/recover`, {
      key: h.keys.admin,
      body: { since: new Date(Date.now() - 60_000).toISOString() },
    });
    assert.equal(recovered.status, 202, JSON.stringify(recovered.body));
    assert.equal(recovered.body.recovered, 1);
    await eventually(async () => {
      const list = await h.api('GET', `/api/v1/webhooks/${webhook.id}/deliveries?status=failed`, { key: h.keys.admin });
      return list.body.count === 0 ? true : undefined;
    }, 'the recovered delivery sent');
    const empty = await h.api('POST', `/api/v1/webhooks/${webhook.id}/recover`, {
      key: h.keys.admin,
      body: { since: '2030-01-01T00:00:00Z', until: '2020-01-01T00:00:00Z' },
    });
    assert.equal(empty.status, 422);
    await target.close();
  });

  it('410 Gone disables the endpoint at once; failing for longer than allowed disables it with a reason', async () => {
    const gone = await endpoint(['upload.confirmed']);
    gone.target.reply = () => ({ status: 410 });
    await streamedUpload(h, h.keys.writer, 'gone.txt', 'to nobody');
    await gone.target.waitFor(1);
    const disabled = await eventually(async () => {
      const w = (await h.api('GET', `/api/v1/webhooks/${gone.webhook.id}`, { key: h.keys.admin })).body;
      return w.enabled ? undefined : w;
    }, 'the endpoint disabled');
    assert.match(disabled.disabled_reason, /410/);
    await streamedUpload(h, h.keys.writer, 'gone-2.txt', 'to nobody, again');
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(gone.target.received.length, 1, 'a disabled endpoint gets nothing');

    const failing = await endpoint(['upload.confirmed']);
    failing.target.reply = () => ({ status: 500 });
    await streamedUpload(h, h.keys.writer, 'failing-1.txt', 'fails first');
    const since = await eventually(async () => {
      const w = (await h.api('GET', `/api/v1/webhooks/${failing.webhook.id}`, { key: h.keys.admin })).body;
      return w.failing_since ?? undefined;
    }, 'failing_since set by the first failure');
    // Five days of failures (the default STOWAGE_WEBHOOK_DISABLE_AFTER_SECONDS), without waiting for them.
    await db.query(`UPDATE webhooks SET failing_since = now() - interval '6 days' WHERE id = $1`, [failing.webhook.id]);
    assert.ok(since);
    await streamedUpload(h, h.keys.writer, 'failing-2.txt', 'fails again, days later');
    const reason = await eventually(async () => {
      const w = (await h.api('GET', `/api/v1/webhooks/${failing.webhook.id}`, { key: h.keys.admin })).body;
      return w.enabled ? undefined : w.disabled_reason;
    }, 'the endpoint disabled after days of failures');
    assert.match(reason ?? '', /every attempt has failed since/);
    const enabled = await h.api('PATCH', `/api/v1/webhooks/${failing.webhook.id}`, { key: h.keys.admin, body: { enabled: true } });
    assert.deepEqual([enabled.body.enabled, enabled.body.disabled_reason, enabled.body.failing_since], [true, null, null]);
    await gone.target.close();
    await failing.target.close();
  });

  it('signs with both secrets for a while after a rotation', async () => {
    const { target, webhook } = await endpoint(['upload.confirmed']);
    const rotated = await h.api('POST', `/api/v1/webhooks/${webhook.id}/rotate-secret`, { key: h.keys.admin });
    target.secrets = [target.secrets[0], rotated.body.secret];
    await streamedUpload(h, h.keys.writer, 'rotated.txt', 'two signatures');
    const [received] = await target.waitFor(1);
    assert.deepEqual(received.verifiedBy, [0, 1]);
    assert.equal(received.signature.split(' ').length, 2);
    await target.close();
  });

  it('a receiver that was down gets every event once it is back', async () => {
    const { target, webhook } = await endpoint(['upload.confirmed']);
    // Down while each event's first two attempts (at once, then ~0.3 s later) come; back for the third.
    const accepted = new Set<string>();
    target.reply = (r) => {
      if (target.received.filter((x) => x.id === r.id).length < 3) return { status: 503 };
      accepted.add(r.body.data.upload_id);
      return { status: 200 };
    };
    const uploads: { id: string }[] = [];
    for (let i = 0; i < 5; i++) uploads.push(await streamedUpload(h, h.keys.writer, `while-down-${i}.txt`, `event ${i}`));
    await eventually(async () => (uploads.every((u) => accepted.has(u.id)) ? true : undefined), 'every event accepted');
    const list = await eventually(async () => {
      const answer = await h.api('GET', `/api/v1/webhooks/${webhook.id}/deliveries?status=succeeded`, { key: h.keys.admin });
      return answer.body.count === 5 ? answer.body : undefined;
    }, 'five deliveries recorded');
    assert.ok(
      list.data.every((d: any) => d.attempts === 3),
      'each took its third attempt',
    );
    await target.close();
  });

  it('a lease shorter than the request timeout is a start-up error', () => {
    assert.throws(
      () => loadConfig({ STOWAGE_WEBHOOK_TIMEOUT_SECONDS: '15', STOWAGE_WEBHOOK_LEASE_SECONDS: '10' }),
      /STOWAGE_WEBHOOK_LEASE_SECONDS \(10\) must be at least the webhook timeout/,
    );
    assert.doesNotThrow(() => loadConfig({ STOWAGE_WEBHOOK_TIMEOUT_SECONDS: '15', STOWAGE_WEBHOOK_LEASE_SECONDS: '20' }));
  });
});

describe('webhook targets without STOWAGE_WEBHOOK_ALLOW_PRIVATE', () => {
  let h: Harness;
  before(async () => {
    h = await startStowage({}, { worker: false, storage: 'local' });
  });
  after(async () => h?.close());

  it('refuses private, loopback and link-local targets with 422', async () => {
    for (const url of [
      'http://127.0.0.1:8080/hook',
      'http://169.254.169.254/latest/meta-data',
      'http://10.1.2.3/x',
      'http://[::1]/x',
      'http://localhost/x',
    ]) {
      const answer = await h.api('POST', '/api/v1/webhooks', { key: h.keys.admin, body: { url, events: ['upload.confirmed'] } });
      assert.equal(answer.status, 422, url);
      assert.equal(answer.body.error.details[0].path, 'body.url');
    }
    assert.equal((await h.api('GET', '/api/v1/webhooks', { key: h.keys.admin })).body.count, 0);
  });
});
