/**
 * `npm run bench:files-writes`: throughput and latency of version writes, `PUT /api/v1/files/{file_id}`
 * with concurrent writers on distinct files, against `POST /api/v1/uploads/presign` in the same run.
 *
 *   node --import tsx bench/files-writes.ts
 *
 * Target (issue 10): concurrent PUTs on distinct files ≥ 0.5 × the same run's presign requests/s.
 *
 * One key with uploads and files scopes; BENCH_CONNECTIONS files made through the API (pending, then
 * their few bytes sent to POST …/content), one per connection. A probe first: 50 sequential requests of
 * each side from the server's own process, with the queries each runs on the app's pool (where the time
 * goes). Then each side in turn, with the same connections, warm-up and duration, both driven by
 * autocannon in a child process (this same file, run with --load-generator) so the server's event loop
 * does not also run the client:
 *   - presign : the request bench/presign.ts makes, `{name: bench-N.bin, size_bytes: 1024}`
 *   - PUT     : each connection edits its own file, `{expect_tip, properties: {bench: {n}}}`, the
 *               expect_tip being the cid the previous answer gave; every answer must be 200 with the
 *               next ver (a 409 would mean the bench lost track of a tip)
 * After each PUT run the tips are read back (GET): each file must have gained exactly one version per
 * 200 it answered, plus at most the requests cut off in flight when the run stopped (they are served,
 * not counted). At the end every file's whole chain is re-verified (src/modules/files/verify.ts: cids,
 * prev_cids, ver numbers, tip, bytes), as `stowage files verify` does.
 *
 * Environment:
 *   BENCH_SECONDS          measured duration of each side (default 10)
 *   BENCH_WARMUP_SECONDS   unmeasured warm-up before each side (default 2)
 *   BENCH_CONNECTIONS      HTTP keep-alive connections, and files written (default 32)
 *   BENCH_WORKER           1 (default): run the confirm worker too, as a real process would; 0: API only
 *   DATABASE_URL           a PostgreSQL server to use (a scratch database is created and dropped on it);
 *                          unset: an embedded server is started in a temporary folder and stopped at the end
 *
 * On a small machine the load generator, the server and PostgreSQL share the cores: read the CPU lines.
 *
 * Exit code: 0 when the run worked, whatever the target says (it is a benchmark, not a test);
 * 1 when the run itself is invalid (any non-2xx or socket error, a version miscounted, a chain that does
 * not verify); 2 on a crash.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type Autocannon from 'autocannon';
import {
  InvalidRun,
  beforeStartLine,
  busyCoresBeforeStart,
  envInt,
  fmt,
  machineBusySeconds,
  onCleanup,
  openPostgres,
  percentiles,
  type Percentiles,
  queryCounter,
  runBenchmark,
  sleep,
  startBenchService,
  verdict,
} from './lib.js';

const TARGET_RATIO = 0.5;
const PRESIGN_PATH = '/api/v1/uploads/presign';
const FILES_PATH = '/api/v1/files';
const PROBE_REQUESTS = 50;
const SCOPES = ['uploads:read', 'uploads:write', 'files:read', 'files:write'];

const thisFile = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(thisFile), '..');

// ---------------------------------------------------------------------------------------------------
// Shared shapes

interface FileTip {
  id: string;
  ver: number;
  cid: string;
}

interface LoadSpec {
  kind: 'presign' | 'put';
  url: string;
  apiKey: string;
  connections: number;
  seconds: number;
  /** presign: body names are bench-<offset + n>.bin, so no two runs repeat one. */
  nameOffset: number;
  /** put: one file per connection, at the tip the run starts from. */
  files: FileTip[];
}

/** What one connection did to its file in a PUT run. */
interface FileTally {
  id: string;
  /** Requests written, answered or not. */
  sent: number;
  /** Answers of any status. */
  answered: number;
  /** 200s with the next ver and a cid. */
  ok: number;
  /** The tip the last 200 answered. */
  ver: number;
  cid: string;
}

