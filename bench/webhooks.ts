/**
 * `npm run bench:webhooks`: webhook deliveries from the outbox to a local receiver (issue 12).
 *
 *   node --import tsx bench/webhooks.ts
 *
 * The service runs as users run it: `node dist/cli.js start` (API and worker in one process, built
 * first with `npm run build`), on a scratch database, with STOWAGE_WEBHOOK_ALLOW_PRIVATE=true so a
 * 127.0.0.1 receiver is allowed. The receiver is a child process of its own (this file, run with
 * --receiver): a bare node:http server that reads each request, checks its signature with
 * standardwebhooks' verifier (every request), answers 200 (or 503 while it plays down) and keeps what
 * it saw; this process reads that back from its control route (a long poll), so the client, the
 * service and the receiver each have their own event loop. One endpoint listens to upload.confirmed
 * and upload.failed; the events are made either through the API or in SQL (the outbox triggers of
 * migration 0015 write an event and its delivery in the transaction of any change to an upload).
 * Times are wall-clock (performance.timeOrigin + now) in both processes of this one machine.
 *
 * 1. Latency, queue idle: BENCH_LATENCY_EVENTS events one at a time (after 5 unmeasured), each waited
 *    for before the next, in two series: an SQL UPDATE confirming a pending upload (its own
 *    transaction; measured from the commit's answer) and a streamed upload through the API
 *    (POST /api/v1/uploads, confirmed in the request; measured from the answer). Until the receiver
 *    has the request. Split by the delivery row's last_attempt_at (when the dispatcher's claim began).
 *    Target: p50 < 1 s.
 * 2. Throughput: BENCH_EVENTS pending uploads inserted in SQL, then confirmed by one UPDATE (the
 *    trigger writes every event and delivery in that statement); from its commit until the receiver
 *    has them all. Targets: ≥ 500 deliveries/s, 0 lost (every event id received), 0 duplicated
 *    webhook-ids (the receiver always answers 200), every signature verified, and the deliveries table
 *    saying they all succeeded.
 * 3. Receiver down, then back: the service restarted with STOWAGE_WEBHOOK_RETRY_SCHEDULE=0,1,1,2,2,5
 *    (six attempts over ~11 s); the receiver answers 503 for BENCH_DOWN_SECONDS after
 *    BENCH_OUTAGE_EVENTS uploads are confirmed in one UPDATE, and one more upload is confirmed and then
 *    failed (two events of one subject), then 200. Targets: every event received with a 200 (0 lost,
 *    none dead-lettered), 0 duplicates, and the subject's two events carrying sequences 1 and 2.
 *
 * Environment:
 *   BENCH_LATENCY_EVENTS   measured events per latency series (default 100)
 *   BENCH_EVENTS           events of the throughput run (default 10000)
 *   BENCH_OUTAGE_EVENTS    events made while the receiver is down (default 200)
 *   BENCH_DOWN_SECONDS     how long the receiver answers 503 (default 4; the schedule gives up after ~11 s)
 *   BENCH_MAX_BUSY_CORES   the most cores others may keep busy before the start (default 1.0): the run
 *                          waits up to 60 s for the machine to be that quiet, else it is invalid
 *   DATABASE_URL           a PostgreSQL server to use (a scratch database is created and dropped on it);
 *                          unset: an embedded server is started in a temporary folder and stopped at the end
 *
 * Exit code: 0 when every target passes; 1 when one fails or the run is invalid; 2 on a crash.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { freshDatabase } from '../test/helpers/harness.js';
import {
  DIST_CLI,
  InvalidRun,
  type ServerChild,
  beforeStartLine,
  buildDist,
  busyCoresBeforeStart,
  envInt,
  fmt,
  machineBusySeconds,
  machineLine,
  onCleanup,
  percentiles,
  postgresForService,
  procStat,
  runBenchmark,
  sleep,
  startServerChild,
  stopChild,
  verdict,
} from './lib.js';

const TARGET_P50_MS = 1000;
const TARGET_RATE = 500;
const WARMUP = 5;
const EVENTS = ['upload.confirmed', 'upload.failed'];
const SHORT_SCHEDULE = '0,1,1,2,2,5';
const RECEIVER_FLAG = '--receiver';
const thisFile = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(thisFile), '..');

/** Wall-clock milliseconds with a fraction, comparable between this machine's processes. */
const clock = () => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------------------------------------------
// Child mode: the receiver

