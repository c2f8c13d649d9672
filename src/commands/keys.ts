import type { Config } from '../config.js';
import { resolveDatabase } from '../db/connect.js';
import { openDatabase } from '../db/database.js';
import { migrate } from '../db/migrate.js';
import { KeysService } from '../modules/keys/service.js';
import { type ParsedArgs, UsageError } from './args.js';

/**
 * `stowage keys create|list|revoke` straight on the database, so it works whether or not a server
 * runs on the same data folder (the embedded PostgreSQL is joined when running, started when not).
 */
export async function runKeys(config: Config, args: ParsedArgs): Promise<void> {
  const [action, ...rest] = args.positional;
  if (!action || !['create', 'list', 'revoke'].includes(action)) {
    throw new UsageError('usage: stowage keys create --org NAME --scopes a,b [--label L] | keys list [--org NAME] | keys revoke ID');
  }
  const target = await resolveDatabase(config);
  const database = openDatabase(target.url, { max: 2 });
  try {
    await migrate(database.db);
    const keys = new KeysService(database.db);
    if (action === 'create') {
      const org = args.option('org');
      const scopes = args.option('scopes');
      if (!org || !scopes) throw new UsageError('usage: stowage keys create --org NAME --scopes a,b [--label L]');
      const created = await keys.createForOrgName(org, scopes.split(',').map((s) => s.trim()).filter(Boolean), args.option('label') ?? null);
      process.stdout.write(`created key ${created.id} (${created.prefix}) in org "${created.org_name}" with scopes ${created.scopes.join(',')}\n`);
      // The key alone on the last line, so scripts can take it with `tail -n 1`.
      process.stdout.write(`${created.key}\n`);
    } else if (action === 'list') {
      const orgName = args.option('org');
      const rows = await keys.list(orgName ? await keys.orgIdByName(orgName) : null);
      const lines = rows.map((k) =>
        [k.id, k.prefix, k.org_name, k.scopes.join(','), k.revoked_at ? `revoked ${k.revoked_at}` : 'active',
          `last used ${k.last_used_at ?? 'never'}`, k.label ?? ''].join('\t'),
      );
      process.stdout.write(lines.length ? `${lines.join('\n')}\n` : 'no keys\n');
    } else {
      const id = rest[0];
      if (!id) throw new UsageError('usage: stowage keys revoke ID');
      const revoked = await keys.revoke(id, null);
      process.stdout.write(`revoked key ${revoked.id} (${revoked.prefix}) at ${revoked.revoked_at}\n`);
    }
  } finally {
    await database.close();
    await target.release();
  }
}
