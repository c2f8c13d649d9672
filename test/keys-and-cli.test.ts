import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { collect, runCli, spawnCli, waitForOutput } from './helpers/cli.js';
import { AUTH_CACHE_MS } from '../src/modules/keys/service.js';
import { type Harness, eventually, startStowage } from './helpers/harness.js';
import { assertError, assertInvalid } from './helpers/assertions.js';
import { firstPassOnly } from './helpers/ci-pass.js';

describe('API keys over HTTP', () => {
  let h: Harness;
  before(async () => {
    h = await startStowage();
  });
  after(() => h.close());

  it('an admin creates, lists and revokes keys of its own org', async () => {
    const created = await h.api('POST', '/api/v1/keys', { key: h.keys.admin, body: { scopes: ['uploads:read'], label: 'dashboard' } });
    assert.equal(created.status, 201);
    assert.match(created.body.key, /^stw_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    assert.ok(created.body.key.startsWith(created.body.prefix));
    assert.deepEqual(created.body.scopes, ['uploads:read']);
    assert.equal(created.body.label, 'dashboard');
    assert.equal(created.body.last_used_at, null);

    assert.equal((await h.api('GET', '/api/v1/uploads/summary', { key: created.body.key })).status, 200);
    const listed = await h.api('GET', '/api/v1/keys', { key: h.keys.admin });
    const row = listed.body.data.find((k: { id: string }) => k.id === created.body.id);
    assert.ok(row, 'the new key is listed');
    assert.equal(row.key, undefined, 'the secret is never listed');
    assert.ok(row.last_used_at, 'last_used_at is recorded on use');
    assert.equal(listed.body.count, listed.body.data.length);
    const foreignList = await h.api('GET', '/api/v1/keys', { key: h.keys.otherOrg });
    assert.ok(!foreignList.body.data.some((k: { id: string }) => k.id === created.body.id), 'other orgs do not see it');

    const foreignRevoke = await h.api('DELETE', `/api/v1/keys/${created.body.id}`, { key: h.keys.otherOrg });
    assertError(foreignRevoke, 404, 'not_found');
    const revoked = await h.api('DELETE', `/api/v1/keys/${created.body.id}`, { key: h.keys.admin });
    assert.equal(revoked.status, 200);
    assert.ok(revoked.body.revoked_at);
    const refused = await h.api('GET', '/api/v1/uploads/summary', { key: created.body.key });
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error.code, 'invalid_api_key');
  });

  it('validates scopes', async () => {
    const answer = await h.api('POST', '/api/v1/keys', { key: h.keys.admin, body: { scopes: ['uploads:delete'] } });
    assert.equal(answer.status, 422);
    assert.equal(answer.body.error.details[0].path.startsWith('body.scopes'), true);
    assertInvalid(await h.api('POST', '/api/v1/keys', { key: h.keys.admin, body: { scopes: [] } }), 'body.scopes');
  });
});

