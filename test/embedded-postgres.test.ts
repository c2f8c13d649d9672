import assert from 'node:assert/strict';
import { chmod, chown, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { freeLoopbackPort, openEmbeddedPostgres } from '../src/db/embedded.js';
import { ROOT_PLACE, postgresUser, reachableBy, runningAsRoot } from '../src/db/postgres-binaries.js';
import { runCli } from './helpers/cli.js';
import { firstPassOnly } from './helpers/ci-pass.js';

async function canQuery(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query('SELECT 1 AS one')).rows[0].one === 1;
  } finally {
    await client.end();
  }
}

describe('the embedded PostgreSQL', { skip: firstPassOnly }, () => {
  let scratch: string;
  before(async () => {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'stowage-embedded-'));
    await chmod(scratch, 0o711);
  });
  after(() => rm(scratch, { recursive: true, force: true }));

  it('starts as root on a data folder inside a 0700 folder, placing its cluster where the postgres user can reach it', async (t) => {
    if (!runningAsRoot()) {
      t.skip('needs root: only root runs PostgreSQL as another user (postgres), which cannot enter a 0700 folder');
      return;
    }
    const closed = path.join(scratch, 'closed'); // like /root or a `mktemp -d` clone
    await mkdir(closed, { mode: 0o700 });
    await chmod(closed, 0o700);
    const dataDir = path.join(closed, 'data');
    const notices: string[] = [];
    const embedded = await openEmbeddedPostgres(dataDir, () => {}, { notice: (line) => notices.push(line) });
    try {
      assert.ok(await canQuery(embedded.url));
      assert.ok(embedded.clusterDir.startsWith(`${ROOT_PLACE}/clusters/`), embedded.clusterDir);
      assert.equal(notices.length, 1, 'one line says where it runs');
      assert.ok(notices[0].includes(embedded.clusterDir) && notices[0].includes(dataDir), notices[0]);
    } finally {
      await embedded.stop();
    }
    // The same data folder finds its cluster again (and its data with it).
    const again = await openEmbeddedPostgres(dataDir, () => {}, { notice: () => {} });
    try {
      assert.equal(again.clusterDir, embedded.clusterDir);
      assert.ok(await canQuery(again.url));
    } finally {
      await again.stop();
      await rm(path.dirname(embedded.clusterDir), { recursive: true, force: true });
    }
  });

  it('tells a folder the postgres user can pass through from one it cannot', async (t) => {
    if (!runningAsRoot()) {
      t.skip('needs root: the postgres user is only involved when running as root');
      return;
    }
    const user = await postgresUser();
    const folder = path.join(scratch, 'reach');
    await mkdir(path.join(folder, 'inner'), { recursive: true });
    await chmod(folder, 0o700);
    assert.equal(await reachableBy(path.join(folder, 'inner'), user), false);
    await chmod(folder, 0o711);
    assert.equal(await reachableBy(path.join(folder, 'inner'), user), true);
  });

  it('tries another port when the one it picked is taken before PostgreSQL binds it', async () => {
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const taken = (squatter.address() as net.AddressInfo).port;
    const picked: number[] = [];
    const pickPort = async () => {
      const port = picked.length === 0 ? taken : await freeLoopbackPort();
      picked.push(port);
      return port;
    };
    try {
      const embedded = await openEmbeddedPostgres(path.join(scratch, 'ports'), () => {}, { pickPort, notice: () => {}, throwaway: true });
      try {
        assert.equal(picked.length, 2);
        assert.equal(new URL(embedded.url).port, String(picked[1]));
        assert.ok(await canQuery(embedded.url));
      } finally {
        await embedded.stop();
      }
    } finally {
      squatter.close();
    }
  });

  it('runs as an ordinary user too, through the CLI', async (t) => {
    // As root the other tests cover the root path; here the CLI runs as `nobody`.
    const ordinary = runningAsRoot() ? { uid: 65534, gid: 65534 } : undefined;
    if (ordinary && !(await reachableBy(path.resolve(import.meta.dirname, '..', 'dist'), ordinary))) {
      t.skip('user nobody cannot reach this checkout (a clone in a 0700 folder): it could not run the CLI');
      return;
    }
    const own = await mkdtemp(path.join(os.tmpdir(), 'stowage-cli-user-'));
    try {
      if (ordinary) await chown(own, ordinary.uid, ordinary.gid);
      const created = await runCli(
        ['keys', 'create', '--org', 'solo', '--scopes', 'admin', '--create-org'],
        { STOWAGE_DATA_DIR: path.join(own, 'data'), HOME: own },
        ordinary,
      );
      assert.equal(created.code, 0, created.stderr);
      assert.match(created.stdout.trim().split('\n').at(-1) ?? '', /^stw_/, 'the key alone on the last line');
      if (ordinary) assert.equal((await stat(path.join(own, 'data', 'pg', 'data'))).uid, ordinary.uid, 'the cluster belongs to the user');
    } finally {
      await rm(own, { recursive: true, force: true });
    }
  });
});
