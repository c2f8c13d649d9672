/**
 * `npm run bench:multipart`: end-to-end throughput of `stowage upload` (hash, multipart parts in
 * parallel, complete, confirm) against a bare node:http PUT of the same file, in the same run.
 *
 *   node --import tsx bench/multipart.ts
 *
 * Stowage: the whole service in this process (startBenchService: local driver, rate limits off, its
 * worker on), and the CLI as a child run as users run the `stowage` binary: the compiled
 * `node dist/cli.js upload FILE --parallel 4 --part-size 64MiB`, so no TypeScript loader is timed. The
 * benchmark runs `npm run build` first; type errors elsewhere in src/ only earn a warning, since tsc
 * still emits, and the run stops only when dist/cli.js is missing afterwards. The time runs from the
 * spawn to the child's exit; the run counts only if it exits 0 and the upload it printed reads back
 * `confirmed` with the file's size and sha256. So the figure holds the CLI's start-up, its sha256 pass
 * over the file (beside the parts, in a worker thread), the parts (each synced to disk before it is acknowledged, and hashed by the local
 * driver in the background as they arrive), the completion (a truncate, sync and link: parts are
 * written in place, nothing is copied) and the wait for the confirm job's verdict (it trusts the
 * driver's digest and reads only the head, for sniffing).
 *
 * Baselines: a bare node:http server in a child process piping one PUT body into a file while hashing
 * it (sha256, 1 MiB writes), fed by a plain node:http client in this process streaming the file with
 * its Content-Length (1 MiB reads); its time runs from the request to the answer. Twice over, as two
 * servers: without fsync (the target's baseline) and with an fsync before answering, for context,
 * since Stowage is durable before it acknowledges a part and the no-fsync server is not.
 *
 * The breakdown of a Stowage run comes from the database afterwards, so costs nothing while timing:
 *   start = uploads.created_at (POST /multipart, the CLI's first request) − spawn
 *   parts + complete = jobs.created_at (the confirm job, enqueued by /complete) − uploads.created_at;
 *                      the CLI (the SDK's uploadFile) hashes the file meanwhile, in a worker thread
 *   confirm + wait = exit − jobs.created_at (pickup, the job's stat and head read, the CLI's polling)
 *
 * Environment:
 *   BENCH_CLIENT    cli (default) or sdk: which client is timed (see BENCH_CLIENT=sdk below)
 *   BENCH_SIZE_MIB  size of the test file (default 2048)
 *   BENCH_RUNS      runs of each side, interleaved; medians are reported (default 3)
 *   BENCH_PARALLEL  the CLI's --parallel (default 4)
 *   BENCH_PART_MIB  the CLI's --part-size in MiB (default 64)
 *   DATABASE_URL    a PostgreSQL server (a scratch database is created and dropped on it);
 *                   unset: an embedded server in a temporary folder, stopped at the end
 *
 * The last 32 bytes of the file change before each Stowage run: the service deduplicates a declared
 * sha256 it already holds, and a repeated file would be answered without any upload. Between runs
 * the stored copies are removed and the page cache flushed (`sync`), untimed.
 * BENCH_CLIENT=sdk times the SDK instead of the CLI: a child running the compiled
 * `uploadFile` of packages/client/dist (the path the CLI runs; this mode times it without the CLI's start-up and bars), no TypeScript loader, with
 * the same --parallel and part size. It hashes the file while the parts go out (a worker thread) and
 * declares the sha256 at completion, so the file is read twice but at the same time. The breakdown
 * comes from the child's own progress reports (times since its process started):
 *   start-up = until uploadFile is called (Node and the SDK's imports)
 *   hash     = uploadFile called → the sha256 known (overlaps the parts)
 *   parts    = uploadFile called → every part stored
 *   confirm + wait = every part stored → exit (complete, the job, the SDK's polling)
 * Its target is >= 0.9 × the bare PUT.
 *
 * Exit code: 0 when the run worked whatever the target says; 1 when it is invalid; 2 on a crash.
 */
