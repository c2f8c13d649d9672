import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { openRateLimitStore } from '../src/http/rate-limit-stores.js';
import { assertError } from './helpers/assertions.js';
import { type ApiAnswer, type Harness, eventually, startStowage } from './helpers/harness.js';
import { TcpProxy } from './helpers/tcp-proxy.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
// An hour-long window: every request of these tests falls in the window its first one opened.
const LIMITS = { RATE_LIMIT_PER_KEY: '4', RATE_LIMIT_PER_ORG: '100', RATE_LIMIT_WINDOW_SECONDS: '3600' };

/** GET on an authenticated, cheap route of `node` with `key`, from `localAddress` (all of 127/8 is this machine). */
function summary(node: Harness, key: string | null, localAddress = '127.0.0.1'): Promise<ApiAnswer> {
  return new Promise((resolve, reject) => {
    const request = http.get(
      `${node.url}/api/v1/uploads/summary`,
      { localAddress, headers: key ? { 'x-api-key': key } : {}, agent: false },
      (response) => {
        let text = '';
        response.setEncoding('utf8').on('data', (chunk) => (text += chunk));
        response.on('end', () => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(response.headers)) if (typeof value === 'string') headers.set(name, value);
          resolve({ status: response.statusCode ?? 0, headers, body: JSON.parse(text) });
        });
      },
    );
    request.on('error', reject);
  });
}

function redisReachable(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(6379, '127.0.0.1');
    socket.setTimeout(1000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

/** Two API nodes on one database, as two `stowage serve` processes would be. */
async function startTwoNodes(env: Record<string, string>): Promise<[Harness, Harness]> {
  const first = await startStowage({ ...LIMITS, ...env }, { worker: false });
  const second = await startStowage({ ...LIMITS, ...env }, { worker: false, databaseUrl: first.databaseUrl });
  return [first, second];
}

/** One key's requests alternate between the nodes: the limit holds over the sum, whichever node gets the next one. */
async function assertOneLimitAcrossNodes(nodes: [Harness, Harness], key: string) {
  const answers: ApiAnswer[] = [];
  for (let i = 0; i < 6; i++) answers.push(await summary(nodes[i % 2], key));
  assert.deepEqual(
    answers.map((a) => [a.status, a.headers.get('ratelimit-remaining')]),
    [
      [200, '3'],
      [200, '2'],
      [200, '1'],
      [200, '0'],
      [429, '0'],
      [429, '0'],
    ],
    'node A, B, A, B share 4 requests; the 5th (A) and 6th (B) are refused',
  );
  for (const refused of answers.slice(4)) {
    assertError(refused, 429, 'rate_limited');
    assert.equal(refused.body.error.details.scope, 'key');
    const retryAfter = Number(refused.headers.get('retry-after'));
    assert.ok(retryAfter > 3500 && retryAfter <= 3600, `Retry-After ${retryAfter}`);
  }
}

describe('rate limits shared through PostgreSQL', () => {
  let nodes: [Harness, Harness];
  before(async () => {
    nodes = await startTwoNodes({});
  });
  after(async () => {
    await nodes[1].close();
    await nodes[0].close();
  });

  it('counts one key once across two API nodes', async () => {
    await assertOneLimitAcrossNodes(nodes, nodes[0].keys.reader);
    const { rows } = await nodes[0].runtime.database.pool.query('SELECT key, points FROM rate_limits WHERE key LIKE $1', ['stowage:key:%']);
    assert.deepEqual(
      rows.map((r) => r.points),
      [5],
      "one row counts the key: A's refusal was counted (it moves nothing), B knew its refusal without asking",
    );
  });

  it('counts a 403 (scope missing) against the key and its organisation', async () => {
    const key = await nodes[0].createKey(nodes[0].orgId, ['files:read']);
    for (let i = 0; i < 4; i++) assertError(await summary(nodes[i % 2], key), 403, 'insufficient_scope');
    const spent = await summary(nodes[0], key);
    assertError(spent, 403, 'insufficient_scope', 'the scope is checked first');
    assert.equal(spent.headers.get('ratelimit-remaining'), '0', 'and the key has spent its budget on 403s');
  });

  it('throttles missing and bad keys per client address, before their lookup, on every node', async () => {
    const bad = 'stw_000000000000_' + 'A'.repeat(43);
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await summary(nodes[i % 2], i === 1 ? null : bad, '127.0.0.2')).status);
    // A, B, A, B spend the address's 4 (B sees the shared count reach 4); A learns it is spent from
    // the shared count on its next 401: the limit plus one per other node, then 429 everywhere.
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429]);
    // Even a good key from that address waits: its key is not looked up either.
    for (const node of nodes) {
      const refused = await summary(node, node.keys.writer, '127.0.0.2');
      assertError(refused, 429, 'rate_limited');
      assert.equal(refused.body.error.details.scope, 'ip');
      assert.equal(refused.headers.get('retry-after'), refused.headers.get('ratelimit-reset'));
    }
    // Another address is not concerned.
    assertError(await summary(nodes[1], bad, '127.0.0.3'), 401, 'invalid_api_key');
    assert.equal((await summary(nodes[1], nodes[1].keys.writer, '127.0.0.3')).status, 200);
  });
});

