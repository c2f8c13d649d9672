/**
 * The command line as a new user meets it (issue 14): help without starting anything, one line and
 * exit 2 for a mistyped or bad argument with nothing created, downloads that never overwrite unless
 * told and resume with Range, a missing file among others, an unreachable server, an unknown
 * organisation and a data folder the embedded PostgreSQL cannot use. All through the built binary.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { SCOPES } from '../src/access/scopes.js';
import { usageLine } from '../src/commands/args.js';
import { COMMANDS } from '../src/commands/specs.js';
import { type CliResult, runCli } from './helpers/cli.js';
import { type Harness, startStowage } from './helpers/harness.js';
import { sha256, uploadConfirmed } from './helpers/uploads.js';
import { firstPassOnly } from './helpers/ci-pass.js';

const root = path.resolve(import.meta.dirname, '..');
const { version } = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { version: string };
const runningAsRoot = process.getuid?.() === 0;

/** Whether another user can run the built CLI here: CI's first pass works in a private (0700) copy that only root can enter. */
function othersCanRun(file: string): boolean {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
    if (dir === path.dirname(dir)) return (statSync(file).mode & 0o004) !== 0;
  }
}

/** What root's start says when it moves PostgreSQL out of a private checkout: true, and not the error under test. */
const withoutRelocationNotice = (result: CliResult): CliResult => ({
  ...result,
  stderr: result.stderr.replace(/^stowage: as root, the embedded PostgreSQL runs as user postgres on .*\n/m, ''),
});

/** Exactly one line on stderr, the given exit status, and no stack. */
function assertOneLine(result: CliResult, code: number, pattern: RegExp): void {
  assert.equal(result.code, code, `exit ${result.code}, stderr: ${result.stderr}`);
  assert.match(result.stderr, /^stowage: [^\n]+\n$/, `one line: ${JSON.stringify(result.stderr)}`);
  assert.match(result.stderr, pattern);
  assert.ok(!result.stderr.includes('    at '), 'no stack');
}

