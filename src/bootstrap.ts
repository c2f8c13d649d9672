import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import type { Db } from './db/database.js';
import { newId } from './ids.js';
import { keysRepo } from './modules/keys/repo.js';
import { KeysService } from './modules/keys/service.js';

const BOOTSTRAP_LOCK = 7_240_518;

/**
 * On the first start (no org `default` yet) creates it with an admin key, writes the key to
 * `<data>/admin.key` (0600) and returns it so it can be printed once. Later starts return null.
 */
export async function bootstrapFirstStart(db: Db, dataDir: string): Promise<{ key: string; file: string } | null> {
  return db.connection().execute(async (conn) => {
    await sql`SELECT pg_advisory_lock(${BOOTSTRAP_LOCK})`.execute(conn);
    try {
      if (await keysRepo.findOrgByName(conn, 'default')) return null;
      const org = await keysRepo.ensureOrg(conn, newId(), 'default');
      const created = await new KeysService(conn as Db).create(org.id, ['admin'], 'bootstrap admin key');
      const file = path.join(dataDir, 'admin.key');
      await writeFile(file, `${created.key}\n`, { mode: 0o600 });
      return { key: created.key, file };
    } finally {
      await sql`SELECT pg_advisory_unlock(${BOOTSTRAP_LOCK})`.execute(conn);
    }
  });
}
