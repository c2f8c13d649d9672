import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { freeLoopbackPort, openEmbeddedPostgres } from '../src/db/embedded.js';
import { ROOT_PLACE, postgresUser, reachableBy, runningAsRoot } from '../src/db/postgres-binaries.js';

async function canQuery(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query('SELECT 1 AS one')).rows[0].one === 1;
  } finally {
    await client.end();
  }
}

describe('the embedded PostgreSQL', () => {
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
      const embedded = await openEmbeddedPostgres(path.join(scratch, 'ports'), () => {}, { pickPort, notice: () => {} });
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
});
