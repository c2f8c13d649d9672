import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { firstPassOnly } from './helpers/ci-pass.js';
import { type SpawnedServer, spawnServer } from './helpers/spawned-server.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');
const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((f) => existsSync(f));

/**
 * The package as a user gets it: `npm pack`, then `npm install -g` into a fresh prefix in a private
 * (0700) folder, then the installed `stowage` run from a folder of its own, with nothing of the
 * checkout on its path. --prefer-offline: npm ci has the dependencies in npm's cache already, so the
 * install reads the registry only for what the cache lacks.
 */
describe('npm pack → npm install -g → stowage start', { skip: firstPassOnly }, () => {
  let scratch: string;
  let bin: string;
  let home: string;
  let server: SpawnedServer | undefined;

  before(async () => {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'stowage-install-'));
    // --ignore-scripts: prepack would clear dist/, which other test files are running from; `npm test` built it.
    await run('npm', ['pack', '--ignore-scripts', '--pack-destination', scratch], { cwd: root });
    const [tarball] = (await readdir(scratch)).filter((f) => f.endsWith('.tgz'));
    const prefix = path.join(scratch, 'prefix');
    await run(
      'npm',
      ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', path.join(scratch, tarball!)],
      { cwd: scratch, maxBuffer: 16 * 1024 * 1024 },
    );
    bin = path.join(prefix, 'bin', 'stowage');
    home = path.join(scratch, 'home');
    await mkdir(home);
  });

  after(async () => {
    if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
    await rm(scratch, { recursive: true, force: true });
  });

  it('installs a `stowage` that answers --version with the package version', async () => {
    const { version } = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8'));
    const { stdout } = await run(bin, ['--version'], { cwd: home });
    assert.match(stdout, new RegExp(version.replaceAll('.', '\\.')));
  });

  it(
    'deploy/stowage.service passes systemd-analyze verify with the installed binary',
    { skip: analyze ? false : 'systemd-analyze is not on this machine' },
    async () => {
      const unit = await readFile(path.join(root, 'deploy', 'stowage.service'), 'utf8');
      assert.match(
        unit,
        /^ExecStart=\/usr\/local\/bin\/stowage start$/m,
        'the unit starts the binary npm install -g puts in /usr/local/bin',
      );
      // The same unit with ExecStart at this test's prefix: verify checks that the command exists and runs.
      const copy = path.join(scratch, 'stowage.service');
      await writeFile(copy, unit.replace('/usr/local/bin/stowage', bin));
      const { stdout, stderr } = await run(analyze!, ['verify', copy], { cwd: scratch });
      assert.equal((stdout + stderr).trim(), '', 'systemd-analyze verify has no complaint');
    },
  );

  it('starts on the embedded PostgreSQL, takes an upload from the installed CLI, serves the console, stops cleanly', async () => {
    server = await spawnServer({ STOWAGE_DATA_DIR: path.join(home, 'data') }, { installed: { bin, cwd: home }, readyTimeoutMs: 90_000 });
    assert.ok(server.adminKey, 'the first start prints an admin key');

    const file = path.join(home, 'hello.txt');
    await writeFile(file, 'installed and working\n');
    const uploaded = await run(bin, ['upload', file, '--url', server.url, '--key', server.adminKey!], { cwd: home });
    const id = uploaded.stdout.trim();
    const answer = await fetch(`${server.url}/api/v1/uploads/${id}`, { headers: { 'x-api-key': server.adminKey! } });
    const upload = (await answer.json()) as { status: string; size_bytes: number };
    assert.equal(upload.status, 'confirmed');
    assert.equal(upload.size_bytes, 22);

    const consolePage = await fetch(`${server.url}/console/`);
    assert.equal(consolePage.status, 200, 'the packaged console is served');
    assert.match(consolePage.headers.get('content-type') ?? '', /text\/html/);

    server.child.kill('SIGTERM');
    const { code } = await server.exited;
    assert.equal(code, 0);
  });
});
