/**
 * `npm run bench:load`: sustained load against a cluster (issue 13, part 5): many concurrent clients for
 * minutes with a realistic mix, 0 errors, latency per request kind, and every process's memory flat.
 *
 *   npm run bench:load -- [--duration 300] [--warmup 60] [--connections 200]
 *
 * The measured run follows a warm-up of the same load (--warmup seconds, not measured, errors counted).
 *
 * The cluster is test/helpers/cluster.ts's: 2 `stowage serve` + 2 `stowage worker` processes of the built
 * CLI (`npm run build` first) on a scratch database of the machine's PostgreSQL (DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/test), on the s3 driver when S3_TEST_ENDPOINT is set (Ceph RGW,
 * test/helpers/s3.ts), else on the local driver with one data folder shared by every node. Rate limits
 * are off (RATE_LIMIT_ENABLED=false): the run measures the service, not the limiter, and any 429 would
 * be a non-2xx.
 *
 * The load: autocannon, one instance per API node, each with half the connections, every connection
 * cycling through 20 requests: presign 8 (40 %), confirm 4 (20 %), get 3 + list 3 (30 %), download-url
 * 2 (10 %). Each request is answered before the connection sends the next (no pipelining).
 *   presign       POST /api/v1/uploads/presign of a 1 KiB application/octet-stream file.
 *   confirm       POST /api/v1/uploads/confirm of an upload whose bytes are in storage, confirmed once.
 *                 The presigns feed the confirms: a feeder in this process takes presign answers, PUTs
 *                 1 KiB of fresh random bytes to their URLs (at most one PUT per connection at a time, as
 *                 if each client stored its own presign's bytes, and only while fewer than 4 × connections
 *                 are stored or being stored and not yet confirmed) and queues the ids; each
 *                 confirm takes the oldest. The PUTs are not in the measured mix: they are counted and
 *                 timed on a line of their own (they are load on the API nodes, or on S3, all the same).
 *                 4 × connections such uploads are made before the run so that the first confirms
 *                 have some. Should the queue ever be empty, a confirm re-confirms an upload confirmed
 *                 before the run (answered with its existing job) and is counted as starved.
 *   get           GET /api/v1/uploads/{id} of a recent presigned upload.
 *   list          GET /api/v1/uploads?limit=50: the first page, the page at offset 100, or the page
 *                 after a next_cursor another list answered, in turn.
 *   download-url  GET /api/v1/uploads/{id}/download-url of one of 200 uploads confirmed before the run.
 * Latency per kind is autocannon's response time (from writing the request to the end of its answer).
 *
 * Memory: every process's RSS (/proc) every 10 s. "Minute one" is the sample at 60 s (in runs shorter
 * than 2 minutes, at a third of the run); "the end" is the last sample before the load stops. Flat means
 * the end is at most 10 % above minute one (a drop is not a leak). After the load, the confirm jobs still
 * queued or running, and how long the workers take to finish them.
 *
 * Exit code: 0 when both verdicts pass; 1 when one fails or the run is invalid; 2 on a crash.
 */
import autocannon from 'autocannon';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { type Cluster, type ClusterNode, startCluster } from '../test/helpers/cluster.js';
import { errorLines } from '../test/helpers/spawned-server.js';
import { freshBucketName, s3EnvOf, startS3Engine, usingRealS3 } from '../test/helpers/s3.js';
import {
  InvalidRun,
  type Percentiles,
  beforeStartLine,
  buildDist,
  busyCoresBeforeStart,
  fmt,
  machineLine,
  onCleanup,
  percentiles,
  procStat,
  runBenchmark,
  scratchDatabase,
  sleep,
  verdict,
} from './lib.js';

const MACHINE_POSTGRES = 'postgres://postgres@127.0.0.1:5432/test';
const FILE_BYTES = 1024;
const CONTENT_TYPE = 'application/octet-stream';
const CONFIRMED_TARGETS = 200;
const RSS_PERIOD_MS = 10_000;
const RSS_TOLERANCE = 0.1;
const DRAIN_LIMIT_MS = 300_000;
const KINDS = ['presign', 'confirm', 'get', 'list', 'download-url'] as const;
type Kind = (typeof KINDS)[number];
/** One connection's cycle: 8 presign, 4 confirm, 3 get, 3 list, 2 download-url, interleaved. */
const CYCLE: Kind[] = 'P G P C L P D P G C P L P C G P D P L C'
  .split(' ')
  .map((c) => ({ P: 'presign', C: 'confirm', G: 'get', L: 'list', D: 'download-url' })[c] as Kind);

