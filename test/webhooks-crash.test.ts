import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { SIGNING_SECRET, eventually, freshDatabase } from './helpers/harness.js';
import { spawnCli, waitForOutput } from './helpers/cli.js';
import { type Receiver, startReceiver } from './helpers/webhook-receiver.js';

/**
 * The outbox across kill -9: events committed by a process that dies before sending them are sent by
 * the next one; a delivery whose sender dies mid-request is sent again once its lease ends.
 */
describe('webhooks survive kill -9', () => {
  let database: { url: string; drop(): Promise<void> };
  let dataDir: string;
  let receiver: Receiver;
  const children = new Set<ChildProcess>();

  const env = () => ({
    DATABASE_URL: database.url,
    STOWAGE_DATA_DIR: dataDir,
    STOWAGE_SIGNING_SECRET: SIGNING_SECRET,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    STOWAGE_WEBHOOK_ALLOW_PRIVATE: 'true',
    STOWAGE_WEBHOOK_TIMEOUT_SECONDS: '1',
    STOWAGE_WEBHOOK_LEASE_SECONDS: '6',
    STOWAGE_WEBHOOK_RETRY_SCHEDULE: '0,0.3,0.3',
    STOWAGE_JOB_POLL_SECONDS: '0.5',
  });

  async function run(role: 'serve' | 'worker' | 'start'): Promise<{ child: ChildProcess; url: string | null; key: string | null }> {
    const child = spawnCli([role], env());
    children.add(child);
    // Read on, or the logs fill the pipe and the process blocks writing them.
    child.stdout?.on('data', () => {});
    const output = await waitForOutput(child, role === 'worker' ? /worker started/ : /serving at \S+/);
    const url = /serving at (\S+)/.exec(output)?.[1] ?? null;
    const key = /^(stw_\S+)$/m.exec(role === 'worker' ? '' : await keyLine(child, output))?.[1] ?? null;
    return { child, url, key };
  }

  /** The admin key printed on first start comes on the lines after the banner. */
  async function keyLine(child: ChildProcess, seen: string): Promise<string> {
    if (!/First start/.test(seen) || /^stw_\S+$/m.test(seen)) return seen;
    return seen + (await waitForOutput(child, /^stw_\S+$/m, 10_000));
  }

  function kill9(child: ChildProcess): Promise<void> {
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  async function api(url: string, key: string, method: string, route: string, body?: unknown) {
    const response = await fetch(`${url}${route}`, {
      method,
      headers: { 'x-api-key': key, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, body: response.status === 204 ? null : await response.json() };
  }

  async function streamed(url: string, key: string, name: string): Promise<string> {
    const form = new FormData();
    form.append('file', new Blob([`bytes of ${name}`], { type: 'text/plain' }), name);
    const response = await fetch(`${url}/api/v1/uploads`, { method: 'POST', headers: { 'x-api-key': key }, body: form });
    assert.equal(response.status, 201);
    return ((await response.json()) as { id: string }).id;
  }

  async function succeededDeliveries(): Promise<number> {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'succeeded'`);
      return rows[0].n;
    } finally {
      await client.end();
    }
  }

  before(async () => {
    database = await freshDatabase();
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'stowage-webhook-crash-'));
    receiver = await startReceiver();
  });
  after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await receiver?.close();
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('sends what a killed process committed but never sent, and what it was sending when killed', async () => {
    // An API process without a worker commits events and dies before anything sends them.
    const serve = await run('serve');
    assert.ok(serve.url && serve.key, 'the first start prints the URL and an admin key');
    const created = await api(serve.url, serve.key, 'POST', '/api/v1/webhooks', { url: receiver.url, events: ['upload.confirmed'] });
    assert.equal(created.status, 201);
    receiver.secrets = [created.body.secret];
    const committed: string[] = [];
    for (let i = 0; i < 5; i++) committed.push(await streamed(serve.url, serve.key, `before-crash-${i}.txt`));
    await kill9(serve.child);
    assert.equal(receiver.received.length, 0, 'nothing was sent before the crash');

    // A worker started afterwards sends every one of them, once.
    const worker = await run('worker');
    const sent = await receiver.waitFor(5);
    assert.deepEqual(sent.map((r) => r.body.data.upload_id).sort(), [...committed].sort());
    assert.equal(new Set(sent.map((r) => r.id)).size, 5);
    assert.ok(sent.every((r) => r.verifiedBy.length === 1));

    // Recorded before the next kill, or they would rightly be sent again (at least once).
    await eventually(async () => ((await succeededDeliveries()) === 5 ? true : undefined), 'five deliveries recorded');

    // Killed mid-request: the receiver holds the first attempt open; the process dies while waiting.
    await kill9(worker.child);
    receiver.received.length = 0;
    let first = true;
    receiver.reply = () => {
      if (!first) return { status: 200 };
      first = false;
      return 'hang';
    };
    const both = await run('start');
    const uploadId = await streamed(both.url!, serve.key!, 'during-crash.txt');
    await receiver.waitFor(1);
    await kill9(both.child);
    const restarted = await run('start');
    const [held, resent] = await receiver.waitFor(2, (r) => r.body.data.upload_id === uploadId, 30_000);
    assert.equal(resent.id, held.id, 'the same webhook-id: the receiver can tell it is the same event');
    assert.equal(resent.body.data.upload_id, uploadId);
    assert.ok(resent.at - held.at >= 5000, `sent again once the 6 s lease ended (after ${resent.at - held.at} ms)`);
    const deliveries = await eventually(async () => {
      const list = await api(restarted.url!, serve.key!, 'GET', `/api/v1/webhooks/${created.body.id}/deliveries?status=succeeded`);
      // The page and the count are read in parallel, each in its own snapshot: wait for both to show the sixth.
      return list.body.count === 6 && list.body.data.length === 6 ? list.body.data : undefined;
    }, 'six deliveries succeeded');
    assert.equal(deliveries.find((d: { event_id: string }) => d.event_id === held.id).attempts, 2);
    await kill9(restarted.child);
  });
});