describe('stowage help and a bad command line, with no server', { skip: firstPassOnly }, () => {
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'stowage-cli-args-'));
    // A data folder that must never appear: nothing here may start a database.
    env = { STOWAGE_DATA_DIR: path.join(dir, 'data'), STOWAGE_URL: 'http://127.0.0.1:9', STOWAGE_API_KEY: 'stw_x' };
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('prints help with no command, at once, and starts nothing', async () => {
    const started = Date.now();
    const result = await runCli([], env);
    const ms = Date.now() - started;
    assert.equal(result.code, 0, result.stderr);
    assert.ok(ms < 5000, `help took ${ms} ms: it must not start a server`);
    for (const line of ['stowage start', 'stowage keys create --org NAME --scopes LIST', 'stowage upload FILE…', 'stowage download ID']) {
      assert.ok(result.stdout.includes(line), `help lists ${line}`);
    }
    assert.equal(existsSync(env.STOWAGE_DATA_DIR), false, 'no data folder was made');
    for (const args of [['--help'], ['-h'], ['help']]) assert.equal((await runCli(args, env)).stdout, result.stdout, args[0]);
  });

  it('prints the package version with --version and -v', async () => {
    for (const flag of ['--version', '-v']) {
      const result = await runCli([flag], env);
      assert.equal(result.code, 0);
      assert.equal(result.stdout, `${version}\n`);
    }
  });

  it('prints each command its own help: flags with defaults, size formats, scopes', async () => {
    const expected: Record<string, (string | RegExp)[]> = {
      upload: ['--parallel N', /default 4\b/, '--part-size SIZE', /default 16MiB/, '16MiB', '5M', '1GiB', '--url URL', '--key KEY'],
      download: ['-o, --out FILE', '--force', 'stdout', 'Range'],
      'keys create': ['--org NAME', '--scopes LIST', '--create-org', '--label TEXT', ...SCOPES],
      'keys list': ['--org NAME'],
      'keys revoke': ['usage: stowage keys revoke ID'],
      'files verify': ['usage: stowage files verify ID [--org NAME]'],
      start: ['STOWAGE_DATA_DIR', 'DATABASE_URL'],
      migrate: ['migrations'],
    };
    // Side by side: each is a process that prints and exits.
    const helps = await Promise.all(Object.keys(expected).map((command) => runCli([...command.split(' '), '--help'], env)));
    for (const [i, [command, needles]] of Object.entries(expected).entries()) {
      const viaFlag = helps[i];
      assert.equal(viaFlag.code, 0, viaFlag.stderr);
      assert.ok(viaFlag.stdout.startsWith(`usage: stowage ${command}`), viaFlag.stdout);
      for (const needle of needles) {
        if (typeof needle === 'string') assert.ok(viaFlag.stdout.includes(needle), `${command} --help mentions ${needle}`);
        else assert.match(viaFlag.stdout, needle, `${command} --help`);
      }
    }
    const upload = await runCli(['upload', '--help'], env);
    assert.equal((await runCli(['help', 'upload'], env)).stdout, upload.stdout, 'stowage help upload');
    assert.equal((await runCli(['upload', 'a.bin', '--paralel', '-h'], env)).stdout, upload.stdout, 'help wins over a bad flag');
    const keys = await runCli(['keys', '--help'], env);
    assert.equal(keys.code, 0);
    for (const sub of ['keys create', 'keys list', 'keys revoke']) assert.ok(keys.stdout.includes(`stowage ${sub}`));
  });

  it("the README's CLI reference lists every command with its flags, the size formats and the scopes", async () => {
    const readme = await readFile(path.join(root, 'README.md'), 'utf8');
    const start = readme.indexOf('\n## CLI reference\n');
    assert.ok(start > readme.indexOf('\n## Large files from the command line\n'), 'right after "Large files from the command line"');
    const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
    for (const spec of COMMANDS) {
      const usage = usageLine(spec);
      const listed = section.includes(`\`${usage}\``) || section.includes(`\`stowage ${spec.name}\``);
      assert.ok(listed, `README lists ${usage}`);
      for (const name of Object.keys(spec.options)) assert.ok(section.includes(`--${name}`), `README names ${spec.name} --${name}`);
    }
    for (const needle of ['16MiB', '5M', '1GiB', ...SCOPES]) assert.ok(section.includes(`\`${needle}\``), `README names ${needle}`);
  });

  it('refuses unknown commands and options, missing and extra arguments in one line with exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['upload', 'a.bin', '--paralel', '4'], /unknown option --paralel; did you mean --parallel\? \(see stowage upload --help\)/],
      [['uplaod', 'a.bin'], /unknown command "uplaod"; did you mean upload\?/],
      [['--verbose'], /unknown option --verbose/],
      [['download'], /missing ID; usage: stowage download ID/],
      [['download', '0190a5c4-0000-7000-8000-000000000000', 'extra'], /unexpected argument "extra"/],
      [['download', '0190a5c4-0000-7000-8000-000000000000', '--force=yes'], /--force takes no value/],
      [['download', '0190a5c4-0000-7000-8000-000000000000', '-o'], /-o needs a value/],
      [['keys'], /keys needs one of: create, list, revoke/],
      [['keys', 'create', '--org', 'acme'], /keys create needs --scopes/],
      [['keys', 'create', '--org', 'acme', '--scopes', 'everything'], /unknown scopes: everything/],
      [['start', '--port', '8080'], /unknown option --port \(see stowage start --help\)/],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args, env)));
    cases.forEach(([, pattern], i) => assertOneLine(results[i], 2, pattern));
    assert.equal(existsSync(env.STOWAGE_DATA_DIR), false, 'no database was started for a usage error');
  });
});

/** An HTTP proxy that records each request's Range header and the body bytes it passed back, and can cut a blob download. */
interface RecordingProxy {
  url: string;
  seen: { method: string; path: string; range: string | undefined; status: number; bytes: number }[];
  /** The next blob GET is cut after this many body bytes. */
  cutNextBlobAfter(bytes: number): void;
  close(): Promise<void>;
}