/** One request the receiver took. */
interface Arrival {
  /** webhook-id */
  id: string;
  type: string;
  /** data.upload_id */
  subject: string;
  sequence: number | null;
  /** When its body had been read (clock()). */
  at: number;
  /** standardwebhooks' verify passed with the endpoint's secret. */
  verified: boolean;
  /** What the receiver answered. */
  status: number;
}

/**
 * POST /hook: a delivery, verified and kept; answered 200, or 503 while `down`.
 * POST /control {secret?, down?}: sets what it checks with and how it answers.
 * GET /control?after=N&wait_ms=M: the arrivals from the N-th on, as soon as there is one (or after M ms).
 */
function serveReceiver(): void {
  const arrivals: Arrival[] = [];
  const waiting = new Set<() => void>();
  let verifier: Webhook | null = null;
  let down = false;

  const readBody = (request: http.IncomingMessage) =>
    new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      request.on('error', reject);
    });

  const server = http.createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://receiver');
    const raw = await readBody(request);
    const at = clock();
    if (url.pathname === '/hook') {
      const headers = {
        'webhook-id': String(request.headers['webhook-id'] ?? ''),
        'webhook-timestamp': String(request.headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(request.headers['webhook-signature'] ?? ''),
      };
      let verified = false;
      try {
        verifier?.verify(raw, headers);
        verified = verifier !== null;
      } catch {
        verified = false;
      }
      let body: { type?: string; data?: { upload_id?: string; sequence?: number } } = {};
      try {
        body = JSON.parse(raw);
      } catch {
        // kept as unreadable: no type, no subject
      }
      const status = down ? 503 : 200;
      arrivals.push({
        id: headers['webhook-id'],
        type: body.type ?? '',
        subject: body.data?.upload_id ?? '',
        sequence: typeof body.data?.sequence === 'number' ? body.data.sequence : null,
        at,
        verified,
        status,
      });
      for (const wake of waiting) wake();
      waiting.clear();
      response.writeHead(status).end();
      return;
    }
    if (url.pathname === '/control' && request.method === 'POST') {
      const change = JSON.parse(raw || '{}') as { secret?: string; down?: boolean };
      if (change.secret !== undefined) verifier = new Webhook(change.secret);
      if (change.down !== undefined) down = change.down;
      response.writeHead(204).end();
      return;
    }
    if (url.pathname === '/control' && request.method === 'GET') {
      const after = Number(url.searchParams.get('after') ?? 0);
      const waitMs = Number(url.searchParams.get('wait_ms') ?? 0);
      if (arrivals.length <= after && waitMs > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, waitMs);
          waiting.add(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(arrivals.slice(after)));
      return;
    }
    response.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1', () => console.log(`LISTENING ${(server.address() as { port: number }).port}`));
}

// ---------------------------------------------------------------------------------------------------
// Parent: what the receiver saw

class ReceiverView {
  readonly arrivals: Arrival[] = [];
  private readonly bySubject = new Map<string, Arrival[]>();
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  constructor(readonly child: ServerChild) {}

  get hookUrl(): string {
    return `${this.child.url}/hook`;
  }

  async control(change: { secret?: string; down?: boolean }): Promise<void> {
    const answer = await this.request('POST', '/control', JSON.stringify(change));
    if (answer.status !== 204) throw new InvalidRun(`the receiver's control answered ${answer.status}`);
  }

  /** Fetches what arrived since the last pull, waiting up to `waitMs` for something new. */
  async pull(waitMs: number): Promise<Arrival[]> {
    const answer = await this.request('GET', `/control?after=${this.arrivals.length}&wait_ms=${waitMs}`);
    const fresh = JSON.parse(answer.body) as Arrival[];
    for (const arrival of fresh) {
      this.arrivals.push(arrival);
      const list = this.bySubject.get(arrival.subject);
      if (list) list.push(arrival);
      else this.bySubject.set(arrival.subject, [arrival]);
    }
    return fresh;
  }

  of(subject: string): Arrival[] {
    return this.bySubject.get(subject) ?? [];
  }

