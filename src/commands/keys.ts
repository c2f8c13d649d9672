import type { Config } from '../config.js';
import { SCOPES, isScope } from '../access/scopes.js';
import { type ParsedArgs, UsageError } from './args.js';

const USAGE = 'usage: stowage keys create --org NAME --scopes a,b [--label L] | keys list [--org NAME] | keys revoke ID';

type KeysCommand =
  | { action: 'create'; org: string; scopes: string[]; label: string | null }
  | { action: 'list'; org: string | null }
  | { action: 'revoke'; id: string };

/** Checks the arguments before anything starts: a mistyped command fails in a fraction of a second. */
function parseKeysCommand(args: ParsedArgs): KeysCommand {
  const [action, ...rest] = args.positional;
  if (action === 'create') {
    const org = args.option('org');
    const scopes = (args.option('scopes') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (!org || !scopes.length) throw new UsageError('usage: stowage keys create --org NAME --scopes a,b [--label L]');
    const unknown = scopes.filter((s) => !isScope(s));
    if (unknown.length) throw new UsageError(`unknown scopes: ${unknown.join(', ')} (known: ${SCOPES.join(', ')})`);
    return { action, org, scopes, label: args.option('label') ?? null };
  }
  if (action === 'list') return { action, org: args.option('org') ?? null };
  if (action === 'revoke') {
    if (!rest[0]) throw new UsageError('usage: stowage keys revoke ID');
    return { action, id: rest[0] };
  }
  throw new UsageError(USAGE);
}

/**
 * `stowage keys create|list|revoke` straight on the database, so it works whether or not a server
 * runs on the same data folder (the embedded PostgreSQL is joined when running, started when not).
 */
export async function runKeys(config: Config, args: ParsedArgs): Promise<void> {
  const command = parseKeysCommand(args);
  const [{ resolveDatabase }, { openDatabase }, { migrate }, { KeysService }] = await Promise.all([
    import('../db/connect.js'),
    import('../db/database.js'),
    import('../db/migrate.js'),
    import('../modules/keys/service.js'),
  ]);
  const target = await resolveDatabase(config, undefined, 'client');
  const database = openDatabase(target.url, { max: 2 });
  try {
    await migrate(database.db);
    const keys = new KeysService(database.db);
    if (command.action === 'create') {
      const created = await keys.createForOrgName(command.org, command.scopes, command.label);
      process.stdout.write(
        `created key ${created.id} (${created.prefix}) in org "${created.org_name}" with scopes ${created.scopes.join(',')}\n`,
      );
      // The key alone on the last line, so scripts can take it with `tail -n 1`.
      process.stdout.write(`${created.key}\n`);
    } else if (command.action === 'list') {
      const rows = await keys.list(command.org ? await keys.orgIdByName(command.org) : null);
      const lines = rows.map((k) =>
        [
          k.id,
          k.prefix,
          k.org_name,
          k.scopes.join(','),
          k.revoked_at ? `revoked ${k.revoked_at}` : 'active',
          `last used ${k.last_used_at ?? 'never'}`,
          k.label ?? '',
        ].join('\t'),
      );
      process.stdout.write(lines.length ? `${lines.join('\n')}\n` : 'no keys\n');
    } else {
      const revoked = await keys.revoke(command.id, null);
      process.stdout.write(`revoked key ${revoked.id} (${revoked.prefix}) at ${revoked.revoked_at}\n`);
    }
  } finally {
    await database.close();
    await target.release();
  }
}
