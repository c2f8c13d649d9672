/**
 * `npm run bench:presign`: throughput and latency of `POST /api/v1/uploads/presign` over real HTTP on
 * loopback, against pgbench's single-row INSERT on the same PostgreSQL server in the same run.
 *
 *   node --import tsx bench/presign.ts
 *
 * Environment:
 *   BENCH_SECONDS          measured duration of each side (default 10)
 *   BENCH_WARMUP_SECONDS   unmeasured warm-up before each side (default 2)
 *   BENCH_CONNECTIONS      HTTP keep-alive connections and pgbench clients (default 50)
 *   BENCH_PGBENCH_THREADS  pgbench -j (default 2)
 *   BENCH_PGBENCH_MODE     pgbench -M: simple (default), extended or prepared
 *   BENCH_WORKER           1 (default): run the confirm worker too, as a real process would; 0: API only
 *   BENCH_JSON_OUT         a file to write the figures to as JSON
 *   DATABASE_URL           a PostgreSQL server to use (scratch databases are created and dropped on it);
 *                          unset: an embedded server is started in a temporary folder and stopped at the end
 *
 * The Stowage side runs the whole service in this process (test/helpers/harness.ts), with rate limits
 * off and logs silent; the load comes from autocannon in a child process (this same file, run with
 * --load-generator), so the server's event loop does not also run the client. On a small machine the
 * load generator, the server and PostgreSQL still share the cores: read the CPU lines of the report.
 *
 * Exit code: 0 when the run worked, whatever the targets say (it is a benchmark, not a test);
 * 1 when the run itself is invalid (any non-2xx or socket error, pgbench failed); 2 on a crash.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import type Autocannon from 'autocannon';
import {
  beforeStartLine,
  envInt,
  fmt,
  onCleanup,
  openPostgres,
  percentiles,
  type Percentiles,
  procStat,
  queryCounter,
  runBenchmark,
  startBenchService,
  verdict,
} from './lib.js';

const TARGET_RATIO = 0.5;
const TARGET_P99_MS = 20;
const PRESIGN_PATH = '/api/v1/uploads/presign';
const PROBE_REQUESTS = 200;

const thisFile = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(thisFile), '..');

// ---------------------------------------------------------------------------------------------------
// Shared shapes

interface LoadSpec {
  url: string;
  apiKey: string;
  connections: number;
  seconds: number;
  /** Body names are bench-<offset + n>.bin, so the warm-up and the measured run never repeat one. */
  nameOffset: number;
}

interface LoadResult {
  ok: number;
  non2xx: number;
  socketErrors: number;
  timeouts: number;
  mismatches: number;
  statusCodes: Record<string, number>;
  errorSamples: string[];
  durationSeconds: number;
  latencyMs: Percentiles;
  /** autocannon's own figures, whole milliseconds (its histogram's resolution), as a cross-check. */
  autocannonLatencyMs: { p50: number; p99: number };
  cpuSeconds: number;
}

// ---------------------------------------------------------------------------------------------------
// Child mode: the load generator

