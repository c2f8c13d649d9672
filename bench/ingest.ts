/**
 * `npm run bench:ingest`: throughput and server memory of the simple upload (`POST /api/v1/uploads`,
 * multipart/form-data, local driver) on one large file, against two baselines in the same run:
 *   A. a bare node:http server piping a PUT body into a file while hashing it (sha256, 1 MiB writes);
 *   B. @tus/server + @tus/file-store, fed by tus-js-client.
 *
 *   node --import tsx bench/ingest.ts
 *
 * Environment:
 *   BENCH_SIZE_MIB    size of the test file (default 1024)
 *   BENCH_RUNS        runs of each side, interleaved; medians are reported (default 3)
 *   BENCH_BIG         1: afterwards, one Stowage run on a 4096 MiB file, for the memory figure
 *   BENCH_CHUNKED     1: the client sends Transfer-Encoding: chunked instead of Content-Length
 *   BENCH_TUS_CHUNK_MIB  tus-js-client chunkSize (default: Infinity, one PATCH)
 *   BENCH_BARE_FSYNC  1: baseline A fsyncs its file before answering, as Stowage does
 *   BENCH_FROM_SOURCE 1: run Stowage from src/ under tsx instead of the built dist/cli.js (which
 *                     `npm start` runs; tsx alone adds ~40 MB of resident memory)
 *   DATABASE_URL      a PostgreSQL server (a scratch database is created and dropped on it);
 *                     unset: an embedded server in a temporary folder, stopped at the end
 *
 * Every server runs in a child process of its own (Stowage as `dist/cli.js start`, built first), so its peak RSS
 * can be read from /proc (VmHWM, reset before each run through clear_refs, and VmRSS polled every
 * 50 ms). The client is this process. Between runs the page cache is flushed (`sync`), untimed, so
 * no run pays for the previous one's writeback. Exit code: 0 when the run worked whatever the
 * targets say; 1 when it is invalid (an upload failed or a checksum differs); 2 on a crash.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { createReadStream, createWriteStream, readFileSync, statfsSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import {
  DIST_CLI,
  type ServerChild,
  buildDist,
  fmt,
  median,
  onCleanup,
  openPostgres,
  runBenchmark,
  startBareServer,
  startServerChild,
  verdict,
  scratchDatabase,
} from './lib.js';

const MiB = 1024 * 1024;
const TARGET_RSS_MB = 150;
const TARGET_VS_BARE = 0.85;
const TARGET_VS_TUS = 1.0;
const thisFile = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(thisFile), '..');

// ---------------------------------------------------------------------------------------------------
// Child mode: the tus baseline (the bare one lives in lib.ts). Prints "LISTENING <port>" once it listens.

async function tusServer(dir: string): Promise<void> {
  const { Server } = await import('@tus/server');
  const { FileStore } = await import('@tus/file-store');
  const tus = new Server({ path: '/files', datastore: new FileStore({ directory: dir }) });
  const server = http.createServer((req, res) => void tus.handle(req, res));
  server.listen(0, '127.0.0.1', () => console.log(`LISTENING ${(server.address() as { port: number }).port}`));
}

// ---------------------------------------------------------------------------------------------------
// Parent: the children's memory and CPU, from /proc

const statusKb = (pid: number, field: string) => {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
};
const cpuSeconds = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks (100/s on Linux)
};

/** Peak RSS of a child over one run: VmHWM after resetting it, and VmRSS polled every 50 ms. */
function memoryWatch(pid: number) {
  let reset = true;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    reset = false;
  }
  let polled = statusKb(pid, 'VmRSS');
  const timer = setInterval(() => {
    try {
      polled = Math.max(polled, statusKb(pid, 'VmRSS'));
    } catch {
      // the child is gone; the run will say so
    }
  }, 50);
  return () => {
    clearInterval(timer);
    const hwm = statusKb(pid, 'VmHWM');
    return {
      peakMB: Math.max(polled, reset ? hwm : 0) / 1024,
      hwmMB: reset ? hwm / 1024 : NaN,
      polledMB: polled / 1024,
      afterMB: statusKb(pid, 'VmRSS') / 1024,
    };
  };
}

