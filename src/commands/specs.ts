import { SCOPES, type Scope } from '../access/scopes.js';
import { STORAGE_LIMITS } from '../storage-limits.js';
import { type CommandSpec, type OptionSpec, compactSize, usageLine, wrap } from './args.js';

/**
 * Every command's table: its arguments, options, defaults and help. Data only, so `stowage`, its
 * help and a refused command line load no command module (and start nothing).
 */

export const DEFAULT_URL = 'http://127.0.0.1:8080';

const SCOPE_MEANINGS: Record<Scope, string> = {
  'uploads:read': 'list and read uploads, download their bytes',
  'uploads:write': 'upload (presign, multipart, confirm), cancel and delete uploads',
  'parts:read': 'read parts, their revisions, datasets and previews',
  'parts:write': 'create and change parts, revisions and datasets',
  'files:read': 'read files, their versions and folders',
  'files:write': 'create, change and delete files and folders',
  'webhooks:write': 'manage webhooks and their deliveries',
  admin: 'everything above, plus API keys and the content policy',
};

export const SIZES_NOTE =
  'Sizes: a number of bytes, or one with a unit: 512K, 5M, 16MiB, 1GiB, 2T. K, M, G and T are powers of 1024 ' +
  '(16M = 16MiB = 16777216); "B" or "iB" after them and the case are optional.';

const SCOPES_NOTE = [
  'Scopes (comma-separated, e.g. --scopes uploads:read,uploads:write):',
  ...SCOPES.map((s) => `  ${s.padEnd(16)}${SCOPE_MEANINGS[s]}`),
].join('\n');

const DATABASE_NOTE =
  'Works on the database itself (DATABASE_URL, else the embedded PostgreSQL under STOWAGE_DATA_DIR, default ./data), ' +
  'whether or not a server runs on it.';

const SERVER_NOTE =
  'Configuration comes from the environment (PORT, HOST, STOWAGE_DATA_DIR, DATABASE_URL, STORAGE_DRIVER, …): ' +
  'see "Configuration" in docs/operations.md. Without DATABASE_URL, PostgreSQL runs embedded under STOWAGE_DATA_DIR.';

const CLIENT_OPTIONS: Record<string, OptionSpec> = {
  url: { kind: 'string', value: 'URL', help: 'the Stowage server', default: `$STOWAGE_URL, else ${DEFAULT_URL}` },
  key: { kind: 'string', value: 'KEY', help: 'API key', default: '$STOWAGE_API_KEY' },
};

const serverCommand = (name: string, summary: string): CommandSpec => ({
  name,
  summary,
  positionals: [],
  options: {},
  notes: [SERVER_NOTE],
});

