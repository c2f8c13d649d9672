#!/usr/bin/env node
import './threadpool.js';
import { ConfigError, loadConfig } from './config.js';
import { UsageError, parseArgs } from './commands/args.js';
import { ApiError } from './client/api-client.js';
import { AppError } from './errors.js';

// Commands load what they need when they run: `stowage upload` starts in a tenth of the time when it
// does not first load the server (Fastify, Kysely, pg-boss, the AWS SDK) it only talks to.

const HELP = `stowage — self-hosted file ingestion

usage:
  stowage start                 API and worker in one process (the default)
  stowage serve                 the HTTP API only
  stowage worker                background jobs only
  stowage migrate               apply database migrations and exit
  stowage keys create --org NAME --scopes a,b [--label L]
  stowage keys list [--org NAME]
  stowage keys revoke ID
  stowage files verify ID [--org NAME]
  stowage upload FILE… [--url URL] [--key KEY] [--parallel N] [--part-size SIZE]
  stowage download ID [-o FILE] [--url URL] [--key KEY]

upload/download talk to a server: --url or STOWAGE_URL (default http://127.0.0.1:8080),
--key or STOWAGE_API_KEY.

Configuration comes from the environment; see the README.
`;

async function main(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const [command = 'start', ...rest] = args.positional;
  if (command === 'help' || args.flag('help')) {
    process.stdout.write(HELP);
    return;
  }
  // Client commands talk to a server over HTTP and need none of its configuration.
  if (command === 'upload') return (await import('./commands/upload.js')).runUpload({ ...args, positional: rest });
  if (command === 'download') return (await import('./commands/download.js')).runDownload({ ...args, positional: rest });
  const config = loadConfig();
  switch (command) {
    case 'start':
    case 'serve':
    case 'worker': {
      const { runServer } = await import('./commands/server.js');
      return runServer(config, command === 'start' ? 'all' : command);
    }
    case 'migrate': {
      const [{ resolveDatabase }, { openDatabase }, { migrate }] = await Promise.all([
        import('./db/connect.js'),
        import('./db/database.js'),
        import('./db/migrate.js'),
      ]);
      const target = await resolveDatabase(config, undefined, 'client');
      const database = openDatabase(target.url, { max: 1 });
      try {
        const { applied } = await migrate(database.db);
        process.stdout.write(applied.length ? `applied ${applied.join(', ')}\n` : 'database is up to date\n');
      } finally {
        await database.close();
        await target.release();
      }
      return;
    }
    case 'keys':
      return (await import('./commands/keys.js')).runKeys(config, { ...args, positional: rest });
    case 'files':
      return (await import('./commands/files.js')).runFiles(config, { ...args, positional: rest });
    default:
      throw new UsageError(`unknown command "${command}"\n\n${HELP}`);
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(process.exitCode ?? 0),
  (error) => {
    // A second server on a data folder another one uses: a plain message, no stack.
    if (error instanceof ApiError || (error instanceof Error && error.name === 'DataFolderInUseError')) {
      process.stderr.write(`stowage: ${error.message}\n`);
      process.exit(1);
    }
    if (error instanceof UsageError || error instanceof ConfigError || error instanceof AppError) {
      const problems = error instanceof AppError && Array.isArray(error.details) ? error.details : [];
      const lines = problems.map((p: { path: string; message: string }) => `\n  ${p.path}: ${p.message}`).join('');
      process.stderr.write(`stowage: ${error.message}${lines}\n`);
      process.exit(2);
    }
    process.stderr.write(`stowage: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
