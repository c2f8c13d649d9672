import { mkdir } from 'node:fs/promises';
import pg from 'pg';
import type { Config } from '../config.js';
import type { OwnerRole } from './embedded-owner.js';
import { openEmbeddedPostgres } from './embedded.js';

const EMBEDDED_DATABASE = 'stowage';

export interface DatabaseTarget {
  url: string;
  /** Stops an embedded server this process started; nothing otherwise. */
  release(): Promise<void>;
}

/**
 * DATABASE_URL when given; otherwise the embedded PostgreSQL under the data folder, with its `stowage`
 * database. `role` 'client' (keys, migrate) joins the one a running server uses; a second server is refused.
 */
export async function resolveDatabase(
  config: Config,
  log: (message: string) => void = () => {},
  role: OwnerRole = 'server',
): Promise<DatabaseTarget> {
  if (config.databaseUrl) return { url: config.databaseUrl, release: async () => {} };
  await mkdir(config.dataDir, { recursive: true, mode: 0o755 });
  const embedded = await openEmbeddedPostgres(config.dataDir, log, { role });
  try {
    await ensureDatabase(embedded.url, EMBEDDED_DATABASE);
  } catch (error) {
    await embedded.stop();
    throw error;
  }
  const url = new URL(embedded.url);
  url.pathname = `/${EMBEDDED_DATABASE}`;
  return { url: url.toString(), release: embedded.stop };
}

export async function ensureDatabase(serverUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`).catch((error: { code?: string }) => {
        if (error.code !== '42P04') throw error; // created concurrently by another process
      });
    }
  } finally {
    await client.end();
  }
}