  /** The first 200-answered arrival about `subject`, waited for. */
  async delivered(subject: string, timeoutMs: number): Promise<Arrival> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.of(subject).find((a) => a.status === 200);
      if (found) return found;
      if (Date.now() > deadline) throw new InvalidRun(`no delivery about ${subject} within ${timeoutMs / 1000} s`);
      await this.pull(Math.min(1000, Math.max(1, deadline - Date.now())));
    }
  }

  close(): void {
    this.agent.destroy();
  }

  private request(method: string, route: string, body?: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const request = http.request(`${this.child.url}${route}`, { method, agent: this.agent }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (d: string) => (text += d));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
        response.on('error', reject);
      });
      request.on('error', reject);
      request.end(body);
    });
  }
}

// ---------------------------------------------------------------------------------------------------
// Parent: the service and its database

interface Service {
  child: ServerChild;
  /** Stops it (SIGTERM) and starts it again with `env` added. */
  restart(env: Record<string, string>): Promise<void>;
}

async function startService(baseEnv: Record<string, string>): Promise<Service> {
  const start = (env: Record<string, string>) =>
    startServerChild('Stowage', [DIST_CLI, 'start'], { ...baseEnv, ...env }, /Stowage is serving at (\S+)/, (u) => u);
  const service: Service = {
    child: await start({}),
    async restart(env) {
      await stopChild(service.child.proc);
      service.child = await start(env);
    },
  };
  return service;
}

/** A service setting as this environment passes it on to the service (startServerChild gives it ours), else its default. */
const setting = (name: string, fallback: string) => process.env[name]?.trim() || `${fallback} (default)`;

/** CPU seconds so far of the machine, the service, the receiver and this process. */
function cpuNow(service: Service, receiver: ReceiverView) {
  const seconds = (pid: number | undefined) => {
    const stat = pid ? procStat(pid) : null;
    return stat ? stat.own + stat.children : NaN;
  };
  const self = process.cpuUsage();
  return {
    at: clock(),
    machine: machineBusySeconds(),
    service: seconds(service.child.proc.pid),
    receiver: seconds(receiver.child.proc.pid),
    bench: (self.user + self.system) / 1e6,
  };
}

function cpuLine(before: ReturnType<typeof cpuNow>, after: ReturnType<typeof cpuNow>): string {
  const s = (after.at - before.at) / 1000;
  const cores = (k: 'machine' | 'service' | 'receiver' | 'bench') => (after[k] - before[k]) / s;
  const rest = cores('machine') - cores('service') - cores('receiver') - cores('bench');
  return `machine ${fmt(cores('machine'), 2)} busy = service ${fmt(cores('service'), 2)} + receiver ${fmt(cores('receiver'), 2)} + this client ${fmt(cores('bench'), 2)} + PostgreSQL and others ${fmt(rest, 2)}`;
}

/** Whole milliseconds; `+ 0` turns the -0 of a tiny negative into 0. */
const ms = (v: number) => `${fmt(Math.round(v) + 0, 0)} ms`;
const latencyLine = (values: number[]) => {
  const p = percentiles(values);
  return `p50 ${ms(p.p50)}, p90 ${ms(p.p90)}, p99 ${ms(p.p99)}, max ${ms(p.max)} (mean ${ms(p.mean)}, n ${p.count})`;
};

/** "4×120, 5×82": how many arrivals of each count. */
function histogram(counts: Iterable<number>): string {
  const tally = new Map<number, number>();
  for (const c of counts) tally.set(c, (tally.get(c) ?? 0) + 1);
  return (
    [...tally.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([value, n]) => `${value}×${n}`)
      .join(', ') || 'none'
  );
}