export const COMMANDS: readonly CommandSpec[] = [
  serverCommand('start', 'Runs the HTTP API and the worker in one process (what `npm start` runs), until SIGINT or SIGTERM.'),
  serverCommand('serve', 'Runs the HTTP API only (scale out: several `serve` and `worker` processes on one database).'),
  serverCommand('worker', 'Runs the background jobs only: confirm, previews, readings, webhooks, sweeping.'),
  serverCommand('migrate', 'Applies the database migrations and exits (start, serve and worker apply them too).'),
  {
    name: 'keys create',
    summary: 'Creates an API key in an organisation and prints it once, alone on the last line.',
    positionals: [],
    options: {
      org: { kind: 'string', value: 'NAME', help: 'the organisation', required: true },
      scopes: { kind: 'list', value: 'LIST', help: 'what the key may do, comma-separated (below)', required: true },
      label: { kind: 'string', value: 'TEXT', help: 'a note shown in key lists' },
      'create-org': { kind: 'flag', help: 'create the organisation if there is none of that name' },
    },
    notes: [SCOPES_NOTE, DATABASE_NOTE],
  },
  {
    name: 'keys list',
    summary: 'Lists API keys (never their secrets): id, prefix, organisation, scopes, state, last use, label.',
    positionals: [],
    options: { org: { kind: 'string', value: 'NAME', help: 'only the keys of this organisation' } },
    notes: [DATABASE_NOTE],
  },
  {
    name: 'keys revoke',
    summary: 'Revokes an API key by its id (from `keys list`); servers refuse it within seconds.',
    positionals: [{ name: 'ID' }],
    options: {},
    notes: [DATABASE_NOTE],
  },
  {
    name: 'files verify',
    summary: "Recomputes every version's cid and its bytes' sha256 and content cid; exit 0 when the chain holds, 1 at the first break.",
    positionals: [{ name: 'ID' }],
    options: { org: { kind: 'string', value: 'NAME', help: "the file's organisation (default: any)" } },
    notes: [DATABASE_NOTE + ' It reads the blobs from the configured storage (STORAGE_DRIVER).'],
  },
  {
    name: 'upload',
    summary:
      'Uploads each file (one presigned PUT up to the part size, parallel multipart parts above it), waits for the ' +
      'confirm verdict and prints one upload id per confirmed file.',
    positionals: [{ name: 'FILE', many: true }],
    options: {
      ...CLIENT_OPTIONS,
      parallel: { kind: 'int', value: 'N', help: 'parts in flight at once, 1 to 64', default: '4', min: 1, max: 64 },
      'part-size': {
        kind: 'size',
        value: 'SIZE',
        help: `bytes per part, ${compactSize(STORAGE_LIMITS.minPartBytes)} to ${compactSize(STORAGE_LIMITS.maxPartBytes)}`,
        default: '16MiB',
        min: STORAGE_LIMITS.minPartBytes,
        max: STORAGE_LIMITS.maxPartBytes,
      },
    },
    notes: [
      SIZES_NOTE,
      'Interrupted? Run the same command again: a multipart upload resumes, sending only the parts the server lacks ' +
        '(state in $STOWAGE_CACHE_DIR, default ~/.cache/stowage). A file that cannot be read or is refused gets one ' +
        'line on stderr, the other files still go, and the exit status is 1.',
    ],
  },
  {
    name: 'download',
    summary: "Downloads an upload's bytes, checks them against its sha256, then puts them in place.",
    positionals: [{ name: 'ID' }],
    options: {
      out: {
        kind: 'string',
        short: 'o',
        value: 'FILE',
        help: 'where to write; - for stdout; a folder keeps the name',
        default: "the upload's name",
      },
      output: { kind: 'string', value: 'FILE', help: 'same as --out', hidden: true },
      force: { kind: 'flag', help: 'overwrite an existing file' },
      ...CLIENT_OPTIONS,
    },
    notes: [
      'An existing file is never overwritten without --force. Interrupted? Run the same command again: it continues ' +
        'from the bytes already received (kept beside the target as <target>.<hash>.part) with a Range request.',
      'With -o - the bytes go to stdout as they arrive; a sha256 mismatch is then reported on stderr with exit status 1.',
    ],
  },
];

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** keys, files: the commands that take a subcommand, and theirs. */
export function subcommandsOf(group: string): string[] {
  return COMMANDS.filter((c) => c.name.startsWith(`${group} `)).map((c) => c.name.slice(group.length + 1));
}

export function groupUsage(group: string): string {
  return COMMANDS.filter((c) => c.name.startsWith(`${group} `))
    .map(usageLine)
    .join(' | ');
}

/** What `stowage`, `stowage help` and `stowage --help` print. */
export function mainHelp(version: string): string {
  const section = (title: string, names: string[]) => [
    title,
    ...names.flatMap((n) => {
      const spec = findCommand(n)!;
      return [`  ${usageLine(spec)}`, wrap(`      ${spec.summary}`, '      ')];
    }),
  ];
  return [
    `stowage ${version}: self-hosted file ingestion`,
    '',
    'usage: stowage COMMAND [options]       stowage COMMAND --help (or stowage help COMMAND) for its options',
    '',
    ...section('Server:', ['start', 'serve', 'worker', 'migrate']),
    '',
    ...section('On the database, with or without a running server:', ['keys create', 'keys list', 'keys revoke', 'files verify']),
    '',
    ...section('Client, talking to a server over HTTP (--url or STOWAGE_URL, --key or STOWAGE_API_KEY):', ['upload', 'download']),
    '',
    'Other: stowage help [COMMAND], -h/--help, -v/--version.',
    'Exit status: 0 done; 1 failed (a file not uploaded, an unknown id, an unreachable server); 2 bad command line or configuration.',
    'Configuration comes from the environment: see docs/operations.md.',
    '',
  ].join('\n');
}
