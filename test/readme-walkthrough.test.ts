/**
 * The README's files walk-through is a promise that pasting it into a shell works. So it runs here as
 * printed: its shell blocks, taken from README.md at test time, in bash against the built server on a
 * fresh database. They run in a folder laid out like the repository after `npm start`: the server's
 * data folder as data/ (so data/admin.key is its key) and dist/ linked to the built CLI. Only STOWAGE
 * (the server's URL) and DATABASE_URL (its database, for `files verify`) are set; the key comes from
 * data/admin.key, as the README says.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freshDatabase } from './helpers/harness.js';
import { type SpawnedServer, spawnServer } from './helpers/spawned-server.js';

const root = path.resolve(import.meta.dirname, '..');
const HEADING = '## Walk-through: versioned files and folders';

/** The `sh` blocks of one `## ` section of a Markdown text, joined in order. */
function shellBlocksOf(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n${heading}\n`);
  if (start < 0) return '';
  const rest = markdown.slice(start + heading.length + 2);
  const end = rest.search(/^## /m);
  const section = end < 0 ? rest : rest.slice(0, end);
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]).join('\n');
}

/** bash with -e and pipefail, so a step that fails stops the script with its status. */
function runBash(
  script: string,
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base = { ...process.env };
  for (const name of ['KEY', 'STOWAGE', 'DATABASE_URL', 'TEST_DATABASE_URL', 'STOWAGE_DATA_DIR']) delete base[name];
  const child = spawn('bash', ['-e', '-o', 'pipefail', '-c', script], { cwd, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the walk-through ran past 60 s\n${stdout}\n${stderr}`));
    }, 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('the README files walk-through', () => {
  let workDir: string;
  let server: SpawnedServer;
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let script: string;

  before(async () => {
    script = shellBlocksOf(await readFile(path.join(root, 'README.md'), 'utf8'), HEADING);
    workDir = await mkdtemp(path.join(os.tmpdir(), 'stowage-readme-'));
    await symlink(path.join(root, 'dist'), path.join(workDir, 'dist'));
    database = await freshDatabase();
    server = await spawnServer({ STOWAGE_DATA_DIR: path.join(workDir, 'data'), DATABASE_URL: database.url }, { readyTimeoutMs: 90_000 });
  });

  after(async () => {
    if (server && server.child.exitCode === null && server.child.signalCode === null) process.kill(-server.child.pid!, 'SIGKILL');
    await server?.exited;
    await database?.drop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('walks every step the issue asks for', () => {
    assert.notEqual(script, '', `README.md has a section "${HEADING}" with sh blocks`);
    for (const step of [
      '/api/v1/files"',
      '/content"',
      'expect_tip',
      '/reupload"',
      '/versions"',
      '/content?ver=1"',
      'Range: bytes=',
      '/api/v1/folders"',
      'folder_id',
      'files verify',
    ]) {
      assert.ok(script.includes(step), `the walk-through uses ${step}`);
    }
  });

  it('runs as printed and shows what its comments say', async () => {
    const { code, stdout, stderr } = await runBash(script, workDir, { STOWAGE: server.url, DATABASE_URL: database.url });
    assert.equal(code, 0, `exit status\n--- stdout\n${stdout}\n--- stderr\n${stderr}`);
    const lines = stdout.split('\n');

    const first = /^version 1: (bafyrei\w+), content (bafkrei\w+)$/m.exec(stdout);
    assert.ok(first, stdout);
    const [, v1, contentCid] = first;
    // The content id of 'first draft\n', as any IPFS tool computes it.
    assert.equal(contentCid, 'bafkreifaoimxmsxthcuwivn7ltqqyuea43fhskdbs272tvqdagw4dh4rk4');
    assert.ok(lines.includes('{"name":"apollo","phase":"review"}'), 'the deep merge kept project.name');

    const stale = JSON.parse(lines.find((line) => line.startsWith('{"code":"conflict"'))!);
    assert.equal(stale.details.expected, v1);
    assert.match(stale.details.actual, /^bafyrei/);
    assert.notEqual(stale.details.actual, v1);

    // The chain, newest first, each prev_cid the cid of the line below it.
    const chain = lines.filter((line) => /^\d+ bafyrei\w+ <- /.test(line)).map((line) => line.split(' '));
    assert.deepEqual(
      chain.map(([ver]) => ver),
      ['3', '2', '1'],
      stdout,
    );
    assert.equal(chain[0][3], chain[1][1]);
    assert.equal(chain[1][3], chain[2][1]);
    assert.equal(chain[1][1], stale.details.actual, 'version 2 is the tip the 409 named');
    assert.equal(chain[2][1], v1);
    assert.equal(chain[2][3], 'null');

    assert.ok(lines.includes('first draft'), 'version 1 still has its bytes');
    assert.ok(lines.includes('first (HTTP 206)'), 'a range of version 1');
    assert.ok(lines.includes('4'), 'the move made version 4');
    assert.ok(lines.includes('notes.txt'), 'the file is listed in its folder');

    // files verify: the tip it reads is version 4, and every version checks out.
    const tip = /^file \S+: tip ver 4 (bafyrei\w+)$/m.exec(stdout);
    assert.ok(tip, stdout);
    assert.deepEqual(
      lines.filter((line) => /^ {2}ver \d+ /.test(line)).map((line) => line.trim().split(/ +/)),
      [
        ['ver', '1', v1, 'ok'],
        ['ver', '2', chain[1][1], 'ok'],
        ['ver', '3', chain[0][1], 'ok'],
        ['ver', '4', tip[1], 'ok'],
      ],
      stdout,
    );
    assert.match(stdout, /^chain holds/m);
  });
});
