import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from './helpers/cli.js';
import { type CountingProxy, startCountingProxy } from './helpers/counting-proxy.js';
import { type Harness, startStowage } from './helpers/harness.js';
import { sha256 } from './helpers/uploads.js';

const MIB = 1024 * 1024;

/** A file of recognisable bytes in `dir`, with its sha256. */
async function patterned(dir: string, name: string, size: number): Promise<{ file: string; sha: string }> {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i + 4 <= size; i += 4096) bytes.writeUInt32LE(i ^ 0x5a5a5a5a, i);
  const file = path.join(dir, name);
  await writeFile(file, bytes);
  return { file, sha: sha256(bytes) };
}

describe('stowage upload and download', () => {
  let h: Harness;
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    h = await startStowage();
    dir = await mkdtemp(path.join(os.tmpdir(), 'stowage-cli-upload-'));
    env = { STOWAGE_URL: h.url, STOWAGE_API_KEY: h.keys.writer, STOWAGE_CACHE_DIR: path.join(dir, 'cache') };
  });
  after(async () => {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('uploads small files by presign and prints one confirmed id per file', async () => {
    const a = await patterned(dir, 'a.bin', 1000);
    const b = await patterned(dir, 'b.bin', 3 * MIB);
    const result = await runCli(['upload', a.file, b.file], env);
    assert.equal(result.code, 0, result.stderr);
    const ids = result.stdout.trim().split('\n');
    assert.equal(ids.length, 2);
    const uploads = await Promise.all(ids.map(async (id) => (await h.api('GET', `/api/v1/uploads/${id}`)).body));
    assert.deepEqual(
      uploads.map((u) => [u.name, u.status, u.sha256]),
      [
        ['a.bin', 'confirmed', a.sha],
        ['b.bin', 'confirmed', b.sha],
      ],
    );
  });

  it('explains a missing key and a server error in words, with a non-zero exit', async () => {
    const a = await patterned(dir, 'c.bin', 10);
    const noKey = await runCli(['upload', a.file], { STOWAGE_URL: h.url, STOWAGE_API_KEY: '' });
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /API key/);
    const reader = await runCli(['upload', a.file], { ...env, STOWAGE_API_KEY: h.keys.reader });
    assert.notEqual(reader.code, 0);
    assert.match(reader.stderr, /403 .*uploads:write/);
  });
});

describe('stowage upload resumed after a connection lost mid-way', () => {
  let h: Harness;
  let proxy: CountingProxy;
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    // The local driver answers part PUTs itself, so they pass through the proxy and can be counted and
    // cut; the CLI's resume logic is the same whatever storage the server uses.
    h = await startStowage({}, { storage: 'local' });
    proxy = await startCountingProxy(h.url);
    dir = await mkdtemp(path.join(os.tmpdir(), 'stowage-cli-resume-'));
    env = { STOWAGE_URL: proxy.url, STOWAGE_API_KEY: h.keys.writer, STOWAGE_CACHE_DIR: path.join(dir, 'cache') };
  });
  after(async () => {
    await proxy.close();
    await h.close();
    await rm(dir, { recursive: true, force: true });
  });

  const sorted = (numbers: number[]) => [...numbers].sort((a, b) => a - b);

  it('sends only the parts the server lacks, and the download matches the file', async () => {
    const big = await patterned(dir, 'big.bin', 4 * 5 * MIB + 123_456);
    const args = ['upload', big.file, '--parallel', '2', '--part-size', '5MiB'];
    const all = [1, 2, 3, 4, 5];

    proxy.allowParts(2);
    const first = await runCli(args, env);
    assert.notEqual(first.code, 0, 'the CLI fails once its connection is cut');
    assert.ok(proxy.cut.length >= 1, `a part PUT was cut; the CLI said: ${first.stderr}`);
    assert.match(first.stderr, /^stowage: \S+big\.bin: storage connection lost \(.+\); run the same command again to resume\n$/);
    await proxy.idle(); // a part the CLI sent before it stopped may still be arriving
    const stateDir = path.join(env.STOWAGE_CACHE_DIR, 'uploads');
    const [stateFile] = await readdir(stateDir);
    const uploadId = JSON.parse(await readFile(path.join(stateDir, stateFile), 'utf8')).uploadId as string;
    const held = (await h.api('GET', `/api/v1/uploads/${uploadId}/parts`)).body;
    assert.equal(held.part_count, all.length);
    const storedFirst = sorted(held.parts.map((p: { part_number: number }) => p.part_number));
    assert.deepEqual(storedFirst, sorted(proxy.stored), 'the server holds exactly the parts whose PUT it answered');
    // Two PUTs were let through, and the cut one was sent only once one of them had been answered.
    assert.ok(storedFirst.length >= 1 && storedFirst.length <= 2, `stored after the cut: ${storedFirst}`);

    proxy.allowParts(null);
    proxy.resetCounts();
    const second = await runCli(args, env);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout.trim(), uploadId, 'the same upload was resumed');
    const missing = all.filter((n) => !storedFirst.includes(n));
    assert.deepEqual(sorted(proxy.presigned), missing, 'URLs asked for the missing parts only');
    assert.deepEqual(sorted(proxy.stored), missing, 'each missing part sent once, no stored part sent again');
    assert.deepEqual(proxy.cut, []);
    const upload = (await h.api('GET', `/api/v1/uploads/${uploadId}`)).body;
    assert.deepEqual([upload.status, upload.sha256], ['confirmed', big.sha]);
    assert.deepEqual(await readdir(stateDir), [], 'resume state removed once confirmed');

    const out = path.join(dir, 'copy.bin');
    const download = await runCli(['download', uploadId, '-o', out], env);
    assert.equal(download.code, 0, download.stderr);
    assert.equal(
      createHash('sha256')
        .update(await readFile(out))
        .digest('hex'),
      big.sha,
    );
  });
});