// ---------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  const latencyEvents = envInt('BENCH_LATENCY_EVENTS', 100, 5, 10_000);
  const events = envInt('BENCH_EVENTS', 10_000, 100, 1_000_000);
  const outageEvents = envInt('BENCH_OUTAGE_EVENTS', 200, 1, 100_000);
  const downSeconds = envInt('BENCH_DOWN_SECONDS', 4, 1, 60);
  const maxBusy = Number(process.env.BENCH_MAX_BUSY_CORES?.trim() || 1);
  if (!(maxBusy > 0)) throw new Error(`BENCH_MAX_BUSY_CORES must be a positive number, got "${process.env.BENCH_MAX_BUSY_CORES}"`);

  console.log('Stowage webhooks benchmark (outbox → signed delivery at a local receiver)');
  console.log(machineLine());
  // Before the idle check, so the build's own CPU does not count as someone else's.
  console.log(`  build       : ${buildDist()}`);
  let busyBefore = await busyCoresBeforeStart();
  for (const until = Date.now() + 60_000; busyBefore > maxBusy && Date.now() < until;) busyBefore = await busyCoresBeforeStart();
  console.log(beforeStartLine(busyBefore));
  if (busyBefore > maxBusy)
    throw new InvalidRun(
      `${fmt(busyBefore, 2)} of ${os.cpus().length} cores were busy before the start for 60 s (BENCH_MAX_BUSY_CORES ${maxBusy}): the figures would be others' load`,
    );

  // --- the database, the service and the receiver
  await postgresForService();
  const database = await freshDatabase();
  onCleanup('drop the scratch database', () => database.drop());
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'stowage-bench-webhooks-'));
  onCleanup('remove the data folder', () => rm(dataDir, { recursive: true, force: true }));
  const baseEnv = {
    DATABASE_URL: database.url,
    STOWAGE_DATA_DIR: dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    RATE_LIMIT_ENABLED: 'false',
    LOG_LEVEL: 'warn',
    STOWAGE_SIGNING_SECRET: 'bench-webhooks-signing-secret-0123456789',
    STOWAGE_WEBHOOK_ALLOW_PRIVATE: 'true',
  };
  const cliEnv: NodeJS.ProcessEnv = { ...process.env, ...baseEnv };
  delete cliEnv.TEST_DATABASE_URL;
  const apiKey = execFileSync(process.execPath, [DIST_CLI, 'keys', 'create', '--org', 'bench', '--scopes', 'admin', '--create-org'], {
    cwd: root,
    env: cliEnv,
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .pop()!
    .trim();
  const service = await startService(baseEnv);
  const receiver = new ReceiverView(
    await startServerChild('receiver', ['--import', 'tsx', thisFile, RECEIVER_FLAG], {}, /LISTENING (\d+)/, (p) => `http://127.0.0.1:${p}`),
  );
  onCleanup('close the receiver client', () => receiver.close());
  const pool = new pg.Pool({ connectionString: database.url, max: 4 });
  pool.on('error', () => {});
  onCleanup('close the bench pool', () => pool.end());
  const orgId = (await pool.query<{ id: string }>(`SELECT id FROM orgs WHERE name = 'bench'`)).rows[0]?.id;
  if (!orgId) throw new InvalidRun('`keys create --org bench` made no org named bench');

  const api = async (method: string, route: string, body?: unknown) => {
    const response = await fetch(`${service.child.url}${route}`, {
      method,
      headers: { 'x-api-key': apiKey, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };
  const created = await api('POST', '/api/v1/webhooks', { url: receiver.hookUrl, events: EVENTS, description: 'bench' });
  if (created.status !== 201) throw new InvalidRun(`POST /api/v1/webhooks answered ${created.status}: ${JSON.stringify(created.body)}`);
  await receiver.control({ secret: created.body.secret, down: false });
  const webhookId: string = created.body.id;

  console.log(`  service     : ${service.child.url}, node dist/cli.js start (API + worker), local storage, rate limits off`);
  console.log(`  receiver    : ${receiver.hookUrl}, a child process (node:http; standardwebhooks verify on every request)`);
  console.log(
    `  endpoint    : ${webhookId}, events ${EVENTS.join(', ')}; dispatcher concurrency ${setting('STOWAGE_WEBHOOK_CONCURRENCY', '64')}, lease ${setting('STOWAGE_WEBHOOK_LEASE_SECONDS', '60')} s, timeout ${setting('STOWAGE_WEBHOOK_TIMEOUT_SECONDS', '15')} s`,
  );
  console.log(
    `  plan        : latency ${latencyEvents} + ${WARMUP} events per series; throughput ${events} events in one UPDATE; outage ${outageEvents} + 2 events, receiver down ${downSeconds} s`,
  );
  console.log('');

  // --- SQL ways to make events
  let batch = 0;
  const insertPending = async (n: number): Promise<string[]> => {
    const tag = `bench-${++batch}-`;
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO uploads (id, org_id, name, content_type, declared_size, blob_key, expires_at)
       SELECT uuid_v7(), $1, $2 || g || '.bin', 'application/octet-stream', 16, 'bench-webhooks/' || $2 || g, now() + interval '1 day'
       FROM generate_series(1, $3::int) g RETURNING id`,
      [orgId, tag, n],
    );
    return rows.map((r) => r.id);
  };
  const confirm = async (ids: string[]): Promise<void> => {
    const { rowCount } = await pool.query(
      `UPDATE uploads SET status = 'confirmed', size_bytes = 16, sha256 = md5(id::text) || md5(id::text),
              detected_content_type = 'application/octet-stream', confirmed_at = now(), updated_at = now()
       WHERE id = ANY($1::uuid[]) AND status = 'pending'`,
      [ids],
    );
    if (rowCount !== ids.length) throw new InvalidRun(`confirming ${ids.length} uploads changed ${rowCount}`);
  };
  /** Waits until the deliveries table has nothing pending: the previous part is over. */
  const settle = async (what: string) => {
    const deadline = Date.now() + 60_000;
    while (Number((await pool.query(`SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'pending'`)).rows[0].n) > 0) {
      if (Date.now() > deadline) throw new InvalidRun(`deliveries still pending 60 s after ${what}`);
      await sleep(100);
    }
    await sleep(300);
  };

  const failures: string[] = [];
  const target = (ok: boolean, what: string) => {
    if (!ok) failures.push(what);
    return verdict(ok);
  };

  // =================================================================================================
  // 1. Latency with the queue idle
  console.log(`1. Event → delivery latency, queue idle (one event at a time, each waited for)`);
  const sqlIds = await insertPending(WARMUP + latencyEvents);
  const sqlSamples: { subject: string; committed: number; arrived: number }[] = [];
  for (const [i, id] of sqlIds.entries()) {
    await confirm([id]);
    const committed = clock();
    const arrival = await receiver.delivered(id, 30_000);
    if (i >= WARMUP) sqlSamples.push({ subject: id, committed, arrived: arrival.at });
  }
  const apiSamples: { subject: string; committed: number; arrived: number }[] = [];
  for (let i = 0; i < WARMUP + latencyEvents; i++) {
    const form = new FormData();
    form.append('file', new Blob([`webhook latency probe ${i} ${clock()} ${Math.random()}\n`], { type: 'text/plain' }), `probe-${i}.txt`);
    const response = await fetch(`${service.child.url}/api/v1/uploads`, { method: 'POST', headers: { 'x-api-key': apiKey }, body: form });
    const answered = clock();
    const body = (await response.json()) as { id?: string; status?: string };
    if (response.status !== 201 || !body.id || body.status !== 'confirmed')
      throw new InvalidRun(`streamed upload answered ${response.status} ${JSON.stringify(body)}`);
    const arrival = await receiver.delivered(body.id, 30_000);
    if (i >= WARMUP) apiSamples.push({ subject: body.id, committed: answered, arrived: arrival.at });
  }

  // Where the time goes: the claim's start is the delivery row's last_attempt_at.
  const claims = new Map<string, number>();
  const { rows: claimRows } = await pool.query<{ subject_id: string; claimed: Date }>(
    `SELECT e.subject_id, d.last_attempt_at AS claimed FROM webhook_events e JOIN webhook_deliveries d ON d.event_id = e.id
     WHERE e.subject_id = ANY($1::uuid[]) AND e.type = 'upload.confirmed'`,
    [[...sqlSamples, ...apiSamples].map((s) => s.subject)],
  );
  for (const row of claimRows) claims.set(row.subject_id, row.claimed.getTime());
  let latencyP50 = -Infinity;
  for (const [name, samples] of [
    ['SQL UPDATE, from its commit', sqlSamples],
    ['streamed upload via the API, from its answer', apiSamples],
  ] as const) {
    const total = samples.map((s) => s.arrived - s.committed);
    const toClaim = samples.map((s) => (claims.get(s.subject) ?? NaN) - s.committed);
    const claimToArrival = samples.map((s) => s.arrived - (claims.get(s.subject) ?? NaN));
    latencyP50 = Math.max(latencyP50, percentiles(total).p50);
    console.log(`  ${name}:`);
    console.log(`    latency   : ${latencyLine(total)}`);
    console.log(
      `    to claim  : p50 ${ms(percentiles(toClaim).p50)}, max ${ms(percentiles(toClaim).max)}  (commit → the dispatcher's claim began, woken by NOTIFY; < 0 when it began before the client read the answer)`,
    );
    console.log(
      `    to arrival: p50 ${ms(percentiles(claimToArrival).p50)}, max ${ms(percentiles(claimToArrival).max)}  (claim → signed POST read by the receiver)`,
    );
  }
  console.log(
    `  target      : p50 < ${TARGET_P50_MS} ms (the slower series): ${ms(latencyP50)}, ${target(latencyP50 < TARGET_P50_MS, 'latency p50')}`,
  );
  console.log('');

  // =================================================================================================
  // 2. Throughput
  await settle('the latency series');
  console.log(`2. Throughput: ${events} events committed by one UPDATE`);
  let t = clock();
  const tpIds = await insertPending(events);
  console.log(`  setup       : ${events} pending uploads inserted in ${ms(clock() - t)} (no events: pending reports nothing)`);
  const tpSet = new Set(tpIds);
  const arrivalsBefore = receiver.arrivals.length;
  const cpuBefore = cpuNow(service, receiver);
  const started = clock();
  await confirm(tpIds);
  const committed = clock();
  const delivered = new Set<string>();
  const waitLimitMs = Math.max(120_000, (events / 50) * 1000);
  let lastArrival = NaN;
  let firstArrival = NaN;
  const arrivalTimes: number[] = [];
  while (delivered.size < events && clock() - committed < waitLimitMs) {
    const fresh = await receiver.pull(1000);
    for (const a of fresh) {
      if (!tpSet.has(a.subject) || a.status !== 200) continue;
      arrivalTimes.push(a.at);
      delivered.add(a.subject);
    }
    if (delivered.size < events) await sleep(50);
  }
  const cpuAfter = cpuNow(service, receiver);
  arrivalTimes.sort((a, b) => a - b);
  firstArrival = arrivalTimes[0] ?? NaN;
  lastArrival = arrivalTimes[arrivalTimes.length - 1] ?? NaN;
  const tpArrivals = receiver.arrivals.slice(arrivalsBefore).filter((a) => tpSet.has(a.subject));
  const { rows: eventRows } = await pool.query<{ id: string; subject_id: string }>(
    `SELECT id, subject_id FROM webhook_events WHERE subject_id = ANY($1::uuid[]) AND type = 'upload.confirmed'`,
    [tpIds],
  );
  const received = new Map<string, number>();
  for (const a of tpArrivals) received.set(a.id, (received.get(a.id) ?? 0) + 1);
  const lost = eventRows.filter((e) => !received.has(e.id)).length + (events - eventRows.length);
  const duplicates = [...received.values()].reduce((sum, n) => sum + n - 1, 0);
  const unverified = tpArrivals.filter((a) => !a.verified).length;
  const eventIds = new Set(eventRows.map((e) => e.id));
  const strangers = [...received.keys()].filter((id) => !eventIds.has(id)).length;
  const seconds = (lastArrival - committed) / 1000;
  const rate = delivered.size / seconds;
  const statementMs = committed - started;
  // The table's verdict comes a flush after the sends.
  const deadline = Date.now() + 30_000;
  let table: { status: string; n: number; attempts: number }[] = [];
  for (;;) {
    table = (
      await pool.query<{ status: string; n: string; attempts: string }>(
        `SELECT d.status, count(*) AS n, sum(d.attempts) AS attempts FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
         WHERE e.subject_id = ANY($1::uuid[]) GROUP BY d.status ORDER BY d.status`,
        [tpIds],
      )
    ).rows.map((r) => ({ status: r.status, n: Number(r.n), attempts: Number(r.attempts) }));
    if (!table.some((r) => r.status === 'pending') || Date.now() > deadline) break;
    await sleep(200);
  }
  const succeeded = table.find((r) => r.status === 'succeeded')?.n ?? 0;
  const half = arrivalTimes[Math.floor(arrivalTimes.length / 2)] ?? NaN;
  console.log(`  UPDATE      : ${ms(statementMs)} (the trigger wrote ${eventRows.length} events and their deliveries in the statement)`);
  console.log(
    `  received    : ${delivered.size} of ${events}; first ${ms(firstArrival - committed)}, half ${ms(half - committed)}, last ${ms(lastArrival - committed)} after the commit`,
  );
  console.log(
    `  rate        : ${fmt(rate, 0)} deliveries/s from the commit (${fmt(delivered.size / ((lastArrival - started) / 1000), 0)}/s counting the UPDATE itself)`,
  );
  console.log(`  CPU (cores) : ${cpuLine(cpuBefore, cpuAfter)}`);
  // Where the time goes, from the rows: a claim statement stamps the deliveries it takes with one
  // last_attempt_at (its now()), and the recording of their results sets updated_at.
  const firstOk = new Map<string, number>();
  for (const a of tpArrivals) if (a.status === 200 && !firstOk.has(a.id)) firstOk.set(a.id, a.at);
  const { rows: claimed } = await pool.query<{ event_id: string; claimed: Date; recorded: Date }>(
    `SELECT d.event_id, d.last_attempt_at AS claimed, d.updated_at AS recorded FROM webhook_deliveries d
     JOIN webhook_events e ON e.id = d.event_id WHERE e.subject_id = ANY($1::uuid[])`,
    [tpIds],
  );
  const claimSizes = new Map<number, number>();
  for (const row of claimed) claimSizes.set(row.claimed.getTime(), (claimSizes.get(row.claimed.getTime()) ?? 0) + 1);
  const claimTimes = [...claimSizes.keys()].sort((a, b) => a - b);
  const gaps = claimTimes.slice(1).map((at, i) => at - claimTimes[i]);
  const inFlight = claimed.map((r) => (firstOk.get(r.event_id) ?? NaN) - r.claimed.getTime()).filter(Number.isFinite);
  const toRecord = claimed.map((r) => r.recorded.getTime() - (firstOk.get(r.event_id) ?? NaN)).filter(Number.isFinite);
  const sizes = percentiles([...claimSizes.values()]);
  console.log(
    `  claims      : ${claimSizes.size} claim statements, ${fmt(claimed.length / claimSizes.size, 1)} deliveries each on average (p50 ${sizes.p50}, max ${sizes.max}); p50 ${ms(percentiles(gaps).p50)} between claims`,
  );
  console.log(
    `  per delivery: claim → received p50 ${ms(percentiles(inFlight).p50)}, p99 ${ms(percentiles(inFlight).p99)}; received → result recorded p50 ${ms(percentiles(toRecord).p50)}`,
  );
  console.log(
    `  requests    : ${tpArrivals.length} (${duplicates} duplicated webhook-ids, ${strangers} ids that are no event of these uploads); signatures verified ${tpArrivals.length - unverified} of ${tpArrivals.length}`,
  );
  console.log(`  table       : ${table.map((r) => `${r.status} ${r.n} (attempts ${r.attempts})`).join(', ') || 'no rows'}`);
  console.log(`  target      : ≥ ${TARGET_RATE}/s: ${fmt(rate, 0)}/s, ${target(rate >= TARGET_RATE, 'throughput rate')}`);
  console.log(`  target      : 0 lost: ${lost}, ${target(lost === 0, 'throughput: events lost')}`);
  console.log(`  target      : 0 duplicated webhook-ids: ${duplicates}, ${target(duplicates === 0, 'throughput: duplicates')}`);
  console.log(
    `  target      : every signature verified: ${unverified} failed, ${target(unverified === 0 && tpArrivals.length > 0, 'throughput: signatures')}`,
  );
  console.log(`  target      : ${events} succeeded in the table: ${succeeded}, ${target(succeeded === events, 'throughput: table')}`);
  console.log('');

  // =================================================================================================
  // 3. Receiver down, then back
  await settle('the throughput run');
  t = clock();
  await service.restart({ STOWAGE_WEBHOOK_RETRY_SCHEDULE: SHORT_SCHEDULE });
  console.log(
    `3. Receiver down for ${downSeconds} s, then back (service restarted with STOWAGE_WEBHOOK_RETRY_SCHEDULE=${SHORT_SCHEDULE} in ${ms(clock() - t)})`,
  );
  const outageIds = await insertPending(outageEvents);
  const [ordered] = await insertPending(1);
  const outageSet = new Set([...outageIds, ordered]);
  const arrivalsBeforeOutage = receiver.arrivals.length;
  await receiver.control({ down: true });
  const downAt = clock();
  await confirm(outageIds);
  await confirm([ordered]);
  const { rowCount: failedCount } = await pool.query(
    `UPDATE uploads SET status = 'failed', failure_reason = 'bench: failed after its confirmation', updated_at = now()
     WHERE id = $1 AND status = 'confirmed'`,
    [ordered],
  );
  if (failedCount !== 1) throw new InvalidRun(`failing upload ${ordered} changed ${failedCount} rows`);
  const expected = outageEvents + 2;
  await sleep(Math.max(0, downAt + downSeconds * 1000 - clock()));
  await receiver.control({ down: false });
  const upAt = clock();
  const { rows: outageEventRows } = await pool.query<{ id: string; subject_id: string; type: string; sequence: string }>(
    `SELECT id, subject_id, type, sequence FROM webhook_events WHERE subject_id = ANY($1::uuid[])`,
    [[...outageSet]],
  );
  const okIds = new Set<string>();
  // Past the schedule's last attempt (~11 s after the first, with jitter) nothing more can come.
  const outageDeadline = downAt + 30_000;
  while (okIds.size < outageEventRows.length && clock() < outageDeadline) {
    for (const a of await receiver.pull(1000)) if (outageSet.has(a.subject) && a.status === 200) okIds.add(a.id);
  }
  const allBackAt = Math.max(
    ...receiver.arrivals
      .slice(arrivalsBeforeOutage)
      .filter((a) => a.status === 200)
      .map((a) => a.at),
  );
  await sleep(1500); // anything sent twice would come now
  await receiver.pull(0);
  const outageArrivals = receiver.arrivals.slice(arrivalsBeforeOutage).filter((a) => outageSet.has(a.subject));
  const perEvent = new Map<string, { requests: number; oks: number }>();
  for (const a of outageArrivals) {
    const seen = perEvent.get(a.id) ?? { requests: 0, oks: 0 };
    seen.requests++;
    if (a.status === 200) seen.oks++;
    perEvent.set(a.id, seen);
  }
  const outageLost = outageEventRows.filter((e) => !perEvent.get(e.id)?.oks).length + (expected - outageEventRows.length);
  const outageDuplicates = [...perEvent.values()].reduce((sum, s) => sum + Math.max(0, s.oks - 1), 0);
  const refused = outageArrivals.filter((a) => a.status === 503).length;
  const { rows: outageTable } = await pool.query<{ status: string; attempts: number; n: string }>(
    `SELECT d.status, d.attempts, count(*) AS n FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
     WHERE e.subject_id = ANY($1::uuid[]) GROUP BY 1, 2 ORDER BY 1, 2`,
    [[...outageSet]],
  );
  const deadLettered = outageTable.filter((r) => r.status === 'failed').reduce((sum, r) => sum + Number(r.n), 0);
  const orderedArrivals = outageArrivals.filter((a) => a.subject === ordered && a.status === 200);
  const sequences = orderedArrivals.map((a) => `${a.type} #${a.sequence}`);
  const sequenceSet = new Set(orderedArrivals.map((a) => a.sequence));
  const byType = new Map(orderedArrivals.map((a) => [a.type, a.sequence]));
  const sequencesOk =
    orderedArrivals.length === 2 &&
    sequenceSet.size === 2 &&
    sequenceSet.has(1) &&
    sequenceSet.has(2) &&
    byType.get('upload.confirmed') === 1 &&
    byType.get('upload.failed') === 2;
  console.log(
    `  events      : ${outageEventRows.length} (${outageEvents} confirmations in one UPDATE, and one upload confirmed then failed)`,
  );
  console.log(`  while down  : ${refused} requests answered 503`);
  console.log(
    `  received    : ${okIds.size} of ${outageEventRows.length} with a 200; all ${ms(allBackAt - upAt)} after the receiver came back (${ms(allBackAt - downAt)} after the events)`,
  );
  console.log(`  attempts    : per event, requests the receiver saw: ${histogram([...perEvent.values()].map((s) => s.requests))}`);
  console.log(`  table       : ${outageTable.map((r) => `${r.status} after ${r.attempts} attempts ×${r.n}`).join(', ') || 'no rows'}`);
  console.log(`  order       : upload ${ordered}: arrived ${sequences.join(', then ') || 'nothing'}`);
  console.log(`  target      : 0 lost: ${outageLost} (${deadLettered} dead-lettered), ${target(outageLost === 0, 'outage: events lost')}`);
  console.log(`  target      : 0 duplicated webhook-ids: ${outageDuplicates}, ${target(outageDuplicates === 0, 'outage: duplicates')}`);
  console.log(`  target      : sequences 1 (confirmed) and 2 (failed), distinct: ${target(sequencesOk, 'outage: sequences')}`);
  console.log('');

  console.log(`Summary: ${failures.length ? `FAIL (${failures.join('; ')})` : 'PASS, every target'}`);
  return failures.length ? 1 : 0;
}

if (process.argv[2] === RECEIVER_FLAG) {
  serveReceiver();
} else {
  await runBenchmark(main);
}