// ---------------------------------------------------------------------------------------------------
// Parent: the clients

/** Sends `parts` (buffers and file streams) as one request body; answers status and body text. */
function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  parts: () => AsyncIterable<Buffer>,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    pipeline(Readable.from(parts()), req).catch(reject);
  });
}

const fileChunks = (file: string) => createReadStream(file, { highWaterMark: MiB }) as AsyncIterable<Buffer>;

async function uploadStowage(url: string, key: string, file: string, size: number, chunked: boolean) {
  const boundary = `----stowage-bench-${randomBytes(12).toString('hex')}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${path.basename(file)}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const headers: Record<string, string> = { 'x-api-key': key, 'content-type': `multipart/form-data; boundary=${boundary}` };
  if (!chunked) headers['content-length'] = String(head.length + size + tail.length);
  const answer = await send(`${url}/api/v1/uploads`, 'POST', headers, async function* () {
    yield head;
    yield* fileChunks(file);
    yield tail;
  });
  if (answer.status !== 201) throw new Error(`Stowage answered ${answer.status}: ${answer.text.slice(0, 500)}`);
  const body = JSON.parse(answer.text) as { sha256: string; size_bytes: number };
  return { sha256: body.sha256, size: Number(body.size_bytes) };
}

async function uploadBare(url: string, file: string, size: number, chunked: boolean) {
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
  if (!chunked) headers['content-length'] = String(size);
  const answer = await send(`${url}/upload`, 'PUT', headers, () => fileChunks(file));
  if (answer.status !== 201) throw new Error(`bare server answered ${answer.status}: ${answer.text.slice(0, 500)}`);
  return JSON.parse(answer.text) as { sha256: string; size: number };
}

async function uploadTus(url: string, file: string, size: number, chunkSize: number) {
  const { Upload } = await import('tus-js-client');
  await new Promise<void>((resolve, reject) => {
    const upload = new Upload(createReadStream(file, { highWaterMark: MiB }), {
      endpoint: `${url}/files/`,
      chunkSize,
      uploadSize: size,
      retryDelays: [],
      storeFingerprintForResuming: false,
      metadata: { filename: path.basename(file) },
      onError: reject,
      onSuccess: () => resolve(),
    });
    upload.start();
  });
  return { size };
}

// ---------------------------------------------------------------------------------------------------
// Parent: main

/** Writes `mib` MiB of random bytes (each MiB differs) and answers the file's sha256. */
async function writeTestFile(file: string, mib: number): Promise<string> {
  const hash = createHash('sha256');
  const block = randomBytes(16 * MiB);
  await pipeline(
    (async function* () {
      for (let i = 0; i < mib; i++) {
        const chunk = Buffer.from(block.subarray((i % 16) * MiB, ((i % 16) + 1) * MiB));
        randomFillSync(chunk, 0, 32); // no two MiB alike, cheaply
        hash.update(chunk);
        yield chunk;
      }
    })(),
    createWriteStream(file, { highWaterMark: 4 * MiB }),
  );
  return hash.digest('hex');
}

/** Removes what the servers stored, keeping their own files (dot folders, signing secret). */
async function emptyStores(stowageData: string, bareDir: string, tusDir: string) {
  const blobs = path.join(stowageData, 'blobs'); // the local driver's root; its dot folders are its own
  for (const entry of await readdir(blobs, { withFileTypes: true }).catch(() => [])) {
    if (entry.isDirectory() && !entry.name.startsWith('.')) await rm(path.join(blobs, entry.name), { recursive: true, force: true });
  }
  for (const dir of [bareDir, tusDir])
    for (const entry of await readdir(dir)) await rm(path.join(dir, entry), { recursive: true, force: true });
  execFileSync('sync');
}

interface Run {
  mbps: number;
  seconds: number;
  peakMB: number;
  hwmMB: number;
  polledMB: number;
  serverCpu: number;
  clientCpu: number;
}

async function measure(child: ServerChild, upload: () => Promise<unknown>, size: number): Promise<Run> {
  const pid = child.proc.pid!;
  const watch = memoryWatch(pid);
  const cpuBefore = cpuSeconds(pid);
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  await upload().catch((error: Error) => {
    throw new Error(`${error.message}\n--- ${child.name}'s last output:\n${child.output().slice(-3000)}`);
  });
  const seconds = (performance.now() - started) / 1000;
  const client = process.cpuUsage(clientBefore);
  const mem = watch();
  return {
    mbps: size / 1e6 / seconds,
    seconds,
    peakMB: mem.peakMB,
    hwmMB: mem.hwmMB,
    polledMB: mem.polledMB,
    serverCpu: (cpuSeconds(pid) - cpuBefore) / seconds,
    clientCpu: (client.user + client.system) / 1e6 / seconds,
  };
}

