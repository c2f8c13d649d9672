/**
 * `npm run bench:download`: throughput of a signed local-driver download of a large file, against nginx
 * serving the same file from disk on loopback in the same run, and a bare Node server for context.
 *
 *   node --import tsx bench/download.ts
 *
 * One file of BENCH_SIZE_MIB random bytes is uploaded once (presign → PUT → confirm), then fetched
 * BENCH_RUNS times from each server, in rotating order, after one unmeasured warm-up fetch each:
 *   - Stowage : the URL of GET /api/v1/uploads/{id}/download-url (asked afresh each run, not timed)
 *   - nginx   : the stored blob file itself, nginx's root being its folder (sendfile on, access_log off,
 *               worker_processes 1), from a nginx.conf this script writes in a temporary folder
 *   - Node    : a bare node:http server doing fs.createReadStream(file).pipe(res) (Node's defaults)
 * Stowage and the bare Node server run in this process; nginx in its own. Every fetch is made by the
 * same client code in a child process (this file with --client), reading and discarding the body, timed
 * from the request to the body's last byte: by default a minimal HTTP/1.1 client on a plain socket
 * (see fetchRaw: Node's http client costs ~2 CPU-s per GiB and would be the bottleneck for all three);
 * BENCH_CLIENT=http uses node:http instead. The file sits in the page cache for all three.
 * Target: Stowage MB/s ≥ 0.5 × nginx MB/s (medians; MB = 10^6 bytes).
 *
 * nginx: Debian's nginx-light. When `nginx` is not on PATH this script runs `apt-get install -y
 * nginx-light` (after `apt-get update` when the first try fails); that needs root.
 *
 * Environment:
 *   BENCH_RUNS      measured fetches from each server (default 5)
 *   BENCH_SIZE_MIB  size of the file in MiB (default 1024)
 *   BENCH_CLIENT    raw (default): minimal socket client; http: node:http
 *   BENCH_JSON_OUT  a file to write the figures to as JSON
 *   DATABASE_URL    a PostgreSQL server to use (a scratch database is created and dropped on it);
 *                   unset: an embedded server is started in a temporary folder and stopped at the end
 *
 * Exit code: 0 when the run worked, whatever the target says (it is a benchmark, not a test);
 * 1 when the run itself is invalid (a fetch failed or came back short); 2 on a crash.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  InvalidRun,
  MIB,
  beforeStartLine,
  busyCoresBeforeStart,
  envInt,
  fmt,
  machineBusySeconds,
  median,
  onCleanup,
  openPostgres,
  procStat,
  putFile,
  requireDiskFor,
  runBenchmark,
  sizeLabel as labelOfSize,
  sleep,
  startBenchService,
  verdict,
} from './lib.js';

const TARGET_RATIO = 0.5;

const thisFile = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(thisFile), '..');

// ---------------------------------------------------------------------------------------------------
// Shared shapes

interface FetchRequest {
  n: number;
  url: string;
}

interface FetchResult {
  n: number;
  status: number;
  bytes: number;
  /** Request sent → body's last byte. */
  ms: number;
  /** Request sent → response headers. */
  headersMs: number;
  chunks: number;
  /** The client's own CPU during the fetch, milliseconds. */
  clientCpuMs: number;
  error?: string;
}

// ---------------------------------------------------------------------------------------------------
// Child mode: the client

/**
 * The default client: HTTP/1.1 over a plain socket, reading into one reused 1 MiB buffer (net's
 * `onread`), so the body is counted without a Buffer, an event or a parser call per chunk. Node's own
 * http client spends about 2 CPU-seconds per GiB here (llhttp and stream events per 64 KiB chunk), so on
 * two shared cores it caps every server near the same figure; this one leaves the server as the limit.
 * Handles what the three servers send: a status line, headers with Content-Length, then the body.
 */