async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const upstream = new URL(target);
  const seen: RecordingProxy['seen'] = [];
  let cutAfter: number | null = null;
  const server = http.createServer((request, response) => {
    const entry = { method: request.method!, path: request.url!, range: request.headers.range, status: 0, bytes: 0 };
    seen.push(entry);
    const isBlobGet = request.method === 'GET' && request.url!.startsWith('/blob/');
    const limit = isBlobGet ? cutAfter : null;
    if (isBlobGet) cutAfter = null;
    const outgoing = http.request(
      { host: upstream.hostname, port: upstream.port, method: request.method, path: request.url, headers: request.headers, agent: false },
      (answer) => {
        entry.status = answer.statusCode ?? 0;
        response.writeHead(entry.status, answer.headers);
        let left = limit ?? Infinity;
        answer.on('data', (chunk: Buffer) => {
          if (left <= 0) return;
          const part = chunk.subarray(0, left);
          left -= part.length;
          entry.bytes += part.length;
          // Cut once the allowance has left: the client has every byte up to it, then a dead connection.
          response.write(part, () => left <= 0 && response.socket?.destroy());
        });
        answer.on('end', () => left > 0 && response.end());
      },
    );
    outgoing.on('error', () => response.destroy());
    request.pipe(outgoing);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    seen,
    cutNextBlobAfter: (bytes) => (cutAfter = bytes),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const hashOf = async (file: string) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');

describe('stowage upload, download and keys against a server', { skip: firstPassOnly }, () => {
  let h: Harness;
  let proxy: RecordingProxy;
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    // The local driver serves the signed blob URLs itself, so downloads pass through the proxy.
    h = await startStowage({}, { storage: 'local' });
    proxy = await startRecordingProxy(h.url);
    dir = await mkdtemp(path.join(os.tmpdir(), 'stowage-cli-args-'));
    env = { STOWAGE_URL: proxy.url, STOWAGE_API_KEY: h.keys.writer, STOWAGE_CACHE_DIR: path.join(dir, 'cache') };
  });
  after(async () => {
    await proxy?.close();
    await h?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const uploadCount = async () =>
    (await sql<{ n: number }>`SELECT count(*)::int AS n FROM uploads`.execute(h.runtime.database.db)).rows[0].n;

  it('refuses a misspelt option and bad values before asking the server anything, and creates no upload', async () => {
    const file = path.join(dir, 'refused.bin');
    await writeFile(file, 'some bytes');
    const before = await uploadCount();
    proxy.seen.length = 0;
    const cases: [string[], RegExp][] = [
      [['--paralel', '4'], /unknown option --paralel/],
      [['--parallel', 'abc'], /--parallel takes a whole number from 1 to 64, not "abc"/],
      [['--parallel', '0'], /--parallel must be from 1 to 64, not 0/],
      [['--parallel', '-2'], /--parallel takes a whole number/],
      [['--part-size', 'lots'], /--part-size takes a size such as 16MiB, 5M, 1GiB or a number of bytes, not "lots"/],
      [['--part-size', '1MiB'], /--part-size must be from 5MiB to 5GiB, not 1MiB/],
      [['--url', 'localhost:8080'], /must start with http:\/\/ or https:\/\//],
    ];
    const results = await Promise.all(cases.map(([extra]) => runCli(['upload', file, ...extra], env)));
    cases.forEach(([, pattern], i) => assertOneLine(results[i], 2, pattern));
    assert.deepEqual(proxy.seen, [], 'no request reached the server');
    assert.equal(await uploadCount(), before, 'no upload row');
  });

  it('uploads the files it can read, names the one it cannot in one line, and exits 1', async () => {
    const present = path.join(dir, 'present.bin');
    await writeFile(present, 'present bytes');
    const missing = path.join(dir, 'missing.bin');
    const result = await runCli(['upload', missing, present, dir], env);
    assert.equal(result.code, 1, result.stderr);
    const lines = result.stderr.trim().split('\n');
    assert.deepEqual(lines, [`stowage: ${missing}: no such file`, `stowage: ${dir}: is a folder (upload takes files)`]);
    const [id] = result.stdout.trim().split('\n');
    const upload = (await h.api('GET', `/api/v1/uploads/${id}`)).body;
    assert.deepEqual([upload.name, upload.status, upload.sha256], ['present.bin', 'confirmed', sha256('present bytes')]);
  });

  it('download never overwrites without --force; -o - writes exactly the bytes to stdout', async () => {
    const bytes = Buffer.from('the new content of hello.txt\n');
    const upload = await uploadConfirmed(h, 'hello.txt', bytes);
    const work = await mkdtemp(path.join(dir, 'cwd-'));
    const existing = path.join(work, 'hello.txt');
    await writeFile(existing, 'precious\n');

    // The case: --out was ignored and hello.txt overwritten. Now --out is honoured...
    const named = await runCli(['download', upload.id, '--out', path.join(work, 'x.txt')], env);
    assert.equal(named.code, 0, named.stderr);
    assert.equal(await readFile(path.join(work, 'x.txt'), 'utf8'), bytes.toString());
    // ...and an existing file is refused, by name, before any request.
    proxy.seen.length = 0;
    const refused = await runCli(['download', upload.id, '-o', existing], env);
    assertOneLine(refused, 1, new RegExp(`${existing} exists; add --force to overwrite it`));
    assert.deepEqual(proxy.seen, []);
    const again = await runCli(['download', upload.id, '--out', path.join(work, 'x.txt')], env);
    assertOneLine(again, 1, /x\.txt exists; add --force/);
    const intoFolder = await runCli(['download', upload.id, '-o', work], env);
    assertOneLine(intoFolder, 1, /hello\.txt exists; add --force/);
    assert.equal(await readFile(existing, 'utf8'), 'precious\n', 'untouched');

    const forced = await runCli(['download', upload.id, '-o', existing, '--force'], env);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(await readFile(existing, 'utf8'), bytes.toString());
    assert.deepEqual((await readdir(work)).sort(), ['hello.txt', 'x.txt'], 'no partial file left behind');

    const piped = await runCli(['download', upload.id, '-o', '-'], env);
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout, bytes.toString(), 'exactly the bytes, nothing else');
    assert.equal(piped.stderr, '');

    // Bytes changed in storage reach stdout before the hash can tell: the end says so, and fails.
    const { rows } = await sql<{ blob_key: string }>`SELECT blob_key FROM uploads WHERE id = ${upload.id}`.execute(h.runtime.database.db);
    const blob = path.join(h.dataDir, 'blobs', rows[0].blob_key);
    await writeFile(blob, bytes.toString().replace('new', 'old'));
    const mismatch = await runCli(['download', upload.id, '-o', '-'], env);
    assertOneLine(
      mismatch,
      1,
      /do not verify: \d+ bytes hashing to [0-9a-f]{64}, expected \d+ bytes hashing to [0-9a-f]{64}: do not use the bytes on stdout/,
    );
    const toFile = await runCli(['download', upload.id, '-o', path.join(work, 'changed.txt')], env);
    assertOneLine(toFile, 1, /file not kept/);
    assert.deepEqual((await readdir(work)).sort(), ['hello.txt', 'x.txt'], 'nothing kept of changed bytes');
  });

  it('an interrupted download resumes with a Range request from what it kept, and verifies the whole', async () => {
    const size = 3 * 1024 * 1024 + 517;
    const bytes = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4) bytes.writeUInt32LE((i * 2654435761) >>> 0, Math.min(i, size - 4));
    const upload = await uploadConfirmed(h, 'big.bin', bytes);
    const target = path.join(dir, 'resumed.bin');
    const partial = `${target}.${upload.sha256.slice(0, 16)}.part`;

    proxy.cutNextBlobAfter(1024 * 1024);
    proxy.seen.length = 0;
    const first = await runCli(['download', upload.id, '-o', target], env);
    assertOneLine(first, 1, /download interrupted after .* of 3\.0 MiB .*run the same command again to continue/);
    assert.equal(existsSync(target), false, 'nothing at the target until verified');
    const kept = (await stat(partial)).size;
    assert.ok(kept > 0 && kept <= 1024 * 1024, `kept ${kept} bytes`);
    assert.ok(bytes.subarray(0, kept).equals(await readFile(partial)), 'the partial file holds a prefix of the bytes');

    proxy.seen.length = 0;
    const second = await runCli(['download', upload.id, '-o', target], env);
    assert.equal(second.code, 0, second.stderr);
    const blobGets = proxy.seen.filter((r) => r.path.startsWith('/blob/'));
    assert.deepEqual(
      blobGets.map((r) => [r.range, r.status, r.bytes]),
      [[`bytes=${kept}-`, 206, size - kept]],
      'one Range request for the rest, and only the rest was sent',
    );
    assert.equal(await hashOf(target), upload.sha256);
    assert.equal(existsSync(partial), false, 'the partial file is gone once in place');

    // A kept prefix that is not the upload's is caught by the whole-file check, and dropped.
    const other = path.join(dir, 'corrupt.bin');
    const otherPartial = `${other}.${upload.sha256.slice(0, 16)}.part`;
    await writeFile(otherPartial, Buffer.alloc(1000, 0xff));
    const corrupt = await runCli(['download', upload.id, '-o', other], env);
    assertOneLine(corrupt, 1, /do not verify: .* hashing to [0-9a-f]{64}, expected .*: file not kept/);
    assert.equal(existsSync(other) || existsSync(otherPartial), false);
    const retried = await runCli(['download', upload.id, '-o', other], env);
    assert.equal(retried.code, 0, retried.stderr);
    assert.equal(await hashOf(other), upload.sha256);
  });

  it('an unreachable server is one line that names its URL, for upload and download', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const file = path.join(dir, 'unsent.bin');
    await writeFile(file, 'unsent');
    const unreachable = new RegExp(
      `cannot reach the server at ${url.replaceAll('.', '\\.')}: connection refused .*\\(set --url or STOWAGE_URL\\)`,
    );
    assertOneLine(await runCli(['upload', file, '--url', url], env), 1, unreachable);
    assertOneLine(await runCli(['download', '0190a5c4-0000-7000-8000-000000000000'], { ...env, STOWAGE_URL: url }), 1, unreachable);
    // An id that cannot be one is told apart without a request, like a server's error answer in one line.
    assertOneLine(await runCli(['download', 'nope'], env), 1, /no upload nope/);
    assertOneLine(await runCli(['download', '0190a5c4-0000-7000-8000-000000000000'], env), 1, /GET \/api\/v1\/uploads\/\S+: 404 /);
  });

  it('keys create refuses an unknown organisation unless --create-org', async () => {
    const dbEnv = { DATABASE_URL: h.databaseUrl };
    const org = `neworg-${Date.now()}`;
    const orgRow = () => sql`SELECT id FROM orgs WHERE name = ${org}`.execute(h.runtime.database.db);
    const refused = await runCli(['keys', 'create', '--org', org, '--scopes', 'uploads:read'], dbEnv);
    assertOneLine(refused, 1, new RegExp(`no organisation "${org}"; add --create-org to create it`));
    assert.equal((await orgRow()).rows.length, 0, 'no organisation made');

    const created = await runCli(['keys', 'create', '--org', org, '--scopes', 'uploads:read', '--create-org'], dbEnv);
    assert.equal(created.code, 0, created.stderr);
    assert.equal((await orgRow()).rows.length, 1);
    const key = created.stdout.trim().split('\n').at(-1)!;
    assert.equal((await h.api('GET', '/api/v1/uploads/summary', { key })).status, 200, 'the new key works');
    // An existing organisation needs no flag.
    const existing = await runCli(['keys', 'create', '--org', 'acme', '--scopes', 'uploads:read'], dbEnv);
    assert.equal(existing.code, 0, existing.stderr);
    assert.match(existing.stdout, /in org "acme"/);
  });
});