// ---------------------------------------------------------------------------------------------------
// Options

interface Options {
  durationSeconds: number;
  warmupSeconds: number;
  connections: number;
}

function optionsOf(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '300' },
      warmup: { type: 'string', default: '60' },
      connections: { type: 'string', default: '200' },
    },
    strict: true,
  });
  const whole = (name: string, raw: string, min: number, max: number) => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max)
      throw new Error(`--${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
    return value;
  };
  return {
    durationSeconds: whole('duration', values.duration!, 10, 3600),
    warmupSeconds: whole('warmup', values.warmup!, 0, 3600),
    // Even: half the connections on each API node.
    connections: whole('connections', values.connections!, 2, 2000) & ~1,
  };
}

// ---------------------------------------------------------------------------------------------------
// The client side's shared state: what the presigns made, what is ready to confirm

interface Presigned {
  id: string;
  url: string;
  method: string;
  headers: Record<string, string>;
}

/** A fixed-size ring of recent values; `pick` answers one at random. */
class Ring<T> {
  private readonly items: T[] = [];
  private next = 0;
  constructor(private readonly size: number) {}
  add(item: T) {
    if (this.items.length < this.size) this.items.push(item);
    else this.items[this.next] = item;
    this.next = (this.next + 1) % this.size;
  }
  pick(): T | undefined {
    return this.items[Math.floor(Math.random() * this.items.length)];
  }
  get length() {
    return this.items.length;
  }
}

/**
 * Takes presign answers and stores their bytes (PUT to the presigned URL), so confirms confirm uploads
 * whose bytes are there. Works only as far ahead as the confirms need: at most `highWater` uploads
 * stored or being stored and not yet confirmed.
 */
class PutFeeder {
  /** Presigned, bytes not sent: newest last (taken first; older ones are left pending). */
  private readonly waiting: Presigned[] = [];
  /** Bytes stored, not yet confirmed: oldest first. */
  readonly ready: string[] = [];
  private inFlight = 0;
  private running = true;
  private idle: (() => void) | null = null;
  readonly latencies: number[] = [];
  failures = 0;
  readonly failureSamples: string[] = [];
  private readonly agent: http.Agent;

  constructor(
    private readonly concurrency: number,
    private readonly highWater: number,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  }

  offer(p: Presigned) {
    this.waiting.push(p);
    if (this.waiting.length > 2 * this.highWater) this.waiting.splice(0, this.waiting.length - this.highWater);
    this.pump();
  }

  take(): string | undefined {
    const id = this.ready.shift();
    this.pump();
    return id;
  }

  /** Stops taking new work; resolves when the PUTs under way are done. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.inFlight) await new Promise<void>((r) => (this.idle = r));
    this.agent.destroy();
  }

  /** Resolves when `count` uploads are ready (the seeding before the run). */
  async filled(count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.ready.length < count) {
      if (Date.now() > deadline) throw new InvalidRun(`only ${this.ready.length} of ${count} seed uploads stored in ${timeoutMs / 1000} s`);
      if (!this.waiting.length && !this.inFlight) throw new InvalidRun(`ran out of presigned uploads at ${this.ready.length} of ${count}`);
      await sleep(50);
    }
  }

  private pump() {
    while (this.running && this.inFlight < this.concurrency && this.ready.length + this.inFlight < this.highWater && this.waiting.length) {
      const p = this.waiting.pop()!;
      this.inFlight++;
      void this.put(p).finally(() => {
        this.inFlight--;
        if (!this.inFlight && this.idle) this.idle();
        this.pump();
      });
    }
  }

  private async put(p: Presigned): Promise<void> {
    const started = performance.now();
    try {
      const status = await putBytes(p, randomBytes(FILE_BYTES), this.agent);
      if (status >= 200 && status < 300) {
        this.latencies.push(performance.now() - started);
        this.ready.push(p.id);
        return;
      }
      this.fail(`HTTP ${status}`);
    } catch (error) {
      this.fail(String(error));
    }
  }

  private fail(what: string) {
    this.failures++;
    if (this.failureSamples.length < 5) this.failureSamples.push(what);
  }
}

function putBytes(p: Presigned, bytes: Buffer, agent: http.Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      p.url,
      { method: p.method, agent, headers: { ...p.headers, 'content-length': String(bytes.length) }, timeout: 30_000 },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error('PUT timed out after 30 s')));
    request.on('error', reject);
    request.end(bytes);
  });
}

// ---------------------------------------------------------------------------------------------------
// The measured mix

interface KindTally {
  latencies: number[];
  statuses: Map<number, number>;
  /** The first few non-2xx answers, for the report. */
  samples: string[];
}

interface Mix {
  feeder: PutFeeder;
  /** Recent presigned ids: what `get` asks for. */
  recent: Ring<string>;
  /** Confirmed before the run: what `download-url` asks for and a starved confirm re-confirms. */
  confirmed: string[];
  /** next_cursor values list answers carried. */
  cursors: Ring<string>;
  tally: Record<Kind, KindTally>;
  starvedConfirms: number;
  listTurn: number;
  /** Set by each answer's onResponse, read by the instance's 'response' event that follows at once. */
  lastKind: Kind | null;
  lastBody: string;
}

function newMix(feeder: PutFeeder, confirmed: string[]): Mix {
  return {
    feeder,
    recent: new Ring(5000),
    confirmed,
    cursors: new Ring(500),
    tally: Object.fromEntries(KINDS.map((k) => [k, { latencies: [], statuses: new Map(), samples: [] }])) as unknown as Record<
      Kind,
      KindTally
    >,
    starvedConfirms: 0,
    listTurn: 0,
    lastKind: null,
    lastBody: '',
  };
}

const pick = <T>(items: T[]) => items[Math.floor(Math.random() * items.length)];

let presignCount = 0;

/** The autocannon request of one kind: its setup (a fresh target each time) and what its answer feeds. */
function requestOf(kind: Kind, mix: Mix, key: string): autocannon.Request {
  const headers = { 'x-api-key': key, 'content-type': 'application/json' };
  const answered = (status: number, body: string) => {
    mix.lastKind = kind;
    mix.lastBody = status >= 200 && status < 300 ? '' : body;
  };
  const get = (path: string) => ({ method: 'GET' as const, path, headers: { 'x-api-key': key } });
  switch (kind) {
    case 'presign':
      return {
        method: 'POST',
        path: '/api/v1/uploads/presign',
        headers,
        setupRequest: (request) => ({
          ...request,
          body: JSON.stringify({ name: `load-${++presignCount}.bin`, content_type: CONTENT_TYPE, size_bytes: FILE_BYTES }),
        }),
        onResponse: (status, body) => {
          answered(status, body);
          if (status !== 200) return;
          const p = JSON.parse(body) as {
            data_source_id: string;
            url: string | null;
            method: string | null;
            headers: Record<string, string> | null;
          };
          mix.recent.add(p.data_source_id);
          if (p.url) mix.feeder.offer({ id: p.data_source_id, url: p.url, method: p.method ?? 'PUT', headers: p.headers ?? {} });
        },
      };
    case 'confirm':
      return {
        method: 'POST',
        path: '/api/v1/uploads/confirm',
        headers,
        setupRequest: (request) => {
          let id = mix.feeder.take();
          if (!id) {
            mix.starvedConfirms++;
            id = pick(mix.confirmed);
          }
          return { ...request, body: JSON.stringify({ data_source_id: id }) };
        },
        onResponse: answered,
      };
    case 'get':
      return {
        ...get('/'),
        setupRequest: (request) => ({ ...request, path: `/api/v1/uploads/${mix.recent.pick() ?? pick(mix.confirmed)}` }),
        onResponse: answered,
      };
    case 'list':
      return {
        ...get('/'),
        setupRequest: (request) => {
          const turn = mix.listTurn++ % 3;
          const cursor = turn === 2 ? mix.cursors.pick() : undefined;
          const query = turn === 1 ? '&offset=100' : cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
          return { ...request, path: `/api/v1/uploads?limit=50${query}` };
        },
        onResponse: (status, body) => {
          answered(status, body);
          if (status !== 200) return;
          const next = (JSON.parse(body) as { next_cursor?: string | null }).next_cursor;
          if (next) mix.cursors.add(next);
        },
      };
    case 'download-url':
      return {
        ...get('/'),
        setupRequest: (request) => ({ ...request, path: `/api/v1/uploads/${pick(mix.confirmed)}/download-url` }),
        onResponse: answered,
      };
  }
}

/** One autocannon instance against one API node; resolves with its result. */
function loadNode(node: ClusterNode, connections: number, durationSeconds: number, mix: Mix, key: string): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: node.server.url,
        connections,
        duration: durationSeconds,
        pipelining: 1,
        timeout: 10,
        requests: CYCLE.map((kind) => requestOf(kind, mix, key)),
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      const kind = mix.lastKind;
      if (!kind) return;
      mix.lastKind = null;
      const tally = mix.tally[kind];
      tally.latencies.push(responseTime);
      tally.statuses.set(statusCode, (tally.statuses.get(statusCode) ?? 0) + 1);
      if ((statusCode < 200 || statusCode >= 300) && tally.samples.length < 5)
        tally.samples.push(`${statusCode} ${mix.lastBody.slice(0, 300)}`);
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// Before the run: uploads to confirm and uploads confirmed

async function api(node: ClusterNode, key: string, method: string, route: string, body?: unknown): Promise<unknown> {
  const answer = await fetch(new URL(route, node.server.url), {
    method,
    headers: { 'x-api-key': key, ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await answer.text();
  if (answer.status !== 200) throw new InvalidRun(`${method} ${route} on ${node.name} answered ${answer.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** `count` presigned uploads in batches of 100, alternating API nodes, handed to the feeder to store. */
async function presignSeed(cluster: Cluster, key: string, count: number, feeder: PutFeeder, prefix: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 100) {
    const n = Math.min(100, count - i);
    const files = Array.from({ length: n }, (_, j) => ({
      name: `${prefix}-${i + j}.bin`,
      content_type: CONTENT_TYPE,
      size_bytes: FILE_BYTES,
    }));
    const node = cluster.apis[(i / 100) % cluster.apis.length];
    const { files: answers } = (await api(node, key, 'POST', '/api/v1/uploads/presign/batch', { files })) as {
      files: { data_source_id: string; url: string; method: string; headers: Record<string, string> | null }[];
    };
    for (const a of answers) {
      ids.push(a.data_source_id);
      feeder.offer({ id: a.data_source_id, url: a.url, method: a.method, headers: a.headers ?? {} });
    }
  }
  return ids;
}

// ---------------------------------------------------------------------------------------------------
// Reporting

const mib = (bytes: number) => `${fmt(bytes / 1024 ** 2, 1)} MiB`;
const ms = (v: number) => (Number.isFinite(v) ? `${fmt(v, v < 10 ? 1 : 0)}` : 'n/a');
const loadLine = () =>
  os
    .loadavg()
    .map((l) => fmt(l, 2))
    .join(' ');

function latencyRow(name: string, p: Percentiles, count: number, seconds: number, non2xx: number): string {
  return `  ${name.padEnd(13)} ${String(count).padStart(8)} ${fmt(count / seconds, 1).padStart(8)} ${ms(p.p50).padStart(7)} ${ms(p.p90).padStart(7)} ${ms(p.p99).padStart(7)} ${ms(p.max).padStart(7)} ${String(non2xx).padStart(7)}`;
}

// ---------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  const options = optionsOf(process.argv.slice(2));
  const { durationSeconds, connections } = options;
  const perNode = connections / 2;

  console.log('Stowage load benchmark (2 serve + 2 worker, sustained mixed load)');
  console.log(machineLine());
  console.log(`  build       : ${buildDist()}`);
  console.log(beforeStartLine(await busyCoresBeforeStart()));
  console.log(`  load average: ${loadLine()} (1, 5, 15 min) at start`);

  // --- database, storage, cluster
  const server = process.env.DATABASE_URL?.trim() || MACHINE_POSTGRES;
  const { name: dbName, url: dbUrl } = await scratchDatabase(server);
  console.log(`  PostgreSQL  : ${new URL(dbUrl).host}, scratch database ${dbName}`);
  const work = await mkdtemp(path.join(os.tmpdir(), 'stowage-bench-load-'));
  onCleanup('remove the temporary folder', () => rm(work, { recursive: true, force: true }));
  let storageEnv: Record<string, string>;
  let sharedDataDir: string | undefined;
  if (usingRealS3()) {
    const engine = await startS3Engine();
    onCleanup('close the S3 engine', () => engine.close());
    const bucket = freshBucketName();
    storageEnv = s3EnvOf(engine.settings(bucket));
    console.log(`  storage     : s3 driver, ${process.env.S3_TEST_ENDPOINT} bucket ${bucket}`);
  } else {
    storageEnv = { STORAGE_DRIVER: 'local' };
    sharedDataDir = path.join(work, 'data');
    console.log(`  storage     : local driver, one data folder shared by every node (${sharedDataDir})`);
  }
  const clusterStarted = performance.now();
  const cluster = await startCluster({
    databaseUrl: dbUrl,
    storageEnv,
    dataDirPrefix: path.join(work, 'node'),
    sharedDataDir,
    serve: 2,
    worker: 2,
    env: { RATE_LIMIT_ENABLED: 'false' },
  });
  onCleanup('stop the cluster', () => cluster.stop());
  const nodes = [...cluster.apis, ...cluster.workers];
  console.log(
    `  cluster     : ${nodes.map((n) => `${n.name} pid ${n.server.child.pid}${n.server.url ? ` ${n.server.url}` : ''}`).join(', ')}; started in ${fmt((performance.now() - clusterStarted) / 1000, 1)} s`,
  );
  console.log('  rate limits : off (RATE_LIMIT_ENABLED=false on every node)');
  const db = new pg.Pool({ connectionString: dbUrl, max: 2 });
  db.on('error', () => {});
  onCleanup('close the database pool', () => db.end());
  const key = cluster.adminKey;

  // --- seeding: uploads confirmed (download-url targets), then uploads stored and waiting to be confirmed
  const seedStarted = performance.now();
  const putConcurrency = connections;
  const readyPool = 4 * connections;
  const seeder = new PutFeeder(putConcurrency, CONFIRMED_TARGETS);
  const confirmedIds = await presignSeed(cluster, key, CONFIRMED_TARGETS, seeder, 'seed-confirmed');
  await seeder.filled(CONFIRMED_TARGETS, 120_000);
  await seeder.stop();
  for (const [i, id] of confirmedIds.entries())
    await api(cluster.apis[i % 2], key, 'POST', '/api/v1/uploads/confirm', { data_source_id: id });
  for (const until = Date.now() + 120_000; ;) {
    const { rows } = await db.query<{ n: string }>(
      `SELECT count(*) AS n FROM uploads WHERE id = ANY($1::uuid[]) AND status = 'confirmed'`,
      [confirmedIds],
    );
    if (Number(rows[0].n) === confirmedIds.length) break;
    if (Date.now() > until) throw new InvalidRun(`only ${rows[0].n} of ${confirmedIds.length} seed uploads confirmed in 120 s`);
    await sleep(250);
  }
  const feeder = new PutFeeder(putConcurrency, readyPool);
  await presignSeed(cluster, key, readyPool, feeder, 'seed-pending');
  await feeder.filled(readyPool, 120_000);
  const seedPuts = seeder.latencies.length + feeder.latencies.length;
  feeder.latencies.length = 0;
  console.log(
    `  seed        : ${CONFIRMED_TARGETS} uploads confirmed, ${readyPool} stored and waiting to be confirmed (${seedPuts} PUTs of ${FILE_BYTES} B) in ${fmt((performance.now() - seedStarted) / 1000, 1)} s`,
  );
  console.log(
    `  load        : ${connections} connections (${perNode} per API node) for ${durationSeconds} s; per connection a cycle of ${CYCLE.length}: ` +
      KINDS.map((k) => `${k} ${(CYCLE.filter((c) => c === k).length / CYCLE.length) * 100} %`).join(', '),
  );
  console.log(
    `  confirms    : of uploads stored by a PUT feeder fed by the presigns (≤ ${putConcurrency} PUTs at a time, ≤ ${readyPool} ahead)`,
  );
  console.log('');

  // --- warm-up: the same load, not measured. Under load each process's V8 young generation grows from
  // 1 MiB to its working size, pools fill and code is optimised; measured from a cold start, minute one
  // holds that growth (api-1 164 → 257 MiB within 90 s, then flat) and hides a leak as well as it fakes one.
  let warmupErrors = 0;
  if (options.warmupSeconds > 0) {
    const idle = await cluster.rss();
    const warm = await Promise.all(
      cluster.apis.map((node) => loadNode(node, perNode, options.warmupSeconds, newMix(feeder, confirmedIds), key)),
    );
    warmupErrors = warm.reduce((sum, r) => sum + r.errors + r.non2xx, 0);
    const after = await cluster.rss();
    console.log(
      `  warm-up     : ${options.warmupSeconds} s of the same load, not measured; errors ${warmupErrors}; RSS ${nodes.map((n) => `${n.name} ${mib(idle[n.name] ?? NaN)} → ${mib(after[n.name] ?? NaN)}`).join(', ')}`,
    );
  }

  // --- the run, with RSS every 10 s
  const mix = newMix(feeder, confirmedIds);
  const samples: { at: number; rss: Record<string, number> }[] = [];
  const cpuBefore = new Map(nodes.map((n) => [n.name, procStat(n.server.child.pid!)?.own ?? NaN]));
  const started = performance.now();
  const sampler = setInterval(() => {
    const at = (performance.now() - started) / 1000;
    void cluster.rss().then((rss) => {
      samples.push({ at, rss });
      const requests = KINDS.reduce((sum, k) => sum + mix.tally[k].latencies.length, 0);
      console.log(
        `  t=${fmt(at, 0).padStart(4)} s  ${String(requests).padStart(8)} answers  ready ${String(feeder.ready.length).padStart(5)}  RSS ${nodes.map((n) => `${n.name} ${mib(rss[n.name] ?? NaN)}`).join(', ')}`,
      );
    });
  }, RSS_PERIOD_MS);
  const results = await Promise.all(cluster.apis.map((node) => loadNode(node, perNode, durationSeconds, mix, key)));
  const loadSeconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const endRss = await cluster.rss();
  samples.push({ at: loadSeconds, rss: endRss });
  const cpuAfter = new Map(nodes.map((n) => [n.name, procStat(n.server.child.pid!)?.own ?? NaN]));
  const loadAtEnd = loadLine();
  await feeder.stop();

  // --- the confirm backlog the load left, and how long the workers take to drain it
  const backlogQuery = `SELECT count(*) FILTER (WHERE status = 'queued') AS queued, count(*) FILTER (WHERE status = 'running') AS running
                          FROM jobs WHERE kind = 'confirm'`;
  const { rows: backlogRows } = await db.query<{ queued: string; running: string }>(backlogQuery);
  const backlog = { queued: Number(backlogRows[0].queued), running: Number(backlogRows[0].running) };
  const drainStarted = performance.now();
  let left = backlog.queued + backlog.running;
  let reported = drainStarted;
  while (left > 0 && performance.now() - drainStarted < DRAIN_LIMIT_MS) {
    await sleep(250);
    const { rows } = await db.query<{ queued: string; running: string }>(backlogQuery);
    left = Number(rows[0].queued) + Number(rows[0].running);
    if (performance.now() - reported > 30_000) {
      reported = performance.now();
      console.log(`  draining: ${left} confirm jobs left after ${fmt((reported - drainStarted) / 1000, 0)} s`);
    }
  }
  const drained = left === 0;
  const drainSeconds = (performance.now() - drainStarted) / 1000;
  const drainRate = (backlog.queued + backlog.running - left) / drainSeconds;
  const { rows: jobRows } = await db.query<{ status: string; n: string }>(
    `SELECT status, count(*) AS n FROM jobs WHERE kind = 'confirm' GROUP BY 1 ORDER BY 1`,
  );
  // From the confirm's transaction to the worker's verdict, for the jobs the load made (not the seed's).
  const { rows: jobTimes } = await db.query<{ p50: number | null; p99: number | null; max: number | null }>(
    `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY t) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY t) AS p99, max(t) AS max
       FROM (SELECT extract(epoch FROM finished_at - created_at) * 1000 AS t FROM jobs
              WHERE kind = 'confirm' AND finished_at IS NOT NULL AND NOT (subject_id = ANY($1::uuid[]))) j`,
    [confirmedIds],
  );
  const { rows: failedRows } = await db.query<{ reason: string; n: string }>(
    `SELECT coalesce(failure_reason, '?') AS reason, count(*) AS n FROM uploads WHERE status = 'failed' GROUP BY 1 ORDER BY 2 DESC LIMIT 5`,
  );

  // --- report: requests
  const socketErrors = results.reduce((sum, r) => sum + r.errors, 0);
  const timeouts = results.reduce((sum, r) => sum + r.timeouts, 0);
  const non2xx = results.reduce((sum, r) => sum + r.non2xx, 0);
  const answers = results.reduce((sum, r) => sum + r['1xx'] + r['2xx'] + r['3xx'] + r['4xx'] + r['5xx'], 0);
  const all: number[] = [];
  console.log('');
  console.log(`Requests over ${fmt(loadSeconds, 1)} s (latency in ms, from autocannon's response times)`);
  console.log(
    `  ${'kind'.padEnd(13)} ${'answers'.padStart(8)} ${'req/s'.padStart(8)} ${'p50'.padStart(7)} ${'p90'.padStart(7)} ${'p99'.padStart(7)} ${'max'.padStart(7)} ${'non-2xx'.padStart(7)}`,
  );
  for (const kind of KINDS) {
    const tally = mix.tally[kind];
    for (const v of tally.latencies) all.push(v);
    const bad = [...tally.statuses].filter(([s]) => s < 200 || s >= 300).reduce((sum, [, n]) => sum + n, 0);
    console.log(latencyRow(kind, percentiles(tally.latencies), tally.latencies.length, loadSeconds, bad));
  }
  console.log(latencyRow('all', percentiles(all), all.length, loadSeconds, non2xx));
  for (const [i, r] of results.entries())
    console.log(
      `  ${cluster.apis[i].name}: ${r.requests.total} answers, ${fmt(r.requests.average, 0)} req/s mean; autocannon (2xx only) p50 ${r.latency.p50} p90 ${r.latency.p90} p99 ${r.latency.p99} max ${r.latency.max} ms`,
    );
  for (const kind of KINDS) for (const s of mix.tally[kind].samples) console.log(`  non-2xx ${kind}: ${s}`);
  if (answers !== all.length) console.log(`  note: autocannon counted ${answers} answers, the per-kind tally ${all.length}`);
  const puts = percentiles(feeder.latencies);
  console.log(
    `  PUT (not in the mix): ${puts.count} of 1 KiB, ${fmt(puts.count / loadSeconds, 1)}/s, p50 ${ms(puts.p50)} p99 ${ms(puts.p99)} max ${ms(puts.max)} ms, ${feeder.failures} failed${feeder.failureSamples.length ? ` (${feeder.failureSamples.join('; ')})` : ''}`,
  );
  console.log(`  confirms starved (no stored upload ready, re-confirmed a confirmed one): ${mix.starvedConfirms}`);
  console.log(`  socket errors ${socketErrors} (timeouts ${timeouts}), non-2xx ${non2xx}`);

  // --- report: confirm jobs
  console.log('');
  console.log('Confirm jobs');
  console.log(`  at the end of the load: ${backlog.queued} queued, ${backlog.running} running`);
  console.log(
    `  drained     : ${drained ? `in ${fmt(drainSeconds, 1)} s` : `NOT within ${DRAIN_LIMIT_MS / 1000} s: ${left} left, at that rate ${fmt(left / drainRate, 0)} s more`} (${fmt(drainRate, 1)} jobs/s with no load)`,
  );
  console.log(
    `  queued → done: p50 ${ms(Number(jobTimes[0].p50))} p99 ${ms(Number(jobTimes[0].p99))} max ${ms(Number(jobTimes[0].max))} ms (jobs.created_at to finished_at, the load's jobs)`,
  );
  console.log(`  jobs        : ${jobRows.map((r) => `${r.status} ${r.n}`).join(', ')}`);
  if (failedRows.length) console.log(`  failed uploads: ${failedRows.map((r) => `${r.reason} ×${r.n}`).join(', ')}`);
  const failedJobs = Number(jobRows.find((r) => r.status === 'failed')?.n ?? 0);

  // --- report: memory and CPU
  // A V8 heap grows and is collected in cycles of tens of seconds, so one sample lands anywhere in a cycle:
  // minute one and the last minute are compared by their mean RSS (6 samples each), not by two samples.
  const windowSeconds = Math.min(60, Math.max(10, Math.round(durationSeconds / 3)));
  const meanOver = (name: string, from: number, to: number) => {
    const inWindow = samples.filter((s) => s.at > from && s.at <= to + 1).map((s) => s.rss[name] ?? NaN);
    return inWindow.length ? inWindow.reduce((a, b) => a + b, 0) / inWindow.length : NaN;
  };
  console.log('');
  console.log(
    `Memory (RSS sampled every ${RSS_PERIOD_MS / 1000} s; mean of the first ${windowSeconds} s → mean of the last ${windowSeconds} s of ${fmt(loadSeconds, 0)} s)`,
  );
  let flat = loadSeconds >= 2 * windowSeconds;
  for (const n of nodes) {
    const first = meanOver(n.name, 0, windowSeconds);
    const last = meanOver(n.name, loadSeconds - windowSeconds, loadSeconds);
    const series = samples.map((s) => s.rss[n.name] ?? NaN);
    const change = (last - first) / first;
    const ok = Number.isFinite(change) && change <= RSS_TOLERANCE;
    flat &&= ok;
    const cores = (cpuAfter.get(n.name)! - cpuBefore.get(n.name)!) / loadSeconds;
    console.log(
      `  ${n.name.padEnd(9)} ${mib(first).padStart(10)} → ${mib(last).padStart(10)}  ${change >= 0 ? '+' : ''}${fmt(change * 100, 1)} %  (min ${mib(Math.min(...series))}, max ${mib(Math.max(...series))}, at the end ${mib(endRss[n.name] ?? NaN)}; ${fmt(cores, 2)} cores)  ${verdict(ok)}`,
    );
  }
  // One sample per process per 10 s catches a V8 heap anywhere in its grow-then-collect cycle: the peak of
  // each minute says whether the cycles climb (a leak) or repeat (a heap that settled).
  const minutes = Math.ceil(loadSeconds / 60);
  for (const n of nodes) {
    const peaks = Array.from({ length: minutes }, (_, m) =>
      Math.max(...samples.filter((s) => s.at > m * 60 && s.at <= (m + 1) * 60 + 1).map((s) => s.rss[n.name] ?? NaN)),
    );
    console.log(`  ${n.name.padEnd(9)} peak by minute: ${peaks.map((p) => fmt(p / 1024 ** 2, 0)).join(', ')} MiB`);
  }
  console.log(`  load average: ${loadAtEnd} (1, 5, 15 min) at the end of the load`);

  // --- what the processes logged at error level
  const logged = nodes.flatMap((n) => errorLines(n.server.logs).map((line) => ({ node: n.name, line })));
  if (logged.length) {
    console.log('');
    console.log(`Error-level log lines: ${logged.length}`);
    for (const { node, line } of logged.slice(0, 10)) console.log(`  ${node}: ${JSON.stringify(line).slice(0, 400)}`);
  }
  const exited = nodes.filter((n) => n.server.child.exitCode !== null || n.server.child.signalCode !== null);
  if (exited.length) console.log(`  processes that exited during the run: ${exited.map((n) => n.name).join(', ')}`);

  // --- verdicts
  const errorsOk = socketErrors === 0 && non2xx === 0 && warmupErrors === 0 && feeder.failures === 0 && exited.length === 0;
  const confirmsOk = failedJobs === 0 && drained && mix.starvedConfirms === 0;
  console.log('');
  console.log(
    `Verdict: 0 errors (non-2xx ${non2xx}, socket errors ${socketErrors}, in the warm-up ${warmupErrors}, PUTs failed ${feeder.failures}, processes exited ${exited.length}): ${verdict(errorsOk)}`,
  );
  console.log(`Verdict: RSS of the last minute within ${RSS_TOLERANCE * 100} % of minute one, every process: ${verdict(flat)}`);
  console.log(
    `Verdict: every confirm a real one that succeeded (failed jobs ${failedJobs}, starved ${mix.starvedConfirms}, drained ${drained}): ${verdict(confirmsOk)}`,
  );
  if (windowSeconds < 60)
    console.log(`  note: a ${durationSeconds} s run has no minute one; its first and last ${windowSeconds} s are compared`);
  return errorsOk && flat && confirmsOk ? 0 : 1;
}

await runBenchmark(main);