async function loadGenerator(): Promise<void> {
  const spec = JSON.parse(process.env.BENCH_LOAD_SPEC ?? '') as LoadSpec;
  const { default: autocannon } = await import('autocannon');
  let n = spec.nameOffset;
  const latencies: number[] = [];
  const errorSamples: string[] = [];
  process.send!({ started: true });
  const cpuBefore = process.cpuUsage();
  // Without a callback autocannon returns its instance, an event emitter that is also a promise of the result.
  const instance = autocannon({
    url: spec.url + PRESIGN_PATH,
    connections: spec.connections,
    duration: spec.seconds,
    pipelining: 1,
    timeout: 10,
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': spec.apiKey },
    requests: [
      {
        setupRequest: (request) => ({ ...request, body: JSON.stringify({ name: `bench-${++n}.bin`, size_bytes: 1024 }) }),
        onResponse: (status, body) => {
          if ((status < 200 || status >= 300) && errorSamples.length < 5) errorSamples.push(`${status} ${String(body).slice(0, 300)}`);
        },
      },
    ],
  }) as unknown as Autocannon.Instance & Promise<Autocannon.Result>;
  // autocannon emits (client, status, bytes, ms) here, whatever its typings say; ms is a float.
  (instance as unknown as NodeJS.EventEmitter).on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status >= 200 && status < 300) latencies.push(ms);
  });
  instance.on('reqError', (error: unknown) => {
    if (errorSamples.length < 5) errorSamples.push(`socket: ${String((error as Error)?.message ?? error)}`);
  });
  const result = await instance;
  const cpu = process.cpuUsage(cpuBefore);
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = count ?? 0;
  const answer: LoadResult = {
    ok: result['2xx'],
    non2xx: result.non2xx,
    socketErrors: result.errors - result.timeouts,
    timeouts: result.timeouts,
    mismatches: result.mismatches,
    statusCodes,
    errorSamples,
    durationSeconds: result.duration,
    latencyMs: percentiles(latencies),
    autocannonLatencyMs: { p50: result.latency.p50, p99: result.latency.p99 },
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
  process.send!({ result: answer }, () => process.exit(0));
}

// ---------------------------------------------------------------------------------------------------
// Parent mode

interface Options {
  seconds: number;
  warmupSeconds: number;
  connections: number;
  pgbenchThreads: number;
  pgbenchMode: 'simple' | 'extended' | 'prepared';
  worker: boolean;
  jsonOut: string | null;
}

function readOptions(): Options {
  const mode = (process.env.BENCH_PGBENCH_MODE?.trim() || 'simple') as Options['pgbenchMode'];
  if (!['simple', 'extended', 'prepared'].includes(mode))
    throw new Error(`BENCH_PGBENCH_MODE must be simple, extended or prepared, got "${mode}"`);
  return {
    seconds: envInt('BENCH_SECONDS', 10, 1, 3600),
    warmupSeconds: envInt('BENCH_WARMUP_SECONDS', 2, 0, 600),
    connections: envInt('BENCH_CONNECTIONS', 50, 1, 1000),
    pgbenchThreads: envInt('BENCH_PGBENCH_THREADS', 2, 1, 64),
    pgbenchMode: mode,
    worker: !['0', 'false', 'no', 'off'].includes((process.env.BENCH_WORKER ?? '1').trim().toLowerCase()),
    jsonOut: process.env.BENCH_JSON_OUT?.trim() || null,
  };
}

/** Busy and total CPU time of the whole machine, in core-seconds. */
function machineCpu() {
  let busy = 0;
  let total = 0;
  for (const cpu of os.cpus()) {
    const t = cpu.times;
    const all = t.user + t.nice + t.sys + t.idle + t.irq;
    busy += all - t.idle;
    total += all;
  }
  return { busy: busy / 1000, total: total / 1000 };
}

/**
 * CPU seconds used so far by a local PostgreSQL server: the postmaster, its live children, and the
 * children it has already reaped (pgbench's backends are gone by the time the second snapshot is taken).
 */
function postgresCpu(postmasterPid: number | null): number | null {
  if (postmasterPid === null) return null;
  const postmaster = procStat(postmasterPid);
  if (!postmaster) return null;
  let total = postmaster.own + postmaster.children;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const child = procStat(Number(entry));
    if (child && child.ppid === postmasterPid) total += child.own;
  }
  return total;
}

interface CpuSnapshot {
  at: number;
  loop: EventLoopUtilization;
  /** Times this process was taken off a core while it could still run (another task woke up, or its slice ended). */
  preempted: number;
  machine: { busy: number; total: number };
  self: NodeJS.CpuUsage;
  postgres: number | null;
}

function cpuSnapshot(postmasterPid: number | null): CpuSnapshot {
  return {
    at: performance.now(),
    loop: performance.eventLoopUtilization(),
    preempted: process.resourceUsage().involuntaryContextSwitches,
    machine: machineCpu(),
    self: process.cpuUsage(),
    postgres: postgresCpu(postmasterPid),
  };
}

