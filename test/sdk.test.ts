/**
 * The SDK (packages/client, as built: `#sdk`, `#sdk/node`) against a real server: typed calls and
 * helpers, uploadFile (presign, parts, progress, resume, early deduplication) and downloadFile
 * (verified, resumed by Range, never overwriting).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { type StowageClient, StowageError, createStowageClient, unwrap } from '#sdk';
import { type DownloadProgress, type UploadProgress, downloadFile, downloadToStream, hashFile, uploadFile } from '#sdk/node';
import { type CountingProxy, startCountingProxy } from './helpers/counting-proxy.js';
import { type Harness, startStowage } from './helpers/harness.js';
import { sha256 } from './helpers/uploads.js';

const MIB = 1024 * 1024;
const PART = 5 * MIB;
const sorted = (numbers: number[]) => [...numbers].sort((a, b) => a - b);

describe('@stowage/client', () => {
  let h: Harness;
  let dir: string;
  let stateDir: string;
  let client: StowageClient;
  let admin: StowageClient;
  let proxy: CountingProxy;
  let gate: Gate;
  /** Requests the admin client made, as `METHOD url [range]` with the answer's status. */
  const requests: string[] = [];

  before(async () => {
    // The local driver answers part PUTs itself, so the proxies in front of the server see (and count, cut or hold) them.
    h = await startStowage({}, { storage: 'local' });
    dir = await mkdtemp(path.join(os.tmpdir(), 'stowage-sdk-'));
    stateDir = path.join(dir, 'state');
    proxy = await startCountingProxy(h.url);
    gate = await startGate(h.url);
    client = createStowageClient({ baseUrl: h.url, apiKey: h.keys.writer });
    admin = createStowageClient({
      baseUrl: `${h.url}/`,
      apiKey: h.keys.admin,
      fetch: async (input, init) => {
        const request = new Request(input, init);
        const response = await fetch(request);
        requests.push(`${request.method} ${request.url} ${request.headers.get('range') ?? '-'} → ${response.status}`);
        return response;
      },
    });
  });
  after(async () => {
    await gate.close();
    await proxy.close();
    await h.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A file of random bytes (never deduplicated against another test's) and its sha256. */
  async function randomFile(name: string, size: number) {
    const bytes = randomBytes(size);
    const file = path.join(dir, name);
    await writeFile(file, bytes);
    return { file, bytes, sha: sha256(bytes) };
  }

  it('typed calls answer data or a StowageError from the envelope; each() walks a list by cursor', async () => {
    const summary = unwrap(await client.GET('/api/v1/uploads/summary'));
    assert.equal(typeof summary.total_count, 'number');
    const missing = await client.GET('/api/v1/uploads/{data_source_id}', {
      params: { path: { data_source_id: '0190d7c4-0000-7000-8000-00000000beef' } },
    });
    assert.equal(missing.response.status, 404);
    assert.throws(
      () => unwrap(missing),
      (error: unknown) =>
        error instanceof StowageError &&
        error.status === 404 &&
        error.code === 'not_found' &&
        error.requestId === missing.response.headers.get('x-request-id') &&
        /^GET \/api\/v1\/uploads\/0190d7c4-\S+: 404 /.test(error.message),
    );
    const reader = createStowageClient({ baseUrl: h.url, apiKey: h.keys.reader });
    const refused = await reader.POST('/api/v1/uploads/presign', { body: { name: 'x.txt' } });
    assert.throws(
      () => unwrap(refused),
      (error: unknown) =>
        error instanceof StowageError && error.code === 'insufficient_scope' && /uploads:write/.test(JSON.stringify(error.details)),
    );
    // Never called: the compiler is the test (npm run typecheck fails if these lines stop being errors).
    const typos = () => {
      // @ts-expect-error not a route of the API
      void client.GET('/api/v1/upload/summary');
      // @ts-expect-error the presign body needs a name
      void client.POST('/api/v1/uploads/presign', { body: { size_bytes: 1 } });
    };
    void typos;

    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(unwrap(await admin.POST('/api/v1/uploads/presign', { body: { name: `listed-${i}.txt` } })).data_source_id);
    }
    requests.length = 0;
    const seen: string[] = [];
    for await (const upload of admin.each('/api/v1/uploads/', { query: { status: 'pending', limit: 2 } })) seen.push(upload.id);
    assert.deepEqual(sorted(seen.filter((id) => ids.includes(id)).map((id) => ids.indexOf(id))), [0, 1, 2, 3, 4]);
    assert.equal(new Set(seen).size, seen.length, 'no row twice');
    const pages = requests.filter((r) => r.startsWith('GET ') && r.includes('/api/v1/uploads/?'));
    assert.ok(pages.length >= 3, `three pages of two: ${pages.join('\n')}`);
    assert.ok(
      pages.slice(1).every((r) => /[?&]cursor=/.test(r) && /status=pending/.test(r) && r.endsWith('→ 200')),
      `later pages by cursor, same filter:\n${pages.join('\n')}`,
    );
  });

  it('ensurePart and ensureFolder find what exists and create what does not, once even when raced', async () => {
    const parts = await Promise.all([1, 2, 3].map(() => admin.ensurePart('SDK-100', { description: 'bracket' })));
    assert.equal(new Set(parts.map((p) => p.id)).size, 1, 'three concurrent calls, one part');
    assert.equal(parts[0].part_number, 'SDK-100');
    await admin.ensurePart('SDK-1000');
    assert.equal((await admin.ensurePart('SDK-100')).id, parts[0].id, 'an exact match, not SDK-1000');
    const listed = unwrap(await admin.GET('/api/v1/parts/', { params: { query: { q: 'SDK-100' } } }));
    assert.equal(listed.count, 2);

    const drawings = await admin.ensureFolder('projects/drawings');
    assert.equal(drawings.path, '/projects/drawings');
    assert.equal((await admin.ensureFolder('/projects/drawings/')).id, drawings.id);
    const models = await admin.ensureFolder('projects/models');
    assert.equal(models.parent_id, drawings.parent_id);
    await assert.rejects(client.ensureFolder('elsewhere'), (error: unknown) => error instanceof StowageError && error.status === 403);
  });

  it('uploadFile: a small file by presign, a large one in parallel parts; progress only grows and ends at the size', async () => {
    const small = await randomFile('small.bin', 1000);
    const folder = await admin.ensureFolder('uploads');
    const one = await uploadFile(admin, small.file, { folderId: folder.id, stateDir });
    assert.deepEqual([one.status, one.sha256, one.size_bytes, one.name], ['confirmed', small.sha, 1000, 'small.bin']);
    assert.ok(one.file_id, 'confirming made a file in the folder');

    const big = await randomFile('big.bin', 3 * PART + 123);
    const reports: UploadProgress[] = [];
    const upload = await uploadFile(client, big.file, { partSize: PART, parallel: 2, stateDir, onProgress: (p) => reports.push(p) });
    assert.deepEqual([upload.status, upload.sha256, upload.size_bytes], ['confirmed', big.sha, big.bytes.length]);
    assert.ok(reports.length > 10);
    for (const field of ['doneBytes', 'sentBytes', 'hashedBytes', 'doneParts'] as const) {
      assert.ok(
        reports.every((r, i) => i === 0 || r[field] >= reports[i - 1][field]),
        `${field} only grows`,
      );
    }
    const last = reports.at(-1)!;
    assert.deepEqual(
      [last.stage, last.doneBytes, last.sentBytes, last.hashedBytes, last.doneParts, last.totalParts, last.resumed],
      ['confirming', big.bytes.length, big.bytes.length, big.bytes.length, 4, 4, false],
    );
    assert.ok(reports.every((r) => r.uploadId === upload.id && r.totalBytes === big.bytes.length && r.doneBytes <= r.totalBytes));
    const row = await h.runtime.database.db
      .selectFrom('uploads')
      .select(['declared_sha256', 'part_count'])
      .where('id', '=', upload.id)
      .executeTakeFirstOrThrow();
    assert.deepEqual([row.declared_sha256, row.part_count], [big.sha, 4], 'multipart, its sha256 declared while the parts went out');
    assert.deepEqual(await readdir(path.join(stateDir, 'uploads')), [], 'no resume state left');
  });

  it('an upload aborted mid-way is taken up by the next call, which sends only the parts storage lacks', async () => {
    const proxied = createStowageClient({ baseUrl: proxy.url, apiKey: h.keys.writer });
    const big = await randomFile('resumed.bin', 4 * PART + 123_456);
    const all = [1, 2, 3, 4, 5];
    proxy.resetCounts();
    const stop = new AbortController();
    const options = { partSize: PART, parallel: 2, stateDir };
    await assert.rejects(
      uploadFile(proxied, big.file, { ...options, signal: stop.signal, onProgress: (p) => p.doneParts >= 2 && stop.abort() }),
      { name: 'AbortError' },
    );
    await proxy.idle(); // a part sent before the abort may still be arriving
    const stateFiles = await readdir(path.join(stateDir, 'uploads'));
    assert.equal(stateFiles.length, 1);
    const { uploadId } = JSON.parse(await readFile(path.join(stateDir, 'uploads', stateFiles[0]), 'utf8'));
    const held = unwrap(await client.GET('/api/v1/uploads/{data_source_id}/parts', { params: { path: { data_source_id: uploadId } } }));
    const storedFirst = sorted(held.parts.map((p) => p.part_number));
    assert.deepEqual(storedFirst, sorted(proxy.stored), 'the server holds exactly the parts whose PUT it answered');
    assert.ok(storedFirst.length >= 2 && storedFirst.length < all.length, `stored before the abort: ${storedFirst}`);

    proxy.resetCounts();
    const reports: UploadProgress[] = [];
    const upload = await uploadFile(proxied, big.file, { ...options, onProgress: (p) => reports.push(p) });
    assert.equal(upload.id, uploadId, 'the same upload was taken up');
    assert.deepEqual([upload.status, upload.sha256], ['confirmed', big.sha]);
    const missing = all.filter((n) => !storedFirst.includes(n));
    assert.deepEqual(sorted(proxy.presigned), missing, 'URLs asked for the missing parts only');
    assert.deepEqual(sorted(proxy.stored), missing, 'each missing part sent once, no stored part again');
    const resumedBytes = storedFirst.reduce((sum, n) => sum + (n < 5 ? PART : big.bytes.length - 4 * PART), 0);
    const first = reports[0];
    // What a CLI prints: "resuming upload <id>, N of M parts already stored".
    assert.deepEqual(
      [first.resumed, first.uploadId, first.resumedParts, first.totalParts, first.resumedBytes, first.sentBytes],
      [true, uploadId, storedFirst.length, 5, resumedBytes, 0],
    );
    const last = reports.at(-1)!;
    assert.deepEqual([last.sentBytes, last.doneBytes], [big.bytes.length - resumedBytes, big.bytes.length], 'this run sent only the rest');
    assert.deepEqual(await readdir(path.join(stateDir, 'uploads')), [], 'resume state removed once confirmed');
  });

  it('a second upload of the same bytes stops sending as soon as its hash is known and answers deduplicated', async () => {
    const twice = await randomFile('twice.bin', 4 * PART);
    const first = await uploadFile(client, twice.file, { partSize: PART, stateDir });
    assert.equal(first.status, 'confirmed');

    // Through the gate, which holds every part PUT: only the declared hash can end this upload.
    const gated = createStowageClient({ baseUrl: gate.url, apiKey: h.keys.writer });
    const reports: UploadProgress[] = [];
    const again = await uploadFile(gated, twice.file, {
      partSize: PART,
      parallel: 2,
      stateDir,
      onProgress: (p) => reports.push(p),
      // Without the early answer it would wait for the held parts forever.
      signal: AbortSignal.timeout(30_000),
    });
    assert.deepEqual(
      [again.status, again.deduplicated, again.sha256, again.size_bytes],
      ['confirmed', true, twice.sha, twice.bytes.length],
    );
    assert.notEqual(again.id, first.id);
    assert.ok(gate.held() >= 1, 'parts were on their way');
    assert.equal(reports.at(-1)!.doneParts, 0);
    const parts = await client.GET('/api/v1/uploads/{data_source_id}/parts', { params: { path: { data_source_id: again.id } } });
    assert.equal(parts.response.status, 409, 'it takes no parts any more');
    assert.deepEqual(await readdir(path.join(stateDir, 'uploads')), []);
    const copy = path.join(dir, 'twice-copy.bin');
    await downloadFile(client, again.id, copy);
    assert.ok((await readFile(copy)).equals(twice.bytes), 'it reads the bytes it shares');
  });

  it('downloadFile takes up an interrupted download with a Range, verifies it, and never overwrites unless told', async () => {
    const source = await randomFile('source.bin', 3 * PART);
    const { id } = await uploadFile(admin, source.file, { partSize: PART, stateDir });
    const target = path.join(dir, 'copy.bin');

    const stop = new AbortController();
    await assert.rejects(
      downloadFile(admin, id, target, { signal: stop.signal, onProgress: (p) => p.receivedBytes >= 4 * MIB && stop.abort() }),
      { name: 'AbortError' },
    );
    const temp = `${target}.${source.sha.slice(0, 16)}.part`;
    const kept = (await stat(temp)).size;
    assert.ok(kept > 0 && kept < source.bytes.length, `an interrupted download leaves its bytes (${kept})`);
    await assert.rejects(stat(target), { code: 'ENOENT' }, 'and nothing at the target');

    requests.length = 0;
    const reports: DownloadProgress[] = [];
    const done = await downloadFile(admin, id, target, { onProgress: (p) => reports.push(p) });
    assert.deepEqual([done.sha256, done.size, done.path], [source.sha, source.bytes.length, target]);
    assert.ok((await readFile(target)).equals(source.bytes));
    assert.ok(
      requests.some((r) => r.includes(` bytes=${kept}- → 206`)),
      `the rest was asked for by Range:\n${requests.join('\n')}`,
    );
    assert.deepEqual([reports[0].resumedBytes, reports.at(-1)!.receivedBytes], [kept, source.bytes.length - kept]);
    await assert.rejects(stat(temp), { code: 'ENOENT' }, 'the temporary file is gone');

    await writeFile(target, 'mine');
    await assert.rejects(downloadFile(admin, id, target), { code: 'EEXIST' });
    assert.equal(await readFile(target, 'utf8'), 'mine', 'an existing file is left alone');
    await downloadFile(admin, id, target, { overwrite: true });
    assert.ok((await readFile(target)).equals(source.bytes));

    // Bytes an earlier attempt left that are not the file's start: hashed first, so they cannot pass.
    const other = path.join(dir, 'other.bin');
    const otherTemp = `${other}.${source.sha.slice(0, 16)}.part`;
    await writeFile(otherTemp, randomBytes(MIB));
    await assert.rejects(downloadFile(admin, id, other), { code: 'checksum_mismatch' });
    await assert.rejects(stat(otherTemp), { code: 'ENOENT' }, 'bad bytes are not kept');
    await assert.rejects(stat(other), { code: 'ENOENT' });
    await downloadFile(admin, id, other);
    assert.ok((await readFile(other)).equals(source.bytes), 'the next attempt starts afresh');

    // A temporary file longer than the upload cannot be its start either.
    await writeFile(otherTemp, randomBytes(4 * PART));
    await downloadFile(admin, id, other, { overwrite: true });
    assert.ok((await readFile(other)).equals(source.bytes));
  });

  it('downloadToStream writes a verified stream (stdout, a socket) and leaves it open', async () => {
    const source = await randomFile('streamed.bin', 2 * MIB + 7);
    const { id } = await uploadFile(client, source.file, { stateDir });
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (chunk: Buffer) => chunks.push(chunk));
    const result = await downloadToStream(client, id, out);
    assert.equal(result.sha256, source.sha);
    assert.ok(Buffer.concat(chunks).equals(source.bytes));
    assert.equal(out.writableEnded, false);
    const pending = unwrap(await client.POST('/api/v1/uploads/presign', { body: { name: 'never-sent.bin' } }));
    await assert.rejects(downloadToStream(client, pending.data_source_id, out), { name: 'StowageError', status: 404 });
  });

  it('hashes in a worker thread that the flags of the process cannot break', async () => {
    const { file, sha } = await randomFile('hashed.bin', 3 * MIB + 5);
    const node = pathToFileURL(path.resolve(import.meta.dirname, '..', 'packages', 'client', 'dist', 'node.js')).href;
    // An eval'd module, as `node --input-type=module -e` runs one: a worker inheriting that flag would read its code as ESM.
    const script = `const { hashFile } = await import(${JSON.stringify(node)}); console.log(await hashFile(${JSON.stringify(file)}));`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), sha);
    const seen: number[] = [];
    assert.equal(await hashFile(file, { onBytes: (n) => seen.push(n) }), sha);
    assert.equal(
      seen.reduce((a, b) => a + b, 0),
      3 * MIB + 5,
      'progress adds up to the size',
    );
    await assert.rejects(hashFile(file, { signal: AbortSignal.abort() }), { name: 'AbortError' });
  });

  it('the core (#sdk) imports nothing of Node, so a browser can load it', async () => {
    const root = path.resolve(import.meta.dirname, '..', 'packages', 'client', 'dist');
    const seen = new Set<string>();
    const outside: string[] = [];
    const walk = async (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = await readFile(file, 'utf8');
      for (const [, specifier] of text.matchAll(/(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]/g)) {
        if (!specifier) continue;
        if (specifier.startsWith('.')) await walk(path.resolve(path.dirname(file), specifier));
        else outside.push(specifier);
      }
    };
    await walk(path.join(root, 'index.js'));
    assert.ok(seen.size >= 3, `walked ${[...seen].join(', ')}`);
    assert.deepEqual([...new Set(outside)], ['openapi-fetch']);
  });
});

interface Gate {
  url: string;
  /** Part PUTs that arrived, all held: none reaches storage. */
  held(): number;
  close(): Promise<void>;
}

/** An HTTP proxy in front of the server that forwards everything but part PUTs to the local driver's signed URLs, which it holds unanswered. */
async function startGate(target: string): Promise<Gate> {
  const upstream = new URL(target);
  let held = 0;
  const server = http.createServer((request, response) => {
    if (request.method === 'PUT' && request.url?.startsWith('/blob/')) {
      held++;
      return;
    }
    const outgoing = http.request(
      { host: upstream.hostname, port: upstream.port, method: request.method, path: request.url, headers: request.headers, agent: false },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    outgoing.on('error', () => request.socket.destroy());
    request.pipe(outgoing);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held: () => held,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