// As in `stowage start`, whose service this process hosts: the CLI sizes libuv's pool before anything uses it.
import '../src/threadpool.js';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { sql } from 'kysely';
import { cliEnv } from '../test/helpers/cli.js';
import {
  DIST_CLI,
  InvalidRun,
  MIB,
  buildDist,
  type ServerChild,
  VaryingFile,
  beforeStartLine,
  busyCoresBeforeStart,
  envInt,
  fmt,
  machineBusySeconds,
  median,
  onCleanup,
  openPostgres,
  putFile,
  requireDiskFor,
  runBenchmark,
  sizeLabel,
  startBareServer,
  startBenchService,
  verdict,
} from './lib.js';

const CLIENT = process.env.BENCH_CLIENT === 'sdk' ? 'sdk' : 'cli';
// Issue 14: the CLI, now the SDK's uploadFile, at >= 0.9 × a bare PUT either way.
const TARGET_VS_BARE = 0.9;
const thisFile = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(thisFile), '..');

/**
 * The SDK child: uploads BENCH_FILE with the compiled `uploadFile` and prints one JSON line, times in
 * seconds since its process started.
 */
const SDK_CHILD = `
const { createStowageClient } = await import(process.env.SDK_CORE);
const { uploadFile } = await import(process.env.SDK_NODE);
const s = () => performance.now() / 1000;
const client = createStowageClient({ baseUrl: process.env.STOWAGE_URL, apiKey: process.env.STOWAGE_API_KEY });
const at = { called: s(), hashed: null, sent: null };
const upload = await uploadFile(client, process.env.BENCH_FILE, {
  parallel: Number(process.env.BENCH_PARALLEL),
  partSize: Number(process.env.BENCH_PART_BYTES),
  stateDir: process.env.STOWAGE_CACHE_DIR,
  onProgress: (p) => {
    if (at.hashed === null && p.hashedBytes === p.totalBytes) at.hashed = s();
    if (at.sent === null && p.doneParts === p.totalParts) at.sent = s();
  },
});
console.log(JSON.stringify({ id: upload.id, at: { ...at, done: s() } }));
`;

