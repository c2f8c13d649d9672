#!/usr/bin/env node
import './threadpool.js';
import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig } from './config.js';
import {
  type CommandSpec,
  type ParsedArgs,
  CommandError,
  UsageError,
  closest,
  commandHelp,
  parseCommand,
  usageLine,
  wantsHelp,
  wrap,
} from './commands/args.js';
import { COMMANDS, findCommand, groupUsage, mainHelp, subcommandsOf } from './commands/specs.js';

// Commands load what they need when they run: `stowage upload` starts in a tenth of the time when it
// does not first load the server (Fastify, Kysely, pg-boss, the AWS SDK) it only talks to. Help and a
// refused command line load nothing beyond the command tables.

/** keys and files take a subcommand: `stowage keys create …`. */
const GROUPS = ['keys', 'files'];

/** What the failing command was using, so a failure can name it. */
const using: { dataDir: string | null; databaseUrl: string | null } = { dataDir: null, databaseUrl: null };

const version = (): string =>
  (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

async function main(argv: string[]): Promise<void> {
  const [first] = argv;
  // No command prints help (exit 0) rather than starting a server: `npm start` runs `stowage start`.
  if (first === undefined || first === '-h' || first === '--help') return print(mainHelp(version()));
  if (first === '-v' || first === '--version') return print(`${version()}\n`);
  if (first === 'help') return print(helpFor(argv.slice(1)));
  if (first.startsWith('-')) throw new UsageError(`unknown option ${first} (see stowage --help)`);
  const { spec, group, rest } = resolve(argv);
  if (!spec) {
    if (wantsHelp(rest)) return print(groupHelp(group!));
    throw new UsageError(`${group} needs one of: ${subcommandsOf(group!).join(', ')}; usage: ${groupUsage(group!)}`);
  }
  if (wantsHelp(rest)) return print(commandHelp(spec));
  return run(spec, await parseCommand(spec, rest));
}

async function run(spec: CommandSpec, args: ParsedArgs): Promise<void> {
  // Client commands talk to a server over HTTP and need none of its configuration.
  if (spec.name === 'upload') return (await import('./commands/upload.js')).runUpload(args);
  if (spec.name === 'download') return (await import('./commands/download.js')).runDownload(args);
  const config = loadConfig();
  if (config.databaseUrl) using.databaseUrl = config.databaseUrl;
  else using.dataDir = config.dataDir;
  switch (spec.name) {
    case 'start':
    case 'serve':
    case 'worker': {
      const { runServer } = await import('./commands/server.js');
      return runServer(config, spec.name === 'start' ? 'all' : spec.name);
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
    case 'keys create':
    case 'keys list':
    case 'keys revoke':
      return (await import('./commands/keys.js')).runKeys(config, spec.name.slice('keys '.length), args);
    case 'files verify':
      return (await import('./commands/files.js')).runFiles(config, args);
    default:
      throw new Error(`no runner for ${spec.name}`);
  }
}

/** The command `argv` starts with and the words after its name; a group without its subcommand has spec null. */
function resolve(argv: string[]): { spec: CommandSpec | null; group: string | null; rest: string[] } {
  const [first, second] = argv;
  if (GROUPS.includes(first)) {
    if (second === undefined || second.startsWith('-')) return { spec: null, group: first, rest: argv.slice(1) };
    const spec = findCommand(`${first} ${second}`);
    if (!spec) {
      const close = closest(second, subcommandsOf(first));
      throw new UsageError(
        `unknown ${first} command "${second}"${close ? `; did you mean ${first} ${close}?` : ''}; usage: ${groupUsage(first)}`,
      );
    }
    return { spec, group: first, rest: argv.slice(2) };
  }
  const spec = findCommand(first);
  if (!spec) {
    const close = closest(first, [...new Set(COMMANDS.map((c) => c.name.split(' ')[0]))]);
    throw new UsageError(`unknown command "${first}"${close ? `; did you mean ${close}?` : ''} (see stowage --help)`);
  }
  return { spec, group: null, rest: argv.slice(1) };
}

/** `stowage help`, `stowage help upload`, `stowage help keys`, `stowage help keys create`. */
function helpFor(words: string[]): string {
  if (!words.length) return mainHelp(version());
  const { spec, group } = resolve(words);
  return spec ? commandHelp(spec) : groupHelp(group!);
}

function groupHelp(group: string): string {
  const specs = COMMANDS.filter((c) => c.name.startsWith(`${group} `));
  const lines = specs.flatMap((s) => [`  ${usageLine(s)}`, wrap(`      ${s.summary}`, '      ')]);
  return `usage: stowage ${group} ${subcommandsOf(group).join('|')} …\n\n${lines.join('\n')}\n\nstowage ${group} COMMAND --help shows a command's options.\n`;
}

function print(text: string): void {
  process.stdout.write(text);
}

/** Error → one line (or two, for an unexpected one) and the exit status: 2 usage or configuration, 1 the rest. */
async function describe(error: unknown): Promise<{ text: string; code: number }> {
  if (error instanceof UsageError || error instanceof ConfigError) return { text: error.message, code: 2 };
  // The SDK's StowageError (an API error answer) by name: importing the SDK would slow `stowage --help`.
  if (error instanceof CommandError || (error instanceof Error && error.name === 'StowageError')) return { text: error.message, code: 1 };
  // Loaded on failure only: it brings TypeBox, a third of the start-up of `stowage --help`.
  const { AppError } = await import('./errors.js');
  if (error instanceof AppError) {
    const problems = Array.isArray(error.details) ? (error.details as { path: string; message: string }[]) : [];
    return { text: error.message + problems.map((p) => `\n  ${p.path}: ${p.message}`).join(''), code: error.status === 404 ? 1 : 2 };
  }
  // Named rather than imported: the database code is loaded only by the commands that use it.
  if (error instanceof Error && (error.name === 'DataFolderInUseError' || error.name === 'EmbeddedPostgresError')) {
    return { text: error.message, code: 1 };
  }
  if (using.dataDir) {
    const { explainDataFolderError } = await import('./commands/data-folder.js');
    const explained = explainDataFolderError(error, using.dataDir);
    if (explained) return { text: explained, code: 1 };
  }
  if (using.databaseUrl) {
    const unreachable = await databaseProblem(error, using.databaseUrl);
    if (unreachable) return { text: unreachable, code: 1 };
  }
  if (!(error instanceof Error)) return { text: String(error), code: 1 };
  if (process.env.STOWAGE_DEBUG) return { text: error.stack ?? error.message, code: 1 };
  return { text: `${error.message}\n  (an unexpected error: STOWAGE_DEBUG=1 shows where it happened)`, code: 1 };
}

/** A DATABASE_URL that cannot be reached or logged into, named without its password. */
async function databaseProblem(error: unknown, databaseUrl: string): Promise<string | null> {
  const shown = (() => {
    try {
      const url = new URL(databaseUrl);
      if (url.password) url.password = '***';
      return url.toString();
    } catch {
      return 'DATABASE_URL';
    }
  })();
  const code = (error as { code?: string }).code;
  const refusals: Record<string, string> = {
    '28P01': 'the password was refused',
    '28000': 'the login was refused',
    '3D000': 'no such database',
  };
  if (code && refusals[code]) return `cannot use the database at ${shown}: ${refusals[code]} (check DATABASE_URL)`;
  const { networkFailure } = await import('./commands/client.js');
  const reason = networkFailure(error);
  return reason ? `cannot reach the database at ${shown}: ${reason} (check DATABASE_URL)` : null;
}

/** Exits once stdout has taken everything written to it (a pipe may not have yet). */
function exit(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 2000).unref(); // a stdout nobody reads any more never calls back
  process.stdout.write('', () => process.exit(code));
}

main(process.argv.slice(2)).then(
  () => exit(Number(process.exitCode ?? 0)),
  async (error) => {
    const { text, code } = await describe(error);
    process.stderr.write(`stowage: ${text}\n`);
    exit(code);
  },
);