interface LoadResult {
  ok: number;
  non2xx: number;
  socketErrors: number;
  timeouts: number;
  /** PUT 200s whose ver was not the next one, or without a cid. */
  mismatches: number;
  statusCodes: Record<string, number>;
  errorSamples: string[];
  durationSeconds: number;
  latencyMs: Percentiles;
  cpuSeconds: number;
  files: FileTally[];
}

// ---------------------------------------------------------------------------------------------------
// Child mode: the load generator

async function loadGenerator(spec: LoadSpec): Promise<LoadResult> {
  const { default: autocannon } = await import('autocannon');
  const latencies: number[] = [];
  const errorSamples: string[] = [];
  const sample = (text: string) => {
    if (errorSamples.length < 5) errorSamples.push(text);
  };
  let mismatches = 0;
  const headers = { 'content-type': 'application/json', 'x-api-key': spec.apiKey };
  let options: Autocannon.Options;

  const tallies: FileTally[] = spec.files.map((f) => ({ id: f.id, sent: 0, answered: 0, ok: 0, ver: f.ver, cid: f.cid }));
  if (spec.kind === 'presign') {
    let n = spec.nameOffset;
    options = {
      url: spec.url + PRESIGN_PATH,
      method: 'POST',
      headers,
      requests: [
        {
          setupRequest: (request) => ({ ...request, body: JSON.stringify({ name: `bench-${++n}.bin`, size_bytes: 1024 }) }),
          onResponse: (status, body) => {
            if (status < 200 || status >= 300) sample(`${status} ${String(body).slice(0, 300)}`);
          },
        },
      ],
    } as Autocannon.Options;
  } else {
    // Each client (connection) gets a file of its own and a request that carries its current tip. The
    // requests are set per client: autocannon's shared `context` is reset every time its list of
    // requests wraps around, which with one request is every request.
    let nextClient = 0;
    options = {
      url: spec.url,
      method: 'PUT',
      headers,
      setupClient: (client: Autocannon.Client) => {
        const tally = tallies[nextClient++];
        if (!tally) throw new Error('more autocannon clients than files');
        let n = 0;
        // Emitted as each request is written, the first one included (setupClient runs before the client connects).
        (client as unknown as NodeJS.EventEmitter).on('request', () => tally.sent++);
        client.setRequests([
          {
            method: 'PUT',
            path: `${FILES_PATH}/${tally.id}`,
            setupRequest: (request) => ({
              ...request,
              body: JSON.stringify({ expect_tip: tally.cid, properties: { bench: { n: ++n, at: tally.ver } } }),
            }),
            onResponse: (status, body) => {
              tally.answered++;
              if (status !== 200) return sample(`${status} ${String(body).slice(0, 300)}`);
              // The file's own cid and ver come first in the answer (schema order); a regex is cheaper than JSON.parse.
              const cid = /"cid":"([^"]+)"/.exec(body)?.[1];
              const ver = Number(/"ver":(\d+)/.exec(body)?.[1]);
              if (!cid || ver !== tally.ver + 1) {
                mismatches++;
                return sample(`200 with ver ${ver} after ${tally.ver}, cid ${cid}: ${String(body).slice(0, 200)}`);
              }
              tally.ok++;
              tally.ver = ver;
              tally.cid = cid;
            },
          },
        ] as Autocannon.Request[]);
      },
    } as Autocannon.Options;
  }

  process.send!({ started: true });
  const cpuBefore = process.cpuUsage();
  // Without a callback autocannon returns its instance, an event emitter that is also a promise of the result.
  const instance = autocannon({
    ...options,
    connections: spec.connections,
    duration: spec.seconds,
    pipelining: 1,
    timeout: 10,
  }) as unknown as Autocannon.Instance & Promise<Autocannon.Result>;
  // autocannon emits (client, status, bytes, ms) here, whatever its typings say; ms is a float.
  (instance as unknown as NodeJS.EventEmitter).on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status >= 200 && status < 300) latencies.push(ms);
  });
  instance.on('reqError', (error: unknown) => sample(`socket: ${String((error as Error)?.message ?? error)}`));
  const result = await instance;
  const cpu = process.cpuUsage(cpuBefore);
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = count ?? 0;
  return {
    ok: result['2xx'],
    non2xx: result.non2xx,
    socketErrors: result.errors - result.timeouts,
    timeouts: result.timeouts,
    mismatches,
    statusCodes,
    errorSamples,
    durationSeconds: result.duration,
    latencyMs: percentiles(latencies),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    files: tallies,
  };
}