function spawnSdkChild(env: Record<string, string>): ChildProcess {
  const dist = path.join(root, 'packages', 'client', 'dist');
  return spawn(process.execPath, ['--input-type=module', '-e', SDK_CHILD], {
    cwd: root,
    env: cliEnv({
      ...env,
      SDK_CORE: pathToFileURL(path.join(dist, 'index.js')).href,
      SDK_NODE: pathToFileURL(path.join(dist, 'node.js')).href,
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** The `stowage` binary as users run it, with the environment test/helpers/cli.ts gives the one run from source. */
function spawnDistCli(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [DIST_CLI, ...args], { cwd: root, env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
}

// ---------------------------------------------------------------------------------------------------
// Main

interface SdkReport {
  id: string;
  at: { called: number; hashed: number | null; sent: number | null; done: number };
}
interface StowageRun {
  seconds: number;
  mbps: number;
  /** SDK only: Node's start and the SDK's imports, until uploadFile is called. */
  startupS: number;
  hashS: number;
  partsS: number;
  confirmS: number;
  busyCores: number;
}
interface BareRun {
  seconds: number;
  mbps: number;
  busyCores: number;
}

function runChild(child: ChildProcess, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr = (stderr + d).slice(-20_000)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new InvalidRun(`the CLI did not finish in ${timeoutMs / 1000} s; stderr: ${stderr.slice(-2000)}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function main(): Promise<number> {
  const sizeMiB = envInt('BENCH_SIZE_MIB', 2048, 65, 16384);
  const runs = envInt('BENCH_RUNS', 3, 1, 100);
  const parallel = envInt('BENCH_PARALLEL', 4, 1, 64);
  const partMiB = envInt('BENCH_PART_MIB', 64, 5, 5120);
  const size = sizeMiB * MIB;
  const tmp = os.tmpdir();

  console.log(`Stowage multipart (${CLIENT === 'sdk' ? 'SDK uploadFile' : 'CLI'}) benchmark`);
  console.log(
    `  machine     : ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${fmt(os.totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}`,
  );
  console.log(
    `  note        : the CLI, the service (with its worker), the bare servers, this client and PostgreSQL share these ${os.cpus().length} cores`,
  );
  // Before the idle check, so the build's own CPU does not count as someone else's.
  console.log(`  build       : ${buildDist()}`);
  console.log(beforeStartLine(await busyCoresBeforeStart()));
  // Parts land in place in the blob's own file, so the source file and one stored copy is all there is at once.
  await requireDiskFor(tmp, size);

  const scratch = await mkdtemp(path.join(tmp, 'stowage-bench-multipart-'));
  onCleanup('remove the bench files', () => rm(scratch, { recursive: true, force: true }));
  const bareDir = path.join(scratch, 'bare');
  const cacheDir = path.join(scratch, 'cli-cache');
  await mkdir(bareDir, { recursive: true });
  await mkdir(cacheDir, { recursive: true });

  const { url: serverUrl, kind: serverKind } = await openPostgres();
  process.env.TEST_DATABASE_URL = serverUrl;
  console.log(`  PostgreSQL  : ${new URL(serverUrl).host} (${serverKind})`);

  let at = performance.now();
  const file = await VaryingFile.create(path.join(scratch, `bench-${sizeMiB}.bin`), size);
  console.log(
    `  file        : ${sizeLabel(sizeMiB)} of random bytes written in ${fmt((performance.now() - at) / 1000, 1)} s (last 32 bytes change before each Stowage run)`,
  );

  const { harness: h } = await startBenchService(
    { STOWAGE_JOB_POLL_SECONDS: '0.5', STOWAGE_MULTIPART_MAX_BYTES: String(Math.max(size, 250 * 1024 ** 3)) },
    { storage: 'local' },
  );
  const bare = await startBareServer(bareDir, { fsync: false });
  const bareFsync = await startBareServer(bareDir, { fsync: true });
  const blobs = path.join(h.dataDir, 'blobs');
  console.log(`  service     : ${h.url} (in this process, local driver under ${blobs}, rate limits off, job poll 0.5 s)`);
  console.log(`  bare        : ${bare.url} (child process: PUT body → sha256 + file, 1 MiB writes, no fsync)`);
  console.log(`  bare fsync  : ${bareFsync.url} (the same, fsync before answering: durable, as Stowage is)`);

  const env = { STOWAGE_URL: h.url, STOWAGE_API_KEY: h.keys.writer, STOWAGE_CACHE_DIR: cacheDir };
  // What Node's start-up and the CLI's imports alone cost: inside every Stowage figure, not part of the upload itself.
  at = performance.now();
  const help = await runChild(spawnDistCli(['help'], env), 60_000);
  const startupS = (performance.now() - at) / 1000;
  console.log(
    CLIENT === 'sdk'
      ? `  SDK         : uploadFile(FILE, { parallel: ${parallel}, partSize: ${partMiB} MiB }) from packages/client/dist in a child; the CLI's \`help\` alone takes ${fmt(startupS, 2)} s`
      : `  CLI         : node dist/cli.js upload FILE --parallel ${parallel} --part-size ${partMiB}MiB; \`help\` alone takes ${fmt(startupS, 2)} s (exit ${help.code})`,
  );
  console.log('  MB = 10^6 bytes');
  console.log('');

  const emptyStores = async () => {
    for (const entry of await readdir(blobs, { withFileTypes: true }).catch(() => [])) {
      if (entry.isDirectory() && !entry.name.startsWith('.')) await rm(path.join(blobs, entry.name), { recursive: true, force: true });
    }
    for (const entry of await readdir(bareDir)) await rm(path.join(bareDir, entry), { force: true });
    execFileSync('sync');
  };

  const stowageRun = async (i: number): Promise<StowageRun> => {
    const sha = await file.next();
    execFileSync('sync');
    const busy = machineBusySeconds();
    const spawnedAt = Date.now();
    const started = performance.now();
    const child =
      CLIENT === 'sdk'
        ? spawnSdkChild({ ...env, BENCH_FILE: file.path, BENCH_PARALLEL: String(parallel), BENCH_PART_BYTES: String(partMiB * MIB) })
        : spawnDistCli(['upload', file.path, '--parallel', String(parallel), '--part-size', `${partMiB}MiB`], env);
    const out = await runChild(child, 30 * 60_000);
    const seconds = (performance.now() - started) / 1000;
    const endedAt = Date.now();
    const busyCores = (machineBusySeconds() - busy) / seconds;
    if (out.code !== 0)
      throw new InvalidRun(`Stowage run ${i}: the ${CLIENT} child exited ${out.code}; stderr: ${out.stderr.slice(-2000)}`);
    const lastLine = out.stdout.trim().split('\n').pop()!.trim();
    const sdk = CLIENT === 'sdk' ? (JSON.parse(lastLine) as SdkReport) : null;
    const id = sdk ? sdk.id : lastLine;
    const view = await h.api('GET', `/api/v1/uploads/${id}`, { key: h.keys.writer });
    if (view.status !== 200 || view.body.status !== 'confirmed' || view.body.sha256 !== sha || Number(view.body.size_bytes) !== size) {
      throw new InvalidRun(
        `Stowage run ${i}: upload ${id} reads ${view.status} ${JSON.stringify(view.body).slice(0, 500)}; expected confirmed, ${size} bytes, sha256 ${sha}`,
      );
    }
    const row = (
      await sql<{ created: Date; job_created: Date | null }>`
      SELECT u.created_at AS created, j.created_at AS job_created
        FROM uploads u LEFT JOIN jobs j ON j.id = u.confirm_job_id WHERE u.id = ${id}`.execute(h.runtime.database.db)
    ).rows[0];
    const created = row ? new Date(row.created).getTime() : NaN;
    const jobCreated = row?.job_created ? new Date(row.job_created).getTime() : NaN;
    if (sdk) {
      const { called, hashed, sent, done } = sdk.at;
      return {
        seconds,
        mbps: size / 1e6 / seconds,
        busyCores,
        startupS: called,
        hashS: (hashed ?? NaN) - called,
        partsS: (sent ?? NaN) - called,
        confirmS: seconds - (sent ?? NaN),
      };
    }
    return {
      seconds,
      mbps: size / 1e6 / seconds,
      busyCores,
      startupS: NaN,
      hashS: (created - spawnedAt) / 1000,
      partsS: (jobCreated - created) / 1000,
      confirmS: (endedAt - jobCreated) / 1000,
    };
  };

  const bareRun = async (server: ServerChild, i: number): Promise<BareRun> => {
    const busy = machineBusySeconds();
    const started = performance.now();
    const answer = await putFile(`${server.url}/upload`, 'PUT', { 'content-type': 'application/octet-stream' }, file.path, size).catch(
      (error: Error) => {
        throw new InvalidRun(`${server.name} run ${i}: ${error.message}\n${server.output().slice(-2000)}`);
      },
    );
    const seconds = (performance.now() - started) / 1000;
    const busyCores = (machineBusySeconds() - busy) / seconds;
    if (answer.status !== 201) throw new InvalidRun(`${server.name} run ${i}: answered ${answer.status}: ${answer.body.slice(0, 500)}`);
    const got = JSON.parse(answer.body) as { size: number; sha256: string };
    if (got.size !== size || got.sha256 !== file.sha256)
      throw new InvalidRun(`${server.name} run ${i}: stored ${got.size} bytes, sha256 ${got.sha256}; expected ${file.sha256}`);
    return { seconds, mbps: size / 1e6 / seconds, busyCores };
  };

  await emptyStores();
  const stowage: StowageRun[] = [];
  const bareRuns: BareRun[] = [];
  const bareFsyncRuns: BareRun[] = [];
  const bareLine = (label: string, i: number, b: BareRun) =>
    console.log(
      `  ${label.padEnd(10)} run ${i}: ${fmt(b.mbps).padStart(7)} MB/s  ${fmt(b.seconds, 2).padStart(6)} s  (machine ${fmt(b.busyCores, 2)} cores busy)`,
    );
  console.log(`Runs (${sizeLabel(sizeMiB)}, interleaved)`);
  for (let i = 1; i <= runs; i++) {
    const s = await stowageRun(i);
    stowage.push(s);
    const phases =
      CLIENT === 'sdk'
        ? `start-up ${fmt(s.startupS, 2)} s + parts ${fmt(s.partsS, 2)} s (hash beside them: ${fmt(s.hashS, 2)} s) + complete + confirm + wait ${fmt(s.confirmS, 2)} s`
        : `start ${fmt(s.hashS, 2)} s + parts + complete ${fmt(s.partsS, 2)} s + confirm + wait ${fmt(s.confirmS, 2)} s`;
    console.log(
      `  ${'Stowage'.padEnd(10)} run ${i}: ${fmt(s.mbps).padStart(7)} MB/s  ${fmt(s.seconds, 2).padStart(6)} s  = ${phases}  (machine ${fmt(s.busyCores, 2)} cores busy)`,
    );
    await emptyStores();
    const b = await bareRun(bare, i);
    bareRuns.push(b);
    bareLine('bare', i, b);
    await emptyStores();
    const f = await bareRun(bareFsync, i);
    bareFsyncRuns.push(f);
    bareLine('bare fsync', i, f);
    await emptyStores();
  }

  const sMbps = median(stowage.map((r) => r.mbps));
  const bMbps = median(bareRuns.map((r) => r.mbps));
  const fMbps = median(bareFsyncRuns.map((r) => r.mbps));
  const ratio = sMbps / bMbps;
  const ratioFsync = sMbps / fMbps;
  const med = (f: keyof StowageRun) => median(stowage.map((r) => r[f]));
  const partsMbps = size / 1e6 / med('partsS');
  console.log('');
  console.log(`Medians (${sizeLabel(sizeMiB)}, ${runs} run${runs === 1 ? '' : 's'} each)`);
  console.log(`  Stowage ${CLIENT === 'sdk' ? 'SDK' : 'CLI'} : ${fmt(sMbps)} MB/s, ${fmt(med('seconds'), 2)} s end to end`);
  if (CLIENT === 'sdk') {
    console.log(`    start-up           ${fmt(med('startupS'), 2).padStart(6)} s  (Node and the SDK's imports)`);
    console.log(
      `    parts              ${fmt(med('partsS'), 2).padStart(6)} s  (${fmt(partsMbps)} MB/s over the parts phase, parallel ${parallel})`,
    );
    console.log(
      `    hash (beside them) ${fmt(med('hashS'), 2).padStart(6)} s  (${fmt(size / 1e6 / med('hashS'))} MB/s in a worker thread, while the parts went out)`,
    );
    console.log(`    confirm + wait     ${fmt(med('confirmS'), 2).padStart(6)} s  (complete with the sha256, the job, the SDK's polling)`);
  } else {
    console.log(`    start              ${fmt(med('hashS'), 2).padStart(6)} s  (node, the CLI's imports, POST /multipart)`);
    console.log(
      `    parts + complete   ${fmt(med('partsS'), 2).padStart(6)} s  (${fmt(partsMbps)} MB/s over the parts phase, --parallel ${parallel}; the sha256 computed meanwhile)`,
    );
    console.log(
      `    confirm + wait     ${fmt(med('confirmS'), 2).padStart(6)} s  (job pickup, the job's stat and head read, the CLI's polling)`,
    );
  }
  console.log(`  bare PUT    : ${fmt(bMbps)} MB/s, ${fmt(median(bareRuns.map((r) => r.seconds)), 2)} s`);
  console.log(`  bare + fsync: ${fmt(fMbps)} MB/s, ${fmt(median(bareFsyncRuns.map((r) => r.seconds)), 2)} s`);
  console.log('');
  console.log('Summary');
  console.log(`  Stowage / bare       = ${fmt(sMbps)} / ${fmt(bMbps)} = ${fmt(ratio, 3)}`);
  console.log(
    `  Stowage / bare fsync = ${fmt(sMbps)} / ${fmt(fMbps)} = ${fmt(ratioFsync, 3)}  (context: a baseline as durable as Stowage)`,
  );
  console.log(
    `  ${verdict(ratio >= TARGET_VS_BARE)}  Stowage ${CLIENT === 'sdk' ? 'SDK' : 'CLI'} / bare PUT >= ${TARGET_VS_BARE}  (${fmt(ratio, 3)})`,
  );
  const reads =
    CLIENT === 'sdk'
      ? 'the SDK reads the file twice at once (the hash beside the parts)'
      : 'the CLI (the SDK underneath) reads the file twice at once (the hash beside the parts)';
  console.log(
    `  note: ${os.cpus().length} cores shared by everything; ${reads}; the local driver hashes the parts in the background as they arrive and the confirm job trusts that digest; parts are written in place, so completing copies nothing; every upload's size and sha256 checked`,
  );
  for (const server of [bare, bareFsync]) if (server.proc.exitCode !== null) throw new InvalidRun(`${server.name} exited during the run`);
  return 0;
}

await runBenchmark(main);