describe('rate limits shared through Redis', async () => {
  const reachable = await redisReachable();
  let nodes: [Harness, Harness];
  before(async () => {
    if (reachable) nodes = await startTwoNodes({ REDIS_URL });
  });
  after(async () => {
    if (!reachable) return;
    // The counters of these tests' keys would otherwise stay in the machine's Redis for the window.
    const redis = new Redis(REDIS_URL);
    const keyIds = await nodes[0].runtime.database.pool.query('SELECT id, org_id FROM api_keys');
    await redis.del(...keyIds.rows.flatMap((r) => [`stowage:key:${r.id}`, `stowage:org:${r.org_id}`]));
    await redis.quit();
    await nodes[1].close();
    await nodes[0].close();
  });

  it('counts one key once across two API nodes', { skip: !reachable && 'Redis is not reachable on 127.0.0.1:6379' }, async () => {
    await assertOneLimitAcrossNodes(nodes, nodes[0].keys.reader);
    const { rows } = await nodes[0].runtime.database.pool.query('SELECT count(*)::int AS n FROM rate_limits');
    assert.equal(rows[0].n, 0, 'nothing was counted in PostgreSQL');
  });
});

describe('rate limits while Redis is unreachable', async () => {
  const reachable = await redisReachable();
  const skip = !reachable && 'Redis is not reachable on 127.0.0.1:6379';

  it('counts in each process meanwhile, logs it, and shares again once Redis is back', { skip }, async () => {
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: 6379 });
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line).msg) });
    const node = await startStowage(LIMITS, { worker: false });
    const config = loadConfig({ ...LIMITS, REDIS_URL: proxy.rewrite(REDIS_URL) });
    const store = await openRateLimitStore(config, node.runtime.database.db, logger);
    const id = `key:test-${Date.now()}-${Math.random()}`;
    const direct = new Redis(REDIS_URL);
    try {
      assert.deepEqual(await store.hit(id, 3), { allowed: true, limit: 3, remaining: 2, resetSeconds: 3600 });
      assert.equal(await direct.get(`stowage:${id}`), '1', 'counted in Redis');
      proxy.refuse();
      proxy.cutAll();
      // Counted in this process from now on: the budget starts afresh, not from what Redis had.
      const meanwhile = [];
      for (let i = 0; i < 4; i++) meanwhile.push(await store.hit(id, 3));
      assert.deepEqual(
        meanwhile.map((d) => [d.allowed, d.remaining]),
        [
          [true, 2],
          [true, 1],
          [true, 0],
          [false, 0],
        ],
        'still limited, per process, while Redis is away',
      );
      assert.equal(await direct.get(`stowage:${id}`), '1', 'nothing reached Redis meanwhile');
      assert.deepEqual(
        warnings,
        ['rate-limit store unreachable: counting in this process only until it answers'],
        'one warning, not one per request',
      );
      proxy.restore();
      await eventually(
        async () => {
          const fresh = `key:test-${Date.now()}-${Math.random()}`;
          await store.hit(fresh, 3);
          return (await direct.get(`stowage:${fresh}`)) === '1' ? true : undefined;
        },
        'Redis counting again',
        10_000,
      );
      await direct.del(`stowage:${id}`);
    } finally {
      await store.close();
      await direct.quit();
      await proxy.close();
      await node.close();
    }
  });

  it('serves the API when Redis is down at start', { skip }, async () => {
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: 6379 });
    proxy.refuse();
    const node = await startStowage({ ...LIMITS, REDIS_URL: proxy.rewrite(REDIS_URL) }, { worker: false });
    try {
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await summary(node, node.keys.reader)).status);
      assert.deepEqual(statuses, [200, 200, 200, 200, 429], 'no 503: the limits hold in this process');
    } finally {
      await node.close();
      await proxy.close();
    }
  });
});