// In both of CI's passes: the first runs from a private copy, where another user cannot run the CLI.
describe('a data folder the embedded PostgreSQL cannot use', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'stowage-cli-folder-'));
    await chmod(dir, 0o755);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('is a file: one line that says so and names STOWAGE_DATA_DIR', async () => {
    const file = path.join(dir, 'a-file');
    await writeFile(file, '');
    assertOneLine(
      await runCli(['keys', 'list'], { STOWAGE_DATA_DIR: file }),
      1,
      new RegExp(`cannot use the data folder ${file}: it is a file, not a folder \\(set STOWAGE_DATA_DIR`),
    );
    assertOneLine(await runCli(['migrate'], { STOWAGE_DATA_DIR: path.join(file, 'below') }), 1, /a-file is a file, not a folder/);
  });

  it(
    'is not writable by the user: one line naming the user and what to do',
    {
      skip:
        (!runningAsRoot && 'needs root to run as another user') ||
        (!othersCanRun(path.join(root, 'dist', 'cli.js')) && 'the checkout is in a private folder uid 65534 cannot enter'),
    },
    async () => {
      const readOnly = path.join(dir, 'read-only');
      await mkdir(readOnly, { mode: 0o555 });
      await chmod(readOnly, 0o555);
      const result = await runCli(['keys', 'list'], { STOWAGE_DATA_DIR: readOnly }, { uid: 65534, gid: 65534 });
      assertOneLine(
        result,
        1,
        new RegExp(`cannot use the data folder ${readOnly}: user \\S+ \\(uid 65534\\) may not create ${readOnly}/pg .*STOWAGE_DATA_DIR`),
      );
    },
  );

  it(
    'holds a cluster of another user: one line with the owner and what to do',
    { skip: !runningAsRoot && 'needs root to chown' },
    async () => {
      // The cluster folder as another user's first start leaves it: owned by that user, 0700.
      const folder = path.join(dir, 'theirs');
      const cluster = path.join(folder, 'pg', 'data');
      await mkdir(cluster, { recursive: true, mode: 0o700 });
      await writeFile(path.join(cluster, 'PG_VERSION'), '18\n');
      await chown(cluster, 65534, 65534);
      await chmod(cluster, 0o700);
      const result = withoutRelocationNotice(await runCli(['keys', 'list'], { STOWAGE_DATA_DIR: folder }));
      assertOneLine(
        result,
        1,
        new RegExp(`the embedded PostgreSQL cannot use ${cluster}: it belongs to uid 65534 and PostgreSQL runs as .*STOWAGE_DATA_DIR`),
      );
    },
  );
});