/** Cores used on average between two snapshots, split by who used them. */
interface CpuSplit {
  seconds: number;
  /** Share of the time this process's event loop was not waiting for I/O: near 1, it is the bottleneck. */
  eventLoopUtilization: number;
  preemptions: number;
  machineBusyCores: number;
  /** This process: the Stowage server during its run (plus the bench's own bookkeeping). */
  selfCores: number;
  /** Of selfCores, the kernel's share (syscalls: on loopback a socket write also delivers to the reader). */
  selfSystemCores: number;
  postgresCores: number | null;
  loadGeneratorCores: number | null;
  /** Everything else on the machine: pgbench's client, other programs. */
  otherCores: number | null;
}

function cpuSplit(before: CpuSnapshot, after: CpuSnapshot, loadGeneratorSeconds: number | null): CpuSplit {
  const seconds = (after.at - before.at) / 1000;
  const machineBusyCores = (after.machine.busy - before.machine.busy) / seconds;
  const selfCores = (after.self.user + after.self.system - before.self.user - before.self.system) / 1e6 / seconds;
  const postgresCores = before.postgres !== null && after.postgres !== null ? (after.postgres - before.postgres) / seconds : null;
  const loadGeneratorCores = loadGeneratorSeconds === null ? null : loadGeneratorSeconds / seconds;
  const otherCores = postgresCores === null ? null : machineBusyCores - selfCores - postgresCores - (loadGeneratorCores ?? 0);
  const selfSystemCores = (after.self.system - before.self.system) / 1e6 / seconds;
  const eventLoopUtilization = performance.eventLoopUtilization(after.loop, before.loop).utilization;
  const preemptions = after.preempted - before.preempted;
  return {
    seconds,
    eventLoopUtilization,
    preemptions,
    machineBusyCores,
    selfCores,
    selfSystemCores,
    postgresCores,
    loadGeneratorCores,
    otherCores,
  };
}

const cores = (v: number | null) => (v === null || !Number.isFinite(v) ? 'n/a' : v.toFixed(2));

function findPgbench(): string {
  const candidates = [process.env.BENCH_PGBENCH];
  try {
    candidates.push(execFileSync('sh', ['-c', 'command -v pgbench'], { encoding: 'utf8' }).trim());
  } catch {
    // not on PATH
  }
  for (const version of ['18', '17', '16', '15', '14', '13']) candidates.push(`/usr/lib/postgresql/${version}/bin/pgbench`);
  const found = candidates.find((c): c is string => !!c && existsSync(c));
  if (!found) throw new Error('pgbench not found: install it (Debian: apt-get install postgresql-client-15) or set BENCH_PGBENCH');
  return found;
}

/** Runs the load generator; `around` is called as its run starts and again as its result arrives. */
function runLoad(spec: LoadSpec, around: (phase: 'start' | 'end') => void = () => {}): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', thisFile, '--load-generator'], {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, BENCH_LOAD_SPEC: JSON.stringify(spec) },
    });
    const forget = onCleanup('stop the load generator', async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let answer: LoadResult | null = null;
    child.on('message', (m: { started?: true; result?: LoadResult }) => {
      if (m.started) around('start');
      if (m.result) {
        around('end');
        answer = m.result;
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      void forget();
      if (answer) resolve(answer);
      else reject(new Error(`load generator exited (${signal ?? code}) without a result`));
    });
  });
}

interface PgbenchResult {
  tps: number;
  latencyAverageMs: number;
  transactions: number;
  failed: number;
  latencyMs: Percentiles | null;
  output: string;
}

async function runPgbench(bin: string, serverUrl: string, database: string, args: string[]): Promise<PgbenchResult> {
  const url = new URL(serverUrl);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PGHOST: url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    PGPORT: url.port || '5432',
    PGUSER: decodeURIComponent(url.username) || 'postgres',
    PGDATABASE: database,
    PGAPPNAME: 'stowage-bench-pgbench',
  };
  if (url.password) env.PGPASSWORD = decodeURIComponent(url.password);
  else delete env.PGPASSWORD;
  const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const forget = onCleanup('stop pgbench', async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const code: number = await new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });
  await forget();
  const number = (re: RegExp) => {
    const m = re.exec(output);
    return m ? Number(m[1]) : NaN;
  };
  const result: PgbenchResult = {
    tps: number(/^tps = ([\d.]+)/m),
    latencyAverageMs: number(/^latency average = ([\d.]+) ms/m),
    transactions: number(/^number of transactions actually processed: (\d+)/m),
    failed: number(/^number of failed transactions: (\d+)/m) || 0,
    latencyMs: null,
    output,
  };
  if (code !== 0 || !Number.isFinite(result.tps)) {
    throw new Error(`pgbench ${args.join(' ')} failed (exit ${code}):\n${output}`);
  }
  return result;
}

