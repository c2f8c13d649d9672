#!/usr/bin/env node
import './threadpool.js';
import { ConfigError, loadConfig } from './config.js';
import { migrate } from './db/migrate.js';
import { resolveDatabase } from './db/connect.js';
import { openDatabase } from './db/database.js';
import { UsageError, parseArgs } from './commands/args.js';
import { runKeys } from './commands/keys.js';
import { runServer } from './commands/server.js';
import { runDownload } from './commands/download.js';
import { runUpload } from './commands/upload.js';
import { ApiError } from './client/api-client.js';
import { AppError } from './http/errors.js';

const HELP = `stowage — self-hosted file ingestion

usage:
  stowage start                 API and worker in one process (the default)
  stowage serve                 the HTTP API only
  stowage worker                background jobs only
  stowage migrate               apply database migrations and exit
  stowage keys create --org NAME --scopes a,b [--label L]
  stowage keys list [--org NAME]
  stowage keys revoke ID
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
  if (command === 'upload') return runUpload({ ...args, positional: rest });
  if (command === 'download') return runDownload({ ...args, positional: rest });
  const config = loadConfig();
  switch (command) {
    case 'start':
      return runServer(config, 'all');
    case 'serve':
      return runServer(config, 'serve');
    case 'worker':
      return runServer(config, 'worker');
    case 'migrate': {
      const target = await resolveDatabase(config);
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
      return runKeys(config, { ...args, positional: rest });
    default:
      throw new UsageError(`unknown command "${command}"\n\n${HELP}`);
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(process.exitCode ?? 0),
  (error) => {
    if (error instanceof ApiError) {
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