const line = (name: string, i: number, r: Run) =>
  console.log(
    `  ${name.padEnd(8)} run ${i}: ${fmt(r.mbps).padStart(7)} MB/s  ${fmt(r.seconds, 2).padStart(6)} s  server peak RSS ${fmt(r.peakMB).padStart(6)} MB (VmHWM ${fmt(r.hwmMB)}, polled ${fmt(r.polledMB)})  CPU cores: server ${fmt(r.serverCpu, 2)}, client ${fmt(r.clientCpu, 2)}`,
  );

async function main(): Promise<number> {
  const int = (name: string, fallback: number) => {
    const v = Number(process.env[name]?.trim() || fallback);
    if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive whole number`);
    return v;
  };
  const sizeMiB = int('BENCH_SIZE_MIB', 1024);
  const runs = int('BENCH_RUNS', 3);
  const big = process.env.BENCH_BIG === '1';
  const chunked = process.env.BENCH_CHUNKED === '1';
  const tusChunk = process.env.BENCH_TUS_CHUNK_MIB ? int('BENCH_TUS_CHUNK_MIB', 64) * MiB : Infinity;
  const bareFsync = process.env.BENCH_BARE_FSYNC === '1';
  const largest = Math.max(sizeMiB, big ? 4096 : 0) * MiB;

  const work = await mkdtemp(path.join(os.tmpdir(), 'stowage-bench-ingest-'));
  onCleanup('remove the temporary folder', () => rm(work, { recursive: true, force: true }));
  const fs = statfsSync(work);
  const free = fs.bavail * fs.bsize;
  if (free < 2 * largest)
    throw new Error(
      `${work} has ${fmt(free / 2 ** 30, 2)} GiB free; this needs ${fmt((2 * largest) / 2 ** 30, 2)} GiB (2× the largest file)`,
    );

  // --- PostgreSQL and the scratch database
  const server = await openPostgres();
  const serverUrl = server.url;
  const pgKind = server.embedded ? 'embedded' : 'DATABASE_URL';
  const { name: dbName, url: scratchUrl } = await scratchDatabase(serverUrl);
  const dbUrl = new URL(scratchUrl);

  // --- The servers
  const stowageData = path.join(work, 'stowage-data');
  const bareDir = path.join(work, 'bare');
  const tusDir = path.join(work, 'tus');
  execFileSync('mkdir', ['-p', stowageData, bareDir, tusDir]);
  const stowageEnv = {
    DATABASE_URL: dbUrl.toString(),
    STOWAGE_DATA_DIR: stowageData,
    PORT: '0',
    HOST: '127.0.0.1',
    RATE_LIMIT_ENABLED: 'false',
    LOG_LEVEL: 'warn',
    STOWAGE_SIMPLE_UPLOAD_MAX_BYTES: String(largest),
    STOWAGE_SIGNING_SECRET: randomBytes(24).toString('hex'),
  };
  const cli = process.env.BENCH_FROM_SOURCE === '1' ? ['--import', 'tsx', 'src/cli.ts'] : [DIST_CLI];
  if (cli[0] === DIST_CLI) console.log(`  build       : ${buildDist()}`);
  const keyOut = execFileSync(process.execPath, [...cli, 'keys', 'create', '--org', 'bench', '--scopes', 'admin', '--create-org'], {
    cwd: root,
    env: { ...process.env, ...stowageEnv },
    encoding: 'utf8',
  });
  const apiKey = keyOut.trim().split('\n').pop()!.trim();
  const stowage = await startServerChild('Stowage', [...cli, 'start'], stowageEnv, /Stowage is serving at (\S+)/, (u) => u);
  const bare = await startBareServer(bareDir, { fsync: bareFsync, name: 'bare' });
  const tus = await startServerChild(
    'tus',
    ['--import', 'tsx', thisFile, '--tus-server', tusDir],
    {},
    /LISTENING (\d+)/,
    (p) => `http://127.0.0.1:${p}`,
  );
  await new Promise((r) => setTimeout(r, 1000)); // let start-up garbage settle before the idle figure
  const idleMB = (c: ServerChild) => statusKb(c.proc.pid!, 'VmRSS') / 1024;

  const versions = ['@tus/server', '@tus/file-store', 'tus-js-client'].map(
    (p) => `${p} ${JSON.parse(readFileSync(path.join(root, 'node_modules', p, 'package.json'), 'utf8')).version}`,
  );
  console.log('Stowage ingest benchmark');
  console.log(
    `  machine     : ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${fmt(os.totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}`,
  );
  console.log(`  note        : client, servers and PostgreSQL share these ${os.cpus().length} cores; the client is this process`);
  console.log(`  PostgreSQL  : ${pgKind}, database ${dbName}`);
  console.log(
    `  plan        : ${sizeMiB} MiB file, ${runs} runs per side interleaved, body ${chunked ? 'chunked' : 'with Content-Length'}, 1 MiB client reads${big ? '; then Stowage on 4096 MiB' : ''}`,
  );
  console.log(
    `  baselines   : A bare node:http PUT → sha256 + file (1 MiB writes${bareFsync ? ', fsync' : ', no fsync'}); B ${versions.join(', ')}, chunkSize ${Number.isFinite(tusChunk) ? `${tusChunk / MiB} MiB` : 'Infinity'}`,
  );
  console.log(
    `  idle RSS    : Stowage ${fmt(idleMB(stowage))} MB (${cli.length === 1 ? cli[0] : 'src/cli.ts under tsx'}), bare ${fmt(idleMB(bare))} MB, tus ${fmt(idleMB(tus))} MB`,
  );
  console.log(`  MB = 10^6 bytes; times run from the first byte sent to the whole answer (Stowage: stored, fsynced, row committed)`);
  console.log('');

  const problems: string[] = [];
  const file = path.join(work, `bench-${sizeMiB}.bin`);
  const size = sizeMiB * MiB;
  let started = performance.now();
  const sha = await writeTestFile(file, sizeMiB);
  console.log(`Test file: ${sizeMiB} MiB written in ${fmt((performance.now() - started) / 1000, 1)} s, sha256 ${sha}`);
  await emptyStores(stowageData, bareDir, tusDir);

  const results: Record<'stowage' | 'bare' | 'tus', Run[]> = { stowage: [], bare: [], tus: [] };
  for (let i = 1; i <= runs; i++) {
    const s = await measure(
      stowage,
      async () => {
        const got = await uploadStowage(stowage.url, apiKey, file, size, chunked);
        if (got.sha256 !== sha || got.size !== size) problems.push(`Stowage run ${i}: stored ${got.size} bytes, sha256 ${got.sha256}`);
      },
      size,
    );
    line('Stowage', i, s);
    results.stowage.push(s);
    await emptyStores(stowageData, bareDir, tusDir);
    const b = await measure(
      bare,
      async () => {
        const got = await uploadBare(bare.url, file, size, chunked);
        if (got.sha256 !== sha || got.size !== size) problems.push(`bare run ${i}: stored ${got.size} bytes, sha256 ${got.sha256}`);
      },
      size,
    );
    line('bare', i, b);
    results.bare.push(b);
    await emptyStores(stowageData, bareDir, tusDir);
    const t = await measure(
      tus,
      async () => {
        await uploadTus(tus.url, file, size, tusChunk);
        const stored = (await readdir(tusDir)).filter((f) => !f.endsWith('.json'));
        const sizes = await Promise.all(stored.map(async (f) => (await stat(path.join(tusDir, f))).size));
        if (sizes.length !== 1 || sizes[0] !== size) problems.push(`tus run ${i}: stored files of ${sizes.join(', ')} bytes`);
      },
      size,
    );
    line('tus', i, t);
    results.tus.push(t);
    await emptyStores(stowageData, bareDir, tusDir);
  }

  const med = (k: keyof typeof results, f: keyof Run) => median(results[k].map((r) => r[f]));
  const [sMbps, bMbps, tMbps] = [med('stowage', 'mbps'), med('bare', 'mbps'), med('tus', 'mbps')];
  const peak1 = Math.max(...results.stowage.map((r) => r.peakMB));
  console.log('');
  console.log(
    `Medians (${sizeMiB} MiB):  Stowage ${fmt(sMbps)} MB/s (server ${fmt(med('stowage', 'serverCpu'), 2)} cores), bare ${fmt(bMbps)} MB/s (${fmt(med('bare', 'serverCpu'), 2)}), tus ${fmt(tMbps)} MB/s (${fmt(med('tus', 'serverCpu'), 2)})`,
  );
  console.log(
    `  server peak RSS: Stowage ${fmt(peak1)} MB (max of runs), bare ${fmt(Math.max(...results.bare.map((r) => r.peakMB)))} MB, tus ${fmt(Math.max(...results.tus.map((r) => r.peakMB)))} MB`,
  );

  let peakBig = NaN;
  if (big) {
    await rm(file, { force: true });
    const bigFile = path.join(work, 'bench-4096.bin');
    started = performance.now();
    const bigSha = await writeTestFile(bigFile, 4096);
    console.log(`\nTest file: 4096 MiB written in ${fmt((performance.now() - started) / 1000, 1)} s`);
    await emptyStores(stowageData, bareDir, tusDir);
    const r = await measure(
      stowage,
      async () => {
        const got = await uploadStowage(stowage.url, apiKey, bigFile, 4096 * MiB, chunked);
        if (got.sha256 !== bigSha || got.size !== 4096 * MiB)
          problems.push(`Stowage 4 GiB: stored ${got.size} bytes, sha256 ${got.sha256}`);
      },
      4096 * MiB,
    );
    line('Stowage', 1, r);
    peakBig = r.peakMB;
    await rm(bigFile, { force: true });
    await emptyStores(stowageData, bareDir, tusDir);
  }

  console.log('\nSummary');
  console.log(`  Stowage / bare = ${fmt(sMbps)} / ${fmt(bMbps)} = ${fmt(sMbps / bMbps, 3)}`);
  console.log(`  Stowage / tus  = ${fmt(sMbps)} / ${fmt(tMbps)} = ${fmt(sMbps / tMbps, 3)}`);
  console.log(`  ${verdict(sMbps / bMbps >= TARGET_VS_BARE)}  Stowage/bare >= ${TARGET_VS_BARE}  (${fmt(sMbps / bMbps, 3)})`);
  console.log(`  ${verdict(sMbps / tMbps >= TARGET_VS_TUS)}  Stowage/tus >= ${TARGET_VS_TUS}  (${fmt(sMbps / tMbps, 3)})`);
  console.log(`  ${verdict(peak1 < TARGET_RSS_MB)}  Stowage peak RSS < ${TARGET_RSS_MB} MB at ${sizeMiB} MiB  (${fmt(peak1)} MB)`);
  if (big) console.log(`  ${verdict(peakBig < TARGET_RSS_MB)}  Stowage peak RSS < ${TARGET_RSS_MB} MB at 4096 MiB  (${fmt(peakBig)} MB)`);
  else console.log('  (4096 MiB memory run skipped: set BENCH_BIG=1)');
  console.log(
    `  note: ${os.cpus().length} cores shared by client and server (and PostgreSQL); sha256 of every Stowage and bare upload checked`,
  );
  for (const child of [stowage, bare, tus]) if (child.proc.exitCode !== null) problems.push(`${child.name} exited during the run`);
  if (problems.length) console.log(`  INVALID RUN: ${problems.join('; ')}`);
  return problems.length ? 1 : 0;
}

if (process.argv.includes('--tus-server')) await tusServer(process.argv[process.argv.indexOf('--tus-server') + 1]);
else {
  // Unlike the other benchmarks, an uncaught error here ends the process as Node does, without the cleanup.
  await runBenchmark(main, { catchUncaught: false });
}