/** pgbench -l lines: client_id transaction_no time_us script_no epoch epoch_us (time is "failed"/"skipped" otherwise). */
async function pgbenchLogLatencies(dir: string, prefix: string): Promise<Float64Array> {
  const values: number[] = [];
  for (const file of (await readdir(dir)).filter((f) => f.startsWith(prefix + '.'))) {
    for (const line of (await readFile(path.join(dir, file), 'utf8')).split('\n')) {
      const micros = Number(line.split(' ')[2]);
      if (line && Number.isFinite(micros)) values.push(micros / 1000);
    }
  }
  return Float64Array.from(values);
}

async function main(): Promise<number> {
  const options = readOptions();
  const pgbench = findPgbench();
  const { default: pg } = await import('pg');

  // Others running on the machine skew every figure below: say so rather than guess.
  const idleBefore = cpuSnapshot(null);
  await new Promise((r) => setTimeout(r, 1000));
  const idleSplit = cpuSplit(idleBefore, cpuSnapshot(null), null);

  // --- Which PostgreSQL
  const { url: serverUrl, kind: serverKind } = await openPostgres();
  process.env.TEST_DATABASE_URL = serverUrl;

  const admin = new pg.Client({ connectionString: serverUrl });
  admin.on('error', () => {}); // the server going away mid-cleanup is not worth a crash
  await admin.connect();
  onCleanup('close the admin connection', () => admin.end());
  const setting = async (name: string) => (await admin.query(`SELECT current_setting($1) AS v`, [name])).rows[0].v as string;
  const serverVersion = await setting('server_version');
  const settings = {
    max_connections: await setting('max_connections'),
    synchronous_commit: await setting('synchronous_commit'),
    fsync: await setting('fsync'),
    shared_buffers: await setting('shared_buffers'),
  };
  const where = new URL(serverUrl);
  // The postmaster is the parent of our backend; readable in /proc only when the server runs on this machine.
  const backendPid = (await admin.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
  const postmasterPid = procStat(backendPid)?.ppid ?? null;
  const canMeasurePostgres = postgresCpu(postmasterPid) !== null;

  const cpuModel = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log('Stowage presign benchmark');
  console.log(`  machine     : ${os.cpus().length} CPUs (${cpuModel}), Node ${process.version}`);
  console.log(`  PostgreSQL  : ${serverVersion} at ${where.hostname}:${where.port || 5432} (${serverKind})`);
  console.log(
    `                ${Object.entries(settings)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}`,
  );
  console.log(`  pgbench     : ${pgbench}`);
  console.log(
    `  plan        : ${options.warmupSeconds} s warm-up + ${options.seconds} s measured, ${options.connections} connections, each side in turn`,
  );
  console.log(`  note        : load generator, server and PostgreSQL share this machine's ${os.cpus().length} cores`);
  console.log(beforeStartLine(idleSplit.machineBusyCores));
  if (!canMeasurePostgres) console.log('                (PostgreSQL CPU not measured: its processes are not readable in /proc)');
  console.log('');

  // --- Stowage
  const { harness, close: closeStowage } = await startBenchService({ STOWAGE_JOB_POLL_SECONDS: '1' }, { worker: options.worker });
  const stowageDb = new URL(harness.databaseUrl).pathname.slice(1);
  console.log(`Service: ${harness.url}, database ${stowageDb}, rate limits off, logs silent, worker ${options.worker ? 'on' : 'off'}`);

  // Counts the app pool's round trips per request (a flag check when off; on only during the probe).
  const pool = harness.runtime.database.pool;
  const queries = queryCounter(pool);

  // Probe: one request at a time, checking the answer and counting queries.
  const sequential: number[] = [];
  const probeQueries = await queries.counting(async () => {
    for (let i = 0; i < PROBE_REQUESTS; i++) {
      const started = performance.now();
      const answer = await harness.api('POST', PRESIGN_PATH, { body: { name: `probe-${i}.bin`, size_bytes: 1024 } });
      sequential.push(performance.now() - started);
      if (answer.status !== 200 || typeof answer.body?.data_source_id !== 'string' || typeof answer.body?.url !== 'string') {
        throw new Error(`presign probe answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 500)}`);
      }
    }
  });
  const probeLatency = percentiles(sequential);
  const roundTrips = probeQueries.reduce((sum, [, count]) => sum + count, 0) / PROBE_REQUESTS;
  console.log(`  probe: ${PROBE_REQUESTS} sequential presigns (fetch from the server's own process)`);
  console.log(`    latency p50 ${fmt(probeLatency.p50, 2)} ms, p99 ${fmt(probeLatency.p99, 2)} ms`);
  console.log(`    queries per request on the app's pool: ${fmt(roundTrips, 2)} (each its own autocommit transaction unless BEGIN shows)`);
  for (const [text, count] of probeQueries)
    console.log(`      ${fmt(count / PROBE_REQUESTS, 3)} × ${text.length > 110 ? `${text.slice(0, 110)}…` : text}`);
  console.log('');

  const spec = { url: harness.url, apiKey: harness.keys.writer, connections: options.connections };
  let warmupStowage: LoadResult | null = null;
  if (options.warmupSeconds > 0) {
    warmupStowage = await runLoad({ ...spec, seconds: options.warmupSeconds, nameOffset: 0 });
  }
  let stowageCpuBefore: CpuSnapshot | null = null;
  let stowageCpuAfter: CpuSnapshot | null = null;
  const load = await runLoad({ ...spec, seconds: options.seconds, nameOffset: 1e9 }, (phase) => {
    if (phase === 'start') stowageCpuBefore = cpuSnapshot(postmasterPid);
    else stowageCpuAfter = cpuSnapshot(postmasterPid);
  });
  const stowageCpu = cpuSplit(stowageCpuBefore!, stowageCpuAfter!, load.cpuSeconds);
  const {
    rows: [stored],
  } = await harness.runtime.database.pool.query<{ n: string }>(`SELECT count(*) AS n FROM uploads WHERE name LIKE 'bench-%'`);
  await closeStowage();

  const warmupErrors = warmupStowage
    ? warmupStowage.non2xx + warmupStowage.socketErrors + warmupStowage.timeouts + warmupStowage.mismatches
    : 0;
  const loadErrors = load.non2xx + load.socketErrors + load.timeouts + load.mismatches;
  const rps = load.ok / load.durationSeconds;
  const answered = load.ok + (warmupStowage?.ok ?? 0);
  // Requests still in flight when a load run stops are served but not counted: at most one per connection per run.
  const uncounted = options.connections * (warmupStowage ? 2 : 1);
  const perRequestMs = (coresUsed: number | null) =>
    coresUsed === null ? 'n/a' : ((coresUsed * stowageCpu.seconds * 1000) / load.ok).toFixed(3);

  console.log(`Stowage POST ${PRESIGN_PATH}  (${options.connections} keep-alive connections, ${fmt(load.durationSeconds, 2)} s measured)`);
  console.log(`  requests/s  : ${fmt(rps)}  (${load.ok} answered 2xx)`);
  console.log(
    `  latency     : p50 ${fmt(load.latencyMs.p50, 2)} ms, p90 ${fmt(load.latencyMs.p90, 2)} ms, p99 ${fmt(load.latencyMs.p99, 2)} ms, p99.9 ${fmt(load.latencyMs.p999, 2)} ms, max ${fmt(load.latencyMs.max, 2)} ms`,
  );
  console.log(
    `                (autocannon's whole-ms histogram: p50 ${load.autocannonLatencyMs.p50} ms, p99 ${load.autocannonLatencyMs.p99} ms)`,
  );
  console.log(
    `  errors      : ${loadErrors}  (non-2xx ${load.non2xx}, socket ${load.socketErrors}, timeouts ${load.timeouts}, mismatches ${load.mismatches}; warm-up ${warmupErrors})`,
  );
  console.log(
    `  status codes: ${
      Object.entries(load.statusCodes)
        .map(([c, n]) => `${c}×${n}`)
        .join(', ') || 'none'
    }`,
  );
  for (const sample of [...(warmupStowage?.errorSamples ?? []), ...load.errorSamples].slice(0, 5)) console.log(`    e.g. ${sample}`);
  console.log(
    `  rows stored : ${stored.n} bench rows for ${answered} 2xx answers (warm-up + measured; up to ${uncounted} more were cut off in flight)`,
  );
  console.log(
    `  CPU (cores) : machine ${cores(stowageCpu.machineBusyCores)} busy = Stowage server ${cores(stowageCpu.selfCores)} + PostgreSQL ${cores(stowageCpu.postgresCores)} + load generator ${cores(stowageCpu.loadGeneratorCores)} + other ${cores(stowageCpu.otherCores)}`,
  );
  console.log(
    `  event loop  : server's utilization ${fmt(stowageCpu.eventLoopUtilization * 100, 0)}% (near 100%: its one thread is the limit, whether on a core or waiting for one); preempted ${fmt(stowageCpu.preemptions / load.ok, 2)} times per request`,
  );
  console.log(
    `  CPU/request : Stowage server ${perRequestMs(stowageCpu.selfCores)} ms (kernel ${perRequestMs(stowageCpu.selfSystemCores)} ms of it), PostgreSQL ${perRequestMs(stowageCpu.postgresCores)} ms, load generator ${perRequestMs(stowageCpu.loadGeneratorCores)} ms`,
  );
  console.log('');

  // --- pgbench on the same server
  const benchDb = `stowage_bench_${randomBytes(5).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(benchDb)}`);
  onCleanup(`drop database ${benchDb}`, async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(benchDb)} WITH (FORCE)`);
  });
  const benchUrl = new URL(serverUrl);
  benchUrl.pathname = `/${benchDb}`;
  const ddl = `CREATE TABLE bench_rows (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name        text NOT NULL,
  size_bytes  bigint NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
)`;
  const benchClient = new pg.Client({ connectionString: benchUrl.toString() });
  await benchClient.connect();
  try {
    await benchClient.query(ddl);
  } finally {
    await benchClient.end();
  }
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'stowage-bench-pgbench-'));
  onCleanup('remove the pgbench folder', () => rm(scratch, { recursive: true, force: true }));
  const script = path.join(scratch, 'insert.sql');
  const statement = `INSERT INTO bench_rows (name, size_bytes) VALUES ('bench-' || :n || '.bin', 1024);`;
  await writeFile(script, `\\set n random(1, 1000000000)\n${statement}\n`);
  const common = ['-n', '-M', options.pgbenchMode, '-c', String(options.connections), '-j', String(options.pgbenchThreads), '-f', script];
  if (options.warmupSeconds > 0) await runPgbench(pgbench, serverUrl, benchDb, [...common, '-T', String(options.warmupSeconds)]);
  const pgbenchCpuBefore = cpuSnapshot(postmasterPid);
  const logPrefix = 'txlog';
  const baseline = await runPgbench(pgbench, serverUrl, benchDb, [
    ...common,
    '-T',
    String(options.seconds),
    '-l',
    `--log-prefix=${path.join(scratch, logPrefix)}`,
  ]);
  const pgbenchCpu = cpuSplit(pgbenchCpuBefore, cpuSnapshot(postmasterPid), null);
  baseline.latencyMs = percentiles(await pgbenchLogLatencies(scratch, logPrefix));

  console.log(
    `pgbench single-row INSERT  (${options.connections} clients, ${options.pgbenchThreads} threads, -M ${options.pgbenchMode}, ${options.seconds} s measured, database ${benchDb})`,
  );
  console.log(
    `  table       : bench_rows (id bigint identity primary key, name text, size_bytes bigint, created_at timestamptz default now())`,
  );
  console.log(`  statement   : ${statement}  (one per transaction, autocommit)`);
  console.log(`  tps         : ${fmt(baseline.tps)}  (${baseline.transactions} transactions)`);
  console.log(
    `  latency     : average ${fmt(baseline.latencyAverageMs, 3)} ms; from its log: p50 ${fmt(baseline.latencyMs.p50, 2)} ms, p99 ${fmt(baseline.latencyMs.p99, 2)} ms`,
  );
  console.log(`  failed      : ${baseline.failed}`);
  const perTransactionMs = (coresUsed: number | null) =>
    coresUsed === null ? 'n/a' : ((coresUsed * pgbenchCpu.seconds * 1000) / baseline.transactions).toFixed(3);
  console.log(
    `  CPU (cores) : machine ${cores(pgbenchCpu.machineBusyCores)} busy = PostgreSQL ${cores(pgbenchCpu.postgresCores)} + pgbench and other ${cores(pgbenchCpu.otherCores === null ? null : pgbenchCpu.otherCores + pgbenchCpu.selfCores)}`,
  );
  console.log(`  CPU/txn     : PostgreSQL ${perTransactionMs(pgbenchCpu.postgresCores)} ms (connection start-up included)`);
  console.log('');

  // --- Verdict
  const ratio = rps / baseline.tps;
  const broken: string[] = [];
  if (loadErrors || warmupErrors) broken.push(`${loadErrors + warmupErrors} Stowage requests failed`);
  if (load.ok === 0) broken.push('no Stowage request succeeded');
  if (Number(stored.n) < answered || Number(stored.n) > answered + uncounted)
    broken.push(`${stored.n} rows stored for ${answered} 2xx answers`);
  if (baseline.failed) broken.push(`${baseline.failed} pgbench transactions failed`);

  console.log('Summary');
  console.log(`  stowage_rps / pgbench_tps = ${fmt(rps)} / ${fmt(baseline.tps)} = ${fmt(ratio, 3)}`);
  console.log(`  ${verdict(ratio >= TARGET_RATIO)}  ratio >= ${TARGET_RATIO}  (${fmt(ratio, 3)})`);
  console.log(`  ${verdict(load.latencyMs.p99 < TARGET_P99_MS)}  p99 < ${TARGET_P99_MS} ms  (${fmt(load.latencyMs.p99, 2)} ms)`);
  if (broken.length) console.log(`  INVALID RUN: ${broken.join('; ')}`);

  if (options.jsonOut) {
    const figures = {
      when: new Date().toISOString(),
      machine: { cpus: os.cpus().length, model: cpuModel, node: process.version },
      postgres: { version: serverVersion, kind: serverKind, settings },
      options,
      busyCoresBeforeStart: idleSplit.machineBusyCores,
      stowage: {
        rps,
        ok: load.ok,
        errors: loadErrors,
        warmupErrors,
        latencyMs: load.latencyMs,
        statusCodes: load.statusCodes,
        roundTripsPerRequest: roundTrips,
        cpuCores: stowageCpu,
        sequentialLatencyMs: probeLatency,
      },
      pgbench: {
        tps: baseline.tps,
        latencyAverageMs: baseline.latencyAverageMs,
        latencyMs: baseline.latencyMs,
        failed: baseline.failed,
        cpuCores: pgbenchCpu,
      },
      ratio,
      targets: {
        ratio: { min: TARGET_RATIO, pass: ratio >= TARGET_RATIO },
        p99Ms: { max: TARGET_P99_MS, pass: load.latencyMs.p99 < TARGET_P99_MS },
      },
      valid: broken.length === 0,
      problems: broken,
    };
    await writeFile(options.jsonOut, JSON.stringify(figures, null, 2) + '\n');
  }
  return broken.length ? 1 : 0;
}

if (process.argv.includes('--load-generator')) {
  await loadGenerator();
} else {
  await runBenchmark(main);
}