function runLoadGeneratorChild(): void {
  process.once('message', (spec: LoadSpec) => {
    void loadGenerator(spec).then(
      (result) => process.send!({ result }, () => process.exit(0)),
      (error: unknown) => {
        console.error(`load generator failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        process.exit(2);
      },
    );
  });
  process.send!({ ready: true });
}

// ---------------------------------------------------------------------------------------------------
// Parent mode

interface CpuSnapshot {
  at: number;
  loop: EventLoopUtilization;
  machineBusy: number;
  self: NodeJS.CpuUsage;
}

function cpuSnapshot(): CpuSnapshot {
  return { at: performance.now(), loop: performance.eventLoopUtilization(), machineBusy: machineBusySeconds(), self: process.cpuUsage() };
}

/** Cores used on average between two snapshots: the machine, this process (the server), the load generator, the rest (PostgreSQL, others). */
function cpuSplit(before: CpuSnapshot, after: CpuSnapshot, loadGeneratorSeconds: number) {
  const seconds = (after.at - before.at) / 1000;
  const machine = (after.machineBusy - before.machineBusy) / seconds;
  const server = (after.self.user + after.self.system - before.self.user - before.self.system) / 1e6 / seconds;
  const loadGenerator = loadGeneratorSeconds / seconds;
  return {
    seconds,
    machine,
    server,
    loadGenerator,
    rest: machine - server - loadGenerator,
    eventLoopUtilization: performance.eventLoopUtilization(after.loop, before.loop).utilization,
  };
}

/** Runs the load generator; `around` is called as its run starts and again as its result arrives. */
function runLoad(spec: LoadSpec, around: (phase: 'start' | 'end') => void = () => {}): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', thisFile, '--load-generator'], {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const forget = onCleanup('stop the load generator', async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let answer: LoadResult | null = null;
    child.on('message', (m: { ready?: true; started?: true; result?: LoadResult }) => {
      if (m.ready) child.send(spec);
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

const errorsOf = (r: LoadResult) => r.non2xx + r.socketErrors + r.timeouts + r.mismatches;

async function main(): Promise<number> {
  const seconds = envInt('BENCH_SECONDS', 10, 1, 3600);
  const warmupSeconds = envInt('BENCH_WARMUP_SECONDS', 2, 0, 600);
  const connections = envInt('BENCH_CONNECTIONS', 32, 1, 1000);
  const worker = !['0', 'false', 'no', 'off'].includes((process.env.BENCH_WORKER ?? '1').trim().toLowerCase());

  const busyBefore = await busyCoresBeforeStart();
  console.log('Stowage version-write benchmark (PUT /api/v1/files/{id} against presign)');
  console.log(`  machine     : ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}`);
  const { url: serverUrl, kind: serverKind } = await openPostgres();
  process.env.TEST_DATABASE_URL = serverUrl;
  console.log(`  PostgreSQL  : ${new URL(serverUrl).host} (${serverKind})`);
  console.log(`  plan        : ${warmupSeconds} s warm-up + ${seconds} s measured per side, ${connections} connections, presign then PUT`);
  console.log(`  note        : load generator, server and PostgreSQL share this machine's ${os.cpus().length} cores`);
  console.log(beforeStartLine(busyBefore));

  const { harness: h } = await startBenchService({ STOWAGE_JOB_POLL_SECONDS: '1' }, { worker, storage: 'local' });
  const key = await h.createKey(h.orgId, SCOPES);
  console.log(`  service     : ${h.url}, local storage, rate limits off, logs silent, worker ${worker ? 'on' : 'off'}`);

  // --- one file per connection, made through the API: pending, then its bytes
  const made = performance.now();
  const startTips = new Map<string, FileTip>();
  for (let i = 0; i < connections; i++) {
    const content = `bench file ${i}\n`;
    const created = await h.api('POST', FILES_PATH, {
      key,
      body: { filename: `bench-write-${i}.txt`, content_type: 'text/plain', size: Buffer.byteLength(content) },
    });
    if (created.status !== 201)
      throw new Error(`creating a file answered ${created.status}: ${JSON.stringify(created.body).slice(0, 300)}`);
    const sent = await h.api('POST', `${FILES_PATH}/${created.body.id}/content`, {
      key,
      body: content,
      headers: { 'content-type': 'application/octet-stream' },
    });
    if (sent.status !== 200 || sent.body?.ver !== 1 || typeof sent.body?.cid !== 'string')
      throw new Error(`sending a file's content answered ${sent.status}: ${JSON.stringify(sent.body).slice(0, 300)}`);
    startTips.set(sent.body.id, { id: sent.body.id, ver: 1, cid: sent.body.cid });
  }
  console.log(
    `  files       : ${connections} made (pending + POST content, version 1 each) in ${fmt((performance.now() - made) / 1000, 2)} s`,
  );
  console.log('');

  const pool = h.runtime.database.pool;
  /** Requests cut off when a run stops are still served: wait until nothing holds a database connection. */
  const settle = async () => {
    await sleep(300);
    const deadline = Date.now() + 10_000;
    while ((pool.totalCount !== pool.idleCount || pool.waitingCount > 0) && Date.now() < deadline) await sleep(50);
    await sleep(200);
  };
  const readTip = async (id: string): Promise<FileTip> => {
    const answer = await h.api('GET', `${FILES_PATH}/${id}`, { key });
    if (answer.status !== 200) throw new InvalidRun(`GET ${FILES_PATH}/${id} answered ${answer.status}`);
    return { id, ver: answer.body.ver, cid: answer.body.cid };
  };

  const broken: string[] = [];
  const tips = new Map(startTips);
  const perFile = new Map<string, { ok: number; landed: number }>([...tips.keys()].map((id) => [id, { ok: 0, landed: 0 }]));
  const spec = { url: h.url, apiKey: key, connections, files: [] as FileTip[] };

  /** One PUT run, then its bookkeeping checked against what the server now holds. */
  const putRun = async (label: string, runSeconds: number, around?: (phase: 'start' | 'end') => void) => {
    const result = await runLoad({ ...spec, kind: 'put', seconds: runSeconds, nameOffset: 0, files: [...tips.values()] }, around);
    await settle();
    let landed = 0;
    let cutOff = 0;
    for (const tally of result.files) {
      const before = tips.get(tally.id)!;
      const after = await readTip(tally.id);
      const inFlight = tally.sent - tally.answered;
      const extra = after.ver - before.ver - tally.ok;
      cutOff += inFlight;
      if (extra < 0 || extra > inFlight)
        broken.push(
          `${label}: file ${tally.id} went from ver ${before.ver} to ${after.ver} for ${tally.ok} 200s and ${inFlight} requests cut off`,
        );
      else if (extra === 0 && after.cid !== tally.cid)
        broken.push(`${label}: file ${tally.id} tip ${after.cid} is not the cid its last 200 answered (${tally.cid})`);
      landed += Math.max(0, extra);
      const counts = perFile.get(tally.id)!;
      counts.ok += tally.ok;
      counts.landed += Math.max(0, extra);
      tips.set(tally.id, after);
    }
    return { result, landed, cutOff };
  };

  // --- probe: one request at a time of each, checking the answer and counting the app pool's queries
  const queries = queryCounter(pool);
  const probeFile = [...tips.keys()][0];
  const probes = {
    presign: async (i: number) => {
      const answer = await h.api('POST', PRESIGN_PATH, { key, body: { name: `probe-${i}.bin`, size_bytes: 1024 } });
      if (answer.status !== 200)
        throw new InvalidRun(`presign probe answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 300)}`);
    },
    put: async (i: number) => {
      const tip = tips.get(probeFile)!;
      const answer = await h.api('PUT', `${FILES_PATH}/${probeFile}`, { key, body: { expect_tip: tip.cid, properties: { probe: i } } });
      if (answer.status !== 200 || answer.body?.ver !== tip.ver + 1)
        throw new InvalidRun(`PUT probe answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 300)}`);
      tips.set(probeFile, { id: probeFile, ver: answer.body.ver, cid: answer.body.cid });
      perFile.get(probeFile)!.ok++;
    },
  };
  console.log(`Probe: ${PROBE_REQUESTS} sequential requests of each (fetch from the server's own process), after 10 unmeasured`);
  for (const [name, probe] of Object.entries(probes)) {
    for (let i = 0; i < 10; i++) await probe(-1 - i);
    const times: number[] = [];
    const made = await queries.counting(async () => {
      for (let i = 0; i < PROBE_REQUESTS; i++) {
        const started = performance.now();
        await probe(i);
        times.push(performance.now() - started);
      }
    });
    const latency = percentiles(times);
    const perRequest = made.reduce((sum, [, count]) => sum + count, 0) / PROBE_REQUESTS;
    console.log(
      `  ${name.padEnd(7)}: p50 ${fmt(latency.p50, 2)} ms, p99 ${fmt(latency.p99, 2)} ms; ${fmt(perRequest, 2)} queries per request on the app's pool`,
    );
    for (const [text, count] of made)
      console.log(`      ${fmt(count / PROBE_REQUESTS, 2)} × ${text.length > 110 ? `${text.slice(0, 110)}…` : text}`);
  }
  console.log('');

  // --- presign
  let presignWarmup: LoadResult | null = null;
  if (warmupSeconds > 0) presignWarmup = await runLoad({ ...spec, kind: 'presign', seconds: warmupSeconds, nameOffset: 0 });
  let before: CpuSnapshot | null = null;
  let after: CpuSnapshot | null = null;
  const mark = (phase: 'start' | 'end') => {
    if (phase === 'start') before = cpuSnapshot();
    else after = cpuSnapshot();
  };
  const presign = await runLoad({ ...spec, kind: 'presign', seconds, nameOffset: 1e9 }, mark);
  const presignCpu = cpuSplit(before!, after!, presign.cpuSeconds);
  await settle();

  // --- PUT
  let putWarmup: Awaited<ReturnType<typeof putRun>> | null = null;
  if (warmupSeconds > 0) putWarmup = await putRun('warm-up', warmupSeconds);
  const put = await putRun('measured', seconds, mark);
  const putCpu = cpuSplit(before!, after!, put.result.cpuSeconds);

  // --- report
  const sides = [
    { name: `POST ${PRESIGN_PATH}`, load: presign, warmup: presignWarmup, cpu: presignCpu },
    { name: `PUT ${FILES_PATH}/{id}`, load: put.result, warmup: putWarmup?.result ?? null, cpu: putCpu },
  ];
  const rps = sides.map((s) => s.load.ok / s.load.durationSeconds);
  sides.forEach((side, i) => {
    const { load, warmup, cpu } = side;
    const errors = errorsOf(load) + (warmup ? errorsOf(warmup) : 0);
    console.log(`${side.name}  (${connections} keep-alive connections, ${fmt(load.durationSeconds, 2)} s measured)`);
    console.log(`  requests/s  : ${fmt(rps[i])}  (${load.ok} answered 2xx)`);
    console.log(
      `  latency     : p50 ${fmt(load.latencyMs.p50, 2)} ms, p90 ${fmt(load.latencyMs.p90, 2)} ms, p99 ${fmt(load.latencyMs.p99, 2)} ms, max ${fmt(load.latencyMs.max, 2)} ms`,
    );
    console.log(
      `  errors      : ${errorsOf(load)}  (non-2xx ${load.non2xx}, socket ${load.socketErrors}, timeouts ${load.timeouts}, mismatches ${load.mismatches}; warm-up ${warmup ? errorsOf(warmup) : 0})`,
    );
    console.log(
      `  status codes: ${
        Object.entries(load.statusCodes)
          .map(([c, n]) => `${c}×${n}`)
          .join(', ') || 'none'
      }`,
    );
    for (const s of [...(warmup?.errorSamples ?? []), ...load.errorSamples].slice(0, 5)) console.log(`    e.g. ${s}`);
    console.log(
      `  CPU (cores) : machine ${fmt(cpu.machine, 2)} busy = server ${fmt(cpu.server, 2)} + load generator ${fmt(cpu.loadGenerator, 2)} + PostgreSQL and other ${fmt(cpu.rest, 2)}; server event loop ${fmt(cpu.eventLoopUtilization * 100, 0)}% busy`,
    );
    console.log(`  CPU/request : server ${fmt((cpu.server * cpu.seconds * 1000) / load.ok, 3)} ms`);
    if (errors) broken.push(`${errors} ${side.name} requests failed`);
    if (load.ok === 0) broken.push(`no ${side.name} request succeeded`);
    console.log('');
  });

  // --- every chain: its length, then the whole verify
  const verifyStarted = performance.now();
  const { verifyFile } = await import('../src/modules/files/verify.js');
  let versions = 0;
  let okTotal = 0;
  let landedTotal = 0;
  let lengthMismatches = 0;
  let verifyBreaks = 0;
  for (const [id, counts] of perFile) {
    const tip = await readTip(id);
    okTotal += counts.ok;
    landedTotal += counts.landed;
    if (tip.ver !== 1 + counts.ok + counts.landed) {
      lengthMismatches++;
      broken.push(`file ${id}: ver ${tip.ver}, expected 1 + ${counts.ok} 200s + ${counts.landed} cut off in flight`);
    }
    const report = await verifyFile(h.runtime.database.db, h.runtime.blobs, h.orgId, id);
    versions += report.totals.versions;
    if (report.firstBreak || report.tip.ver !== tip.ver || report.totals.versions !== tip.ver) {
      verifyBreaks++;
      broken.push(
        `file ${id}: verify ${report.firstBreak ? `broke at ver ${report.firstBreak.ver} (${report.firstBreak.check}: ${report.firstBreak.message})` : `counted ${report.totals.versions} versions, tip ${report.tip.ver}, GET ver ${tip.ver}`}`,
      );
    }
  }
  const cutOffs = put.cutOff + (putWarmup?.cutOff ?? 0);
  console.log(`Chains (${perFile.size} files, warm-up and measured PUTs)`);
  console.log(
    `  length      : ${versions} versions = ${perFile.size} created + ${okTotal} PUT 200s + ${landedTotal} PUTs cut off in flight that landed (of ${cutOffs} cut off); ${lengthMismatches} files miscounted`,
  );
  console.log(
    `  verify      : every file's chain re-verified (cids, prev_cids, vers, tip, bytes) in ${fmt((performance.now() - verifyStarted) / 1000, 2)} s; ${verifyBreaks} broken`,
  );
  console.log('');

  const ratio = rps[1] / rps[0];
  console.log('Summary');
  console.log(`  put_rps / presign_rps = ${fmt(rps[1])} / ${fmt(rps[0])} = ${fmt(ratio, 3)}`);
  console.log(`  ${verdict(ratio >= TARGET_RATIO)}  ratio >= ${TARGET_RATIO}  (${fmt(ratio, 3)})`);
  if (broken.length) {
    for (const problem of broken.slice(0, 10)) console.log(`  problem: ${problem}`);
    throw new InvalidRun(broken.length > 10 ? `${broken.length} problems, the first 10 above` : broken.join('; '));
  }
  return 0;
}

if (process.argv.includes('--load-generator')) {
  runLoadGeneratorChild();
} else {
  await runBenchmark(main);
}
