import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadConfig } from '../../src/config.js';
import { ensureDatabase } from '../../src/db/connect.js';
import { openDatabase } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { JobQueue } from '../../src/jobs/queue.js';

/**
 * One migrated database per `npm test` run (our schema and pg-boss's), which each harness copies
 * (CREATE DATABASE … TEMPLATE) instead of migrating its own. Named per run, so two runs against the
 * same server never share or drop each other's.
 */
export async function createTemplateDatabase(serverUrl: string): Promise<{ name: string; drop(): Promise<void> }> {
  const name = `stowage_tpl_${process.pid}_${randomBytes(4).toString('hex')}`;
  await ensureDatabase(serverUrl, name);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const drop = async () => {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    } finally {
      await client.end();
    }
  };
  try {
    const database = openDatabase(url.toString(), { max: 1 });
    try {
      await migrate(database.db);
    } finally {
      await database.close();
    }
    const queue = await JobQueue.start(url.toString(), loadConfig({}), (error) => {
      throw error;
    });
    await queue.stop({ graceful: false });
  } catch (error) {
    await drop();
    throw error;
  }
  return { name, drop };
}
