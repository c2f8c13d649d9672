import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { collect, runCli, spawnCli } from './helpers/cli.js';
import { type Harness, eventually, startStowage } from './helpers/harness.js';
import { sha256 } from './helpers/uploads.js';

const MIB = 1024 * 1024;

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

  async function patterned(name: string, size: number): Promise<{ file: string; sha: string }> {
    const bytes = Buffer.alloc(size);
    for (let i = 0; i + 4 <= size; i += 4096) bytes.writeUInt32LE(i ^ 0x5a5a5a5a, i);
    const file = path.join(dir, name);
    await writeFile(file, bytes);
    return { file, sha: sha256(bytes) };
  }

  it('uploads small files by presign and prints one confirmed id per file', async () => {
    const a = await patterned('a.bin', 1000);
    const b = await patterned('b.bin', 3 * MIB);
    const result = await runCli(['upload', a.file, b.file], env);
    assert.equal(result.code, 0, result.stderr);
    const ids = result.stdout.trim().split('\n');
    assert.equal(ids.length, 2);
    const uploads = await Promise.all(ids.map(async (id) => (await h.api('GET', `/api/v1/uploads/${id}`)).body));
    assert.deepEqual(uploads.map((u) => [u.name, u.status, u.sha256]), [['a.bin', 'confirmed', a.sha], ['b.bin', 'confirmed', b.sha]]);
  });

  it('uploads a large file in parallel parts, resumes after being killed half-way, and downloads it verified', async () => {
    const big = await patterned('big.bin', 160 * MIB);
    const args = ['upload', big.file, '--parallel', '4', '--part-size', '5MiB'];
    const first = spawnCli(args, env);
    const stateDir = path.join(env.STOWAGE_CACHE_DIR, 'uploads');
    const uploadId = await eventually(async () => {
      const files = await readdir(stateDir).catch(() => []);
      return files.length ? (JSON.parse(await readFile(path.join(stateDir, files[0]), 'utf8')).uploadId as string) : undefined;
    }, 'the resume state', 60_000);
    await eventually(async () => {
      const held = (await h.api('GET', `/api/v1/uploads/${uploadId}/parts`)).body;
      return held.parts?.length >= 3 ? true : undefined;
    }, 'a few parts to arrive', 60_000);
    first.kill('SIGKILL');
    await collect(first);
    const midway = (await h.api('GET', `/api/v1/uploads/${uploadId}/parts`)).body;
    assert.ok(midway.parts.length < midway.part_count, `killed half-way: ${midway.parts.length}/${midway.part_count} parts`);

    const second = await runCli(args, env, undefined);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout.trim(), uploadId, 'the same upload was resumed');
    const upload = (await h.api('GET', `/api/v1/uploads/${uploadId}`)).body;
    assert.equal(upload.status, 'confirmed');
    assert.equal(upload.sha256, big.sha);
    assert.deepEqual(await readdir(stateDir), [], 'resume state removed once confirmed');

    const out = path.join(dir, 'copy.bin');
    const download = await runCli(['download', uploadId, '-o', out], env);
    assert.equal(download.code, 0, download.stderr);
    assert.equal(createHash('sha256').update(await readFile(out)).digest('hex'), big.sha);
  });

  it('explains a missing key and a server error in words, with a non-zero exit', async () => {
    const a = await patterned('c.bin', 10);
    const noKey = await runCli(['upload', a.file], { STOWAGE_URL: h.url, STOWAGE_API_KEY: '' });
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /API key/);
    const reader = await runCli(['upload', a.file], { ...env, STOWAGE_API_KEY: h.keys.reader });
    assert.notEqual(reader.code, 0);
    assert.match(reader.stderr, /403 .*uploads:write/);
  });
});