describe('the stowage CLI on the embedded PostgreSQL', { skip: firstPassOnly }, () => {
  let dataDir: string;
  let env: Record<string, string>;
  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'stowage-cli-'));
    // PORT 0: the server binds a free port itself and prints it.
    env = { STOWAGE_DATA_DIR: dataDir, STOWAGE_JOB_POLL_SECONDS: '0.5', PORT: '0', HOST: '127.0.0.1' };
  });
  after(() => rm(dataDir, { recursive: true, force: true }));

  const lastLine = (text: string) => text.trim().split('\n').at(-1) ?? '';

  it('manages keys whether or not a server runs on the same data folder, which takes one server at a time', async () => {
    // 1. No server: the CLI starts the embedded PostgreSQL itself.
    // A new organisation is made only when asked for (test/cli-args.test.ts: refused without --create-org).
    const created = await runCli(
      ['keys', 'create', '--org', 'acme', '--scopes', 'uploads:read,uploads:write', '--label', 'ci', '--create-org'],
      env,
    );
    assert.equal(created.code, 0, created.stderr);
    const ciKey = lastLine(created.stdout);
    assert.match(ciKey, /^stw_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/, 'the key alone on the last line');
    const listed = await runCli(['keys', 'list', '--org', 'acme'], env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /acme\tuploads:read,uploads:write\tactive/);
    assert.ok(!listed.stdout.includes(ciKey), 'list never prints secrets');

    // 2. First start: org `default` with an admin key, printed once and kept 0600.
    const server = spawnCli(['start'], env);
    try {
      const output = await waitForOutput(server, /stw_[0-9a-f]{12}_[A-Za-z0-9_-]{43}\n/);
      const port = /serving at http:\/\/127\.0\.0\.1:(\d+) /.exec(output)?.[1];
      assert.ok(port && port !== '0', output);
      const adminKey = (await readFile(path.join(dataDir, 'admin.key'), 'utf8')).trim();
      assert.ok(output.includes(adminKey));
      assert.equal((await stat(path.join(dataDir, 'admin.key'))).mode & 0o777, 0o600);

      const base = `http://127.0.0.1:${port}`;
      assert.equal((await fetch(`${base}/api/v1/uploads/summary`, { headers: { 'x-api-key': ciKey } })).status, 200);
      assert.equal((await fetch(`${base}/api/v1/keys`, { headers: { authorization: `Bearer ${adminKey}` } })).status, 200);

      // 3. With the server running, the CLI joins its PostgreSQL; changes show at once.
      const another = await runCli(['keys', 'create', '--org', 'acme', '--scopes', 'uploads:read'], env);
      assert.equal(another.code, 0, another.stderr);
      const readerKey = lastLine(another.stdout);
      assert.equal((await fetch(`${base}/api/v1/uploads/summary`, { headers: { 'x-api-key': readerKey } })).status, 200);
      const id = /created key ([0-9a-f-]{36})/.exec(another.stdout)?.[1];
      assert.ok(id);
      const revoked = await runCli(['keys', 'revoke', id], env);
      assert.equal(revoked.code, 0, revoked.stderr);
      const revokedAt = Date.now();

      // 4. A second server would lose its database when the first one stops: it is refused, by name.
      const second = await runCli(['start'], env);
      assert.equal(second.code, 1, second.stderr);
      assert.match(second.stderr, new RegExp(`another Stowage server \\(pid ${server.pid}\\) is using the data folder ${dataDir}`));
      assert.doesNotMatch(second.stderr, /\n\s+at /, 'a message, not a stack');

      // Another process revoked the key: the server's short authentication cache lets it lapse within AUTH_CACHE_MS.
      await eventually(
        async () => {
          const status = (await fetch(`${base}/api/v1/uploads/summary`, { headers: { 'x-api-key': readerKey } })).status;
          return status === 401 ? true : undefined;
        },
        'the revoked key to be refused',
        AUTH_CACHE_MS + 3000,
      );
      assert.ok(Date.now() - revokedAt <= AUTH_CACHE_MS + 3000);
      const unknown = await runCli(['keys', 'revoke', '0190d7c4-0000-7000-8000-000000000000'], env);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /not found/);
    } finally {
      server.kill('SIGKILL'); // a crash: no shutdown, so its PostgreSQL and its claim on the folder stay behind
      await collect(server);
    }
    const clusterDir = path.join(dataDir, 'pg', 'data');
    assert.ok(existsSync(path.join(clusterDir, 'postmaster.pid')), 'the PostgreSQL of the killed server still runs');

    // 5. Server gone: the CLI still works, and the next start takes over, prints no new key, and stops that PostgreSQL.
    const after = await runCli(['keys', 'list'], env);
    assert.equal(after.code, 0, after.stderr);
    assert.match(after.stdout, /revoked/);
    assert.match(after.stdout, /default\tadmin\tactive/);
    const again = spawnCli(['start'], env);
    try {
      const output = await waitForOutput(again, /serving at \S+\s/);
      assert.doesNotMatch(output, /First start/);
      const base = /serving at (\S+)/.exec(output)?.[1];
      const ready = await fetch(`${base}/readyz`);
      assert.equal(ready.status, 200, await ready.text());
    } finally {
      again.kill('SIGTERM');
      await collect(again);
    }
    assert.ok(!existsSync(path.join(clusterDir, 'postmaster.pid')), 'the server that took over stopped it on its way out');
    const migrate = await runCli(['migrate'], env);
    assert.equal(migrate.code, 0, migrate.stderr);
    assert.match(migrate.stdout, /up to date/);
  });

  it('explains bad usage and bad configuration with exit code 2, before starting any database', async () => {
    // A data folder of its own that must stay untouched: arguments are checked first.
    const untouched = path.join(dataDir, 'untouched');
    const usageEnv = { ...env, STOWAGE_DATA_DIR: untouched };
    const usage = await runCli(['keys', 'create', '--org', 'acme'], usageEnv);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /usage: stowage keys create/);
    const badScope = await runCli(['keys', 'create', '--org', 'acme', '--scopes', 'everything'], usageEnv);
    assert.equal(badScope.code, 2);
    assert.match(badScope.stderr, /unknown scopes: everything/);
    const noAction = await runCli(['keys'], usageEnv);
    assert.equal(noAction.code, 2);
    assert.match(noAction.stderr, /usage: stowage keys create/);
    assert.equal(existsSync(untouched), false, 'no database was started for a usage error');
    const badPort = await runCli(['start'], { ...env, PORT: 'eighty' });
    assert.equal(badPort.code, 2);
    assert.match(badPort.stderr, /PORT must be a number/);
  });
});
