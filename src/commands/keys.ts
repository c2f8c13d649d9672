import type { Config } from '../config.js';
import { SCOPES, isScope } from '../access/scopes.js';
import { isUuid } from '../ids.js';
import { type ParsedArgs, NotFoundError, UsageError } from './args.js';

type KeysCommand =
  | { action: 'create'; org: string; createOrg: boolean; scopes: string[]; label: string | null }
  | { action: 'list'; org: string | null }
  | { action: 'revoke'; id: string };

/** Checks the arguments before anything starts: a mistyped command fails in a fraction of a second. */
function parseKeysCommand(action: string, args: ParsedArgs): KeysCommand {
  if (action === 'create') {
    const scopes = args.list('scopes');
    if (!scopes.length) throw new UsageError('--scopes needs at least one scope (see stowage keys create --help)');
    const unknown = scopes.filter((s) => !isScope(s));
    if (unknown.length) throw new UsageError(`unknown scopes: ${unknown.join(', ')} (known: ${SCOPES.join(', ')})`);
    return { action, org: args.string('org')!, createOrg: args.flag('create-org'), scopes, label: args.string('label') ?? null };
  }
  if (action === 'list') return { action, org: args.string('org') ?? null };
  const [id] = args.positional;
  if (!isUuid(id)) throw new NotFoundError(`API key ${id} not found (key ids look like 0190a5c4-0000-7000-8000-000000000000)`);
  return { action: 'revoke', id };
}

/**
 * `stowage keys create|list|revoke` straight on the database, so it works whether or not a server
 * runs on the same data folder (the embedded PostgreSQL is joined when running, started when not).
 */
export async function runKeys(config: Config, action: string, args: ParsedArgs): Promise<void> {
  const command = parseKeysCommand(action, args);
  const [{ resolveDatabase }, { openDatabase }, { migrate }, { KeysService }, { keysRepo }] = await Promise.all([
    import('../db/connect.js'),
    import('../db/database.js'),
    import('../db/migrate.js'),
    import('../modules/keys/service.js'),
    import('../modules/keys/repo.js'),
  ]);
  const target = await resolveDatabase(config, undefined, 'client');
  const database = openDatabase(target.url, { max: 2 });
  try {
    await migrate(database.db);
    const keys = new KeysService(database.db);
    if (command.action === 'create') {
      // A mistyped --org must not quietly make a second organisation: new ones are asked for by name.
      const org = await keysRepo.findOrgByName(database.db, command.org);
      if (!org && !command.createOrg) throw new NotFoundError(`no organisation "${command.org}"; add --create-org to create it`);
      const created = org
        ? { ...(await keys.create(org.id, command.scopes, command.label)), org_name: org.name }
        : await keys.createForOrgName(command.org, command.scopes, command.label);
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