function fetchRaw(url: string): Promise<Omit<FetchResult, 'n' | 'clientCpuMs'>> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const started = performance.now();
    let headersMs = 0;
    let head: Buffer | null = Buffer.alloc(0);
    let status = 0;
    let length = -1;
    let bytes = 0;
    let chunks = 0;
    let settled = false;
    const finish = (error?: string) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve({ status, bytes, ms: performance.now() - started, headersMs, chunks, ...(error && { error }) });
    };
    const onBody = (n: number) => {
      bytes += n;
      chunks++;
      if (length >= 0 && bytes >= length) finish(bytes > length ? `${bytes - length} bytes past Content-Length` : undefined);
    };
    const socket = net.connect({
      host: u.hostname,
      port: Number(u.port || 80),
      onread: {
        buffer: Buffer.allocUnsafe(1 << 20),
        callback: (n: number, buffer: Uint8Array) => {
          if (head === null) {
            onBody(n);
            return true;
          }
          // Still in the headers: the read buffer is reused, so copy what is kept.
          head = Buffer.concat([head, buffer.subarray(0, n)]);
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) {
            if (head.length > 64 * 1024) finish('headers over 64 KiB');
            return true;
          }
          headersMs = performance.now() - started;
          const lines = head.subarray(0, end).toString('latin1').split('\r\n');
          status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1] ?? 0);
          for (const line of lines.slice(1)) {
            const [name, ...value] = line.split(':');
            const key = name.trim().toLowerCase();
            if (key === 'content-length') length = Number(value.join(':').trim());
            if (key === 'transfer-encoding') {
              finish(`transfer-encoding ${value.join(':').trim()} is not handled`);
              return false;
            }
          }
          if (length < 0) {
            finish('no Content-Length');
            return false;
          }
          const rest = head.length - end - 4;
          head = null;
          if (rest > 0) onBody(rest);
          else if (length === 0) finish();
          return true;
        },
      },
    });
    socket.on('connect', () => socket.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n\r\n`));
    socket.on('error', (error) => finish(error.message));
    socket.on('end', () => finish(length >= 0 && bytes < length ? `connection closed after ${bytes} of ${length} bytes` : undefined));
  });
}

/** BENCH_CLIENT=http: Node's http client, reading and discarding 'data' chunks. */
function fetchHttp(url: string): Promise<Omit<FetchResult, 'n' | 'clientCpuMs'>> {
  return new Promise((resolve) => {
    const started = performance.now();
    let headersMs = 0;
    let bytes = 0;
    let chunks = 0;
    const fail = (error: Error, status = 0) =>
      resolve({ status, bytes, ms: performance.now() - started, headersMs, chunks, error: error.message });
    const request = http.get(url, { agent: false }, (response) => {
      headersMs = performance.now() - started;
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        chunks++;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, bytes, ms: performance.now() - started, headersMs, chunks }));
      response.on('error', (error) => fail(error, response.statusCode ?? 0));
    });
    request.on('error', (error) => fail(error));
  });
}

function client(): void {
  process.on('message', async (m: FetchRequest) => {
    const cpu = process.cpuUsage();
    const result = await (process.env.BENCH_CLIENT === 'http' ? fetchHttp : fetchRaw)(m.url);
    const used = process.cpuUsage(cpu);
    process.send!({ ...result, n: m.n, clientCpuMs: (used.user + used.system) / 1000 } satisfies FetchResult);
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ ready: true });
}

// ---------------------------------------------------------------------------------------------------
// Helpers

/** CPU seconds used so far by a process and its live children (nginx's master and worker). */
function treeCpu(pid: number): number {
  let total = procStat(pid)?.own ?? 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const child = procStat(Number(entry));
    if (child && child.ppid === pid) total += child.own;
  }
  return total;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, isDead: () => string | null, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = isDead();
    if (dead) throw new Error(dead);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await sleep(50);
  }
}

async function writeRandomFile(file: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(file, 'w');
  try {
    let left = bytes;
    while (left > 0) {
      const block = randomBytes(Math.min(MIB, left));
      hash.update(block);
      await handle.write(block);
      left -= block.length;
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

// ---------------------------------------------------------------------------------------------------
// nginx

function findNginx(): string | null {
  for (const candidate of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx']) {
    if (spawnSync(candidate, ['-v']).status === 0) return candidate;
  }
  const which = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  return which.status === 0 && which.stdout.trim() ? which.stdout.trim() : null;
}

function ensureNginx(): string {
  const found = findNginx();
  if (found) return found;
  if (process.getuid?.() !== 0) throw new Error('nginx is not installed and this is not root: apt-get install -y nginx-light');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'nginx-light'], { stdio: 'inherit', env }).status === 0;
  console.log('  nginx       : not found; installing Debian nginx-light');
  if (!install()) {
    if (spawnSync('apt-get', ['update'], { stdio: 'inherit', env }).status !== 0) throw new Error('apt-get update failed');
    if (!install()) throw new Error('apt-get install -y nginx-light failed');
  }
  const installed = findNginx();
  if (!installed) throw new Error('nginx-light installed, yet no nginx binary was found');
  return installed;
}

interface Nginx {
  port: number;
  pid: number;
  version: string;
  stop(): Promise<void>;
}

async function startNginx(bin: string, dir: string, docRoot: string): Promise<Nginx> {
  const version = (spawnSync(bin, ['-v'], { encoding: 'utf8' }).stderr || '').trim();
  const built = spawnSync(bin, ['-V'], { encoding: 'utf8' }).stderr || '';
  const port = await freePort();
  const temp = path.join(dir, 'temp');
  await mkdir(temp, { recursive: true });
  // Only the temp paths of modules this build has: an unknown directive stops nginx.
  const tempPaths = [
    'client_body_temp_path body',
    ...(built.includes('--without-http_proxy_module') ? [] : ['proxy_temp_path proxy']),
    ...(built.includes('--without-http_fastcgi_module') ? [] : ['fastcgi_temp_path fastcgi']),
    ...(built.includes('--without-http_uwsgi_module') ? [] : ['uwsgi_temp_path uwsgi']),
    ...(built.includes('--without-http_scgi_module') ? [] : ['scgi_temp_path scgi']),
  ].map((line) => {
    const [directive, name] = line.split(' ');
    return `    ${directive} ${path.join(temp, name)};`;
  });
  const conf = `# Written by bench/download.ts for one run; removed at its end.
${process.getuid?.() === 0 ? 'user root;  # the blob folder is private to root (mkdtemp 0700)\n' : ''}worker_processes 1;
daemon off;
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} warn;
events {
    worker_connections 64;
}
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    types {}
${tempPaths.join('\n')}
    server {
        listen 127.0.0.1:${port};
        root ${docRoot};
        location / {
        }
    }
}
`;
  const confFile = path.join(dir, 'nginx.conf');
  await writeFile(confFile, conf);
  const errorLog = path.join(dir, 'error.log');
  const child: ChildProcess = spawn(bin, ['-e', errorLog, '-p', dir, '-c', confFile], { stdio: ['ignore', 'inherit', 'inherit'] });
  let exited: string | null = null;
  const done = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      exited = `nginx exited (${signal ?? code})`;
      resolve();
    });
    child.on('error', (error) => {
      exited = `nginx did not start: ${error.message}`;
      resolve();
    });
  });
  const stop = async () => {
    if (exited) return;
    child.kill('SIGQUIT'); // graceful: the master waits for its worker
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await done;
    clearTimeout(timer);
  };
  try {
    await waitForPort(port, () => (exited ? `${exited}: ${readFileSync(errorLog, 'utf8').slice(-1000)}` : null));
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, pid: child.pid!, version, stop };
}

// ---------------------------------------------------------------------------------------------------
// Parent mode

interface Options {
  runs: number;
  sizeMiB: number;
  client: 'raw' | 'http';
  jsonOut: string | null;
}

function readOptions(): Options {
  const client = (process.env.BENCH_CLIENT?.trim() || 'raw') as Options['client'];
  if (!['raw', 'http'].includes(client)) throw new Error(`BENCH_CLIENT must be raw or http, got "${client}"`);
  return {
    runs: envInt('BENCH_RUNS', 5, 1, 1000),
    sizeMiB: envInt('BENCH_SIZE_MIB', 1024, 1, 4096),
    client,
    jsonOut: process.env.BENCH_JSON_OUT?.trim() || null,
  };
}

/** The client child: one fetch at a time over IPC. */
async function startClient(kind: Options['client']): Promise<{ fetch(url: string): Promise<FetchResult>; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', thisFile, '--client'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, BENCH_CLIENT: kind },
  });
  let n = 0;
  const waiting = new Map<number, (r: FetchResult) => void>();
  let exited: string | null = null;
  const gone = new Promise<void>((resolve) =>
    child.on('exit', (code, signal) => {
      exited = `client exited (${signal ?? code})`;
      for (const [k, resolveFetch] of waiting) {
        waiting.delete(k);
        resolveFetch({ n: k, status: 0, bytes: 0, ms: NaN, headersMs: NaN, chunks: 0, clientCpuMs: NaN, error: exited });
      }
      resolve();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', () => reject(new Error(exited ?? 'client exited')));
    child.once('message', () => resolve());
  });
  child.on('message', (m: FetchResult) => {
    const resolveFetch = waiting.get(m.n);
    waiting.delete(m.n);
    resolveFetch?.(m);
  });
  return {
    fetch(url) {
      if (exited) return Promise.reject(new Error(exited));
      const k = ++n;
      return new Promise((resolve) => {
        waiting.set(k, resolve);
        child.send({ n: k, url } satisfies FetchRequest);
      });
    },
    async stop() {
      if (!exited) {
        child.disconnect();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await gone;
        clearTimeout(timer);
      }
    },
  };
}

interface Sample {
  mbps: number;
  ms: number;
  headersMs: number;
  chunks: number;
  clientCpuMs: number;
  serverCpuMs: number;
  machineBusyCores: number;
}

async function main(): Promise<number> {
  const options = readOptions();
  const size = options.sizeMiB * MIB;
  const sizeLabel = labelOfSize(options.sizeMiB);
  const problems: string[] = [];

  const busyBefore = await busyCoresBeforeStart();

  const tmp = os.tmpdir();
  const cpuModel = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log('Stowage download benchmark (local driver, signed URL)');
  console.log(
    `  machine     : ${os.cpus().length} CPUs (${cpuModel}), Node ${process.version}, ${fmt(os.totalmem() / 1024 ** 3, 0)} GiB RAM`,
  );
  console.log(
    `  note        : client and server share these ${os.cpus().length} cores: a fetch keeps both busy, so every figure is "one client + one server on ${os.cpus().length} cores"`,
  );
  console.log(beforeStartLine(busyBefore));
  await requireDiskFor(tmp, size);

  const nginxBin = ensureNginx();

  const scratch = await mkdtemp(path.join(tmp, 'stowage-bench-download-'));
  onCleanup('remove the bench files', () => rm(scratch, { recursive: true, force: true }));

  // --- PostgreSQL
  const { url: serverUrl, kind: serverKind } = await openPostgres();
  process.env.TEST_DATABASE_URL = serverUrl;
  console.log(`  PostgreSQL  : ${new URL(serverUrl).host} (${serverKind})`);

  // --- Stowage, and the file uploaded through it once
  const { harness: h } = await startBenchService({}, { storage: 'local' });

  const source = path.join(scratch, 'source.bin');
  let t = performance.now();
  const sha256 = await writeRandomFile(source, size);
  const writeMs = performance.now() - t;
  const presigned = await h.api('POST', '/api/v1/uploads/presign', { body: { name: 'download.bin', size_bytes: size, sha256 } });
  const p = presigned.body as { data_source_id: string; url: string | null; method: string | null; headers: Record<string, string> | null };
  if (presigned.status !== 200 || !p.url || !p.method) throw new InvalidRun(`presign answered ${presigned.status}: ${JSON.stringify(p)}`);
  t = performance.now();
  const put = await putFile(p.url, p.method, p.headers ?? {}, source, size);
  const putMs = performance.now() - t;
  if (put.status !== 200) throw new InvalidRun(`PUT answered ${put.status}: ${put.body.slice(0, 300)}`);
  await rm(source);
  const confirmed = await h.api('POST', '/api/v1/uploads/confirm', { body: { data_source_id: p.data_source_id } });
  if (confirmed.status !== 200) throw new InvalidRun(`confirm answered ${confirmed.status}: ${JSON.stringify(confirmed.body)}`);
  for (const deadline = Date.now() + 300_000; ;) {
    const upload = (await h.api('GET', `/api/v1/uploads/${p.data_source_id}`)).body as { status: string; sha256: string | null };
    if (upload.status === 'confirmed' && upload.sha256 === sha256) break;
    if (upload.status !== 'pending' || Date.now() > deadline)
      throw new InvalidRun(`upload ended ${upload.status}, sha256 ${upload.sha256}`);
    await sleep(50);
  }
  const { blob_key: blobKey } = await h.runtime.database.db
    .selectFrom('uploads')
    .select('blob_key')
    .where('id', '=', p.data_source_id)
    .executeTakeFirstOrThrow();
  const blobPath = path.join(h.dataDir, 'blobs', blobKey);
  console.log(
    `  service     : ${h.url}; ${sizeLabel} of random bytes written in ${fmt(writeMs / 1000, 1)} s, PUT in ${fmt(putMs / 1000, 1)} s, confirmed`,
  );
  console.log(`  blob        : ${blobPath}`);

  // --- nginx on the blob's folder
  const nginxDir = await mkdtemp(path.join(tmp, 'stowage-bench-nginx-'));
  onCleanup('remove the nginx folder', () => rm(nginxDir, { recursive: true, force: true }));
  const nginx = await startNginx(nginxBin, nginxDir, path.dirname(blobPath));
  onCleanup('stop nginx', () => nginx.stop());
  const nginxUrl = `http://127.0.0.1:${nginx.port}/${path.basename(blobPath)}`;
  console.log(`  nginx       : ${nginx.version} (${nginxBin}), pid ${nginx.pid}, ${nginxUrl}; conf ${path.join(nginxDir, 'nginx.conf')}`);

  // --- bare Node server in this process
  const bare = http.createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
    createReadStream(blobPath).pipe(response);
  });
  await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
  onCleanup(
    'close the bare Node server',
    () =>
      new Promise<void>((resolve) => {
        bare.closeAllConnections();
        bare.close(() => resolve());
      }),
  );
  const bareAddress = bare.address();
  const bareUrl = `http://127.0.0.1:${typeof bareAddress === 'object' && bareAddress ? bareAddress.port : 0}/`;
  console.log(`  bare Node   : ${bareUrl} (fs.createReadStream(file).pipe(res), default 64 KiB reads)`);

  const clientProcess = await startClient(options.client);
  onCleanup('stop the client', () => clientProcess.stop());
  console.log(`  plan        : 1 warm-up + ${options.runs} measured fetches from each server, in rotating order`);
  console.log(
    `  client      : ${options.client === 'raw' ? 'HTTP/1.1 on a plain socket into one reused 1 MiB buffer' : "Node's http client, 'data' chunks"} (BENCH_CLIENT=${options.client}), in a child process, body counted and discarded`,
  );
  console.log('');

  // --- Fetches
  type Target = 'Stowage' | 'nginx' | 'Node';
  const targets: Target[] = ['Stowage', 'nginx', 'Node'];
  const samples: Record<Target, Sample[]> = { Stowage: [], nginx: [], Node: [] };
  const urlOf = async (target: Target) => {
    if (target === 'nginx') return nginxUrl;
    if (target === 'Node') return bareUrl;
    const answer = await h.api('GET', `/api/v1/uploads/${p.data_source_id}/download-url`, { key: h.keys.reader });
    if (answer.status !== 200) throw new InvalidRun(`download-url answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    return answer.body.url as string;
  };
  const serverCpu = (target: Target) =>
    target === 'nginx'
      ? treeCpu(nginx.pid) * 1000
      : (() => {
          const u = process.cpuUsage();
          return (u.user + u.system) / 1000;
        })();
  const measure = async (target: Target): Promise<Sample> => {
    const url = await urlOf(target);
    const busy0 = machineBusySeconds();
    const cpu0 = serverCpu(target);
    const result = await clientProcess.fetch(url);
    const cpu1 = serverCpu(target);
    const busy1 = machineBusySeconds();
    if (result.error || result.status !== 200 || result.bytes !== size) {
      throw new InvalidRun(
        `${target}: status ${result.status}, ${result.bytes} of ${size} bytes${result.error ? `, ${result.error}` : ''}`,
      );
    }
    return {
      mbps: size / 1e6 / (result.ms / 1000),
      ms: result.ms,
      headersMs: result.headersMs,
      chunks: result.chunks,
      clientCpuMs: result.clientCpuMs,
      serverCpuMs: cpu1 - cpu0,
      machineBusyCores: (busy1 - busy0) / (result.ms / 1000),
    };
  };
  const show = (label: string, target: Target, x: Sample) =>
    console.log(
      `    ${label.padEnd(9)} ${target.padEnd(8)} ${fmt(x.mbps, 0).padStart(6)} MB/s  ${fmt(x.ms, 0).padStart(6)} ms  (headers ${fmt(x.headersMs, 1)} ms, ${x.chunks} chunks of ${fmt(size / x.chunks / 1024, 0)} KiB avg; CPU ms: server ${fmt(x.serverCpuMs, 0)}, client ${fmt(x.clientCpuMs, 0)}; machine ${fmt(x.machineBusyCores, 2)} cores busy)`,
    );

  console.log('Fetches');
  for (const target of targets) show('warm-up', target, await measure(target));
  for (let run = 0; run < options.runs; run++) {
    for (let i = 0; i < targets.length; i++) {
      const target = targets[(run + i) % targets.length];
      const x = await measure(target);
      samples[target].push(x);
      show(`run ${run + 1}`, target, x);
    }
  }
  console.log('');

  const med = (target: Target, pick: (x: Sample) => number) => median(samples[target].map(pick));
  console.log(`Medians of ${options.runs} fetches of ${sizeLabel} (MB = 10^6 bytes; CPU = milliseconds per fetch)`);
  for (const target of targets) {
    const all = samples[target].map((x) => x.mbps);
    console.log(
      `  ${target.padEnd(8)} ${fmt(
        med(target, (x) => x.mbps),
        0,
      ).padStart(6)} MB/s  (min ${fmt(Math.min(...all), 0)}, max ${fmt(Math.max(...all), 0)})  server CPU ${fmt(
        med(target, (x) => x.serverCpuMs),
        0,
      )} ms, client CPU ${fmt(
        med(target, (x) => x.clientCpuMs),
        0,
      )} ms, ${fmt(
        med(target, (x) => x.chunks),
        0,
      )} chunks at the client`,
    );
  }
  console.log("  (Stowage's server CPU is this whole process: the service, its idle worker and timers; nginx's is its master + worker)");
  console.log('');

  const stowage = med('Stowage', (x) => x.mbps);
  const nginxMbps = med('nginx', (x) => x.mbps);
  const node = med('Node', (x) => x.mbps);
  const ratio = stowage / nginxMbps;
  console.log('Summary');
  console.log(`  Stowage / nginx = ${fmt(stowage, 0)} / ${fmt(nginxMbps, 0)} MB/s = ${fmt(ratio, 3)}`);
  console.log(
    `  Stowage / bare Node createReadStream().pipe(res) = ${fmt(stowage, 0)} / ${fmt(node, 0)} MB/s = ${fmt(stowage / node, 3)}  (context)`,
  );
  console.log(`  ${verdict(ratio >= TARGET_RATIO)}  Stowage >= ${TARGET_RATIO} × nginx  (${fmt(ratio, 3)})`);
  if (options.runs < 5) console.log(`  note: BENCH_RUNS=${options.runs}; the target calls for at least 5`);
  if (problems.length) console.log(`  INVALID RUN: ${problems.join('; ')}`);

  if (options.jsonOut) {
    await writeFile(
      options.jsonOut,
      JSON.stringify(
        {
          when: new Date().toISOString(),
          machine: { cpus: os.cpus().length, model: cpuModel, node: process.version },
          nginx: nginx.version,
          options,
          sizeBytes: size,
          samples,
          medians: { stowage, nginx: nginxMbps, node },
          ratio,
          target: { min: TARGET_RATIO, pass: ratio >= TARGET_RATIO },
          valid: problems.length === 0,
          problems,
        },
        null,
        2,
      ) + '\n',
    );
  }
  return problems.length ? 1 : 0;
}

if (process.argv.includes('--client')) {
  client();
} else {
  await runBenchmark(main);
}
