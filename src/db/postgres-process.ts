import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { chown, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { PostgresBinaries, RunAs } from './postgres-binaries.js';

type Log = (message: string) => void;

/** The embedded PostgreSQL cannot use its cluster folder; the message says why and what to do, in one line. */
export class EmbeddedPostgresError extends Error {
  override name = 'EmbeddedPostgresError';
}

// Our readiness and failure checks read PostgreSQL's messages: keep them in English.
const ENGLISH = { LC_MESSAGES: 'C' };

/** Creates the cluster in `clusterDir` (initdb), owned by `runAs` when given. */
export async function initCluster(
  binaries: PostgresBinaries,
  clusterDir: string,
  superuser: { user: string; password: string },
  runAs: RunAs | null,
  log: Log,
  throwaway = false,
): Promise<void> {
  await mkdir(clusterDir, { recursive: true, mode: 0o700 });
  // initdb reads the password from a file; it sits beside the cluster, readable by its owner only.
  const passwordFile = path.join(path.dirname(clusterDir), `.pwfile-${randomBytes(6).toString('hex')}`);
  await writeFile(passwordFile, `${superuser.password}\n`, { mode: 0o600 });
  try {
    if (runAs) {
      await chown(clusterDir, runAs.uid, runAs.gid);
      await chown(passwordFile, runAs.uid, runAs.gid);
    }
    const args = [
      `--pgdata=${clusterDir}`,
      '--auth=scram-sha-256',
      `--username=${superuser.user}`,
      `--pwfile=${passwordFile}`,
      '--encoding=UTF8',
      '--lc-messages=C',
      ...(throwaway ? ['--no-sync'] : []),
    ];
    const { code, output } = await runToEnd(spawn(binaries.initdb, args, { ...runAs, env: { ...process.env, ...ENGLISH } }), log);
    if (code !== 0) throw new EmbeddedPostgresError(explainFailure('initdb', output, clusterDir, runAs));
  } finally {
    await rm(passwordFile, { force: true });
  }
}

export type StartOutcome =
  | { kind: 'started'; postmaster: Postmaster }
  /** The port was taken between choosing it and PostgreSQL binding it. */
  | { kind: 'port-taken' }
  /** Another process started PostgreSQL on this cluster meanwhile. */
  | { kind: 'cluster-busy' };

/** A PostgreSQL server we started, and stop (or stop at our exit). */
export interface Postmaster {
  pid: number;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 60_000;
/** For a cluster deleted after use (the test suite's): no waiting on the disk, at the price of durability. */
const THROWAWAY_SETTINGS = ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'];

export function startPostmaster(
  binaries: PostgresBinaries,
  clusterDir: string,
  port: number,
  runAs: RunAs | null,
  log: Log,
  throwaway = false,
): Promise<StartOutcome> {
  const child = spawn(
    binaries.postgres,
    [
      '-D',
      clusterDir,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=200',
      '-c',
      'lc_messages=C',
      ...(throwaway ? THROWAWAY_SETTINGS : []),
    ],
    // Its own process group: a Ctrl-C or a group SIGTERM reaches only us, and we stop PostgreSQL last,
    // instead of it ending our connections before our own shutdown has begun.
    { ...runAs, env: { ...process.env, ...ENGLISH }, stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  );
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`embedded PostgreSQL did not get ready in ${clusterDir} within ${START_TIMEOUT_MS / 1000} s: ${output.trim()}`));
    }, START_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      output += text;
      log(text);
      if (output.includes('database system is ready to accept connections')) {
        clearTimeout(timer);
        child.off('exit', onEarlyExit);
        output = ''; // we keep reading (to forward to the log), not keeping
        resolve({ kind: 'started', postmaster: supervise(child, clusterDir) });
      }
    };
    const onEarlyExit = (code: number | null) => {
      clearTimeout(timer);
      if (/Address already in use|could not create any TCP\/IP sockets/.test(output)) resolve({ kind: 'port-taken' });
      else if (/lock file "postmaster\.pid" already exists/.test(output)) resolve({ kind: 'cluster-busy' });
      else reject(new EmbeddedPostgresError(explainFailure(`postgres (exit ${code})`, output, clusterDir, runAs)));
    };
    child.stderr!.on('data', onData);
    child.once('exit', onEarlyExit);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new EmbeddedPostgresError(`cannot run ${binaries.postgres}: ${error.message} (reinstall with npm ci, or set DATABASE_URL)`));
    });
  });
}

/**
 * What PostgreSQL's own words (`output`) mean for the operator: which folder, why it cannot be used,
 * and what to do, in one line. The cases are the ones a data folder runs into in practice.
 */
export function explainFailure(program: string, output: string, clusterDir: string, runAs: RunAs | null): string {
  const cannot = `the embedded PostgreSQL cannot use ${clusterDir}`;
  const elsewhere = 'or set STOWAGE_DATA_DIR to another folder (or DATABASE_URL to a PostgreSQL of your own)';
  const uid = runAs?.uid ?? process.getuid?.();
  const lines = output.split('\n').map((l) => l.replace(/^\S+ \S+ \S+ \[\d+\] /, '').trim());
  const said = lines.find((l) => /FATAL|PANIC|error:/i.test(l)) ?? lines.filter(Boolean).at(-1) ?? 'no message';
  if (/Permission denied|wrong ownership|must be owned by/i.test(output)) {
    const owner = ownerOf(clusterDir);
    if (owner !== null && owner !== uid) {
      const runsAs = runAs ? `user postgres (uid ${uid})` : `this user (uid ${uid})`;
      return `${cannot}: it belongs to uid ${owner} and PostgreSQL runs as ${runsAs} (run Stowage as the folder's owner, chown -R it to that user, ${elsewhere})`;
    }
    return `${cannot}: permission denied, ${program} said "${said}" (give uid ${uid} access, ${elsewhere})`;
  }
  if (/invalid permissions/.test(output)) {
    return `${cannot}: its permissions must be 0700 or 0750 (chmod 700 ${clusterDir}; on a filesystem that ignores permissions, a Windows or network share, ${elsewhere})`;
  }
  if (/could not change permissions|Operation not permitted/.test(output)) {
    return `${cannot}: its filesystem refuses the permissions PostgreSQL needs, as Windows and network shares do (put STOWAGE_DATA_DIR on a local disk, ${elsewhere.slice(3)})`;
  }
  if (/incompatible with server|database files are incompatible/.test(output)) {
    return `${cannot}: another PostgreSQL major version made it (run the Stowage version that made it, or dump and restore it; ${elsewhere.slice(3)})`;
  }
  if (/postgresql\.conf.*No such file|not a valid data directory|could not find the database system|PG_VERSION/.test(output)) {
    return `${cannot}: it is not a complete PostgreSQL cluster, perhaps from an interrupted first start (if it holds nothing you need, remove ${clusterDir} and start again)`;
  }
  if (/No space left on device/.test(output)) return `${cannot}: the disk is full (free some space, ${elsewhere})`;
  if (/Read-only file system/.test(output)) return `${cannot}: it is on a read-only filesystem (${elsewhere.slice(3)})`;
  if (/shared memory|semget|shmget/.test(output)) {
    return `${cannot}: the system refused PostgreSQL shared memory (in a container, give it a larger /dev/shm; or set DATABASE_URL)`;
  }
  return `${cannot}: ${program} said "${said}" (${elsewhere.slice(3)})`;
}

function ownerOf(dir: string): number | null {
  try {
    return statSync(dir).uid;
  } catch {
    return null;
  }
}

/** Running children, stopped at our exit whatever the path to it (a thrown error, process.exit, a signal). */
const supervised = new Map<ChildProcess, string>();

function supervise(child: ChildProcess, clusterDir: string): Postmaster {
  supervised.set(child, clusterDir);
  watchExit();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', () => supervised.delete(child));
  return {
    pid: child.pid!,
    async stop() {
      if (!supervised.delete(child)) return exited;
      child.kill('SIGINT'); // fast shutdown: ends sessions, no waiting for clients to leave
      await exited;
    },
  };
}

let watching = false;

function watchExit(): void {
  if (watching) return;
  watching = true;
  process.on('exit', () => {
    for (const [child, clusterDir] of supervised) {
      child.kill('SIGINT');
      waitSync(() => !existsSync(path.join(clusterDir, 'postmaster.pid')), 5_000);
    }
  });
  // A signal otherwise ends Node without 'exit'. Servers replace these with an orderly shutdown of their own.
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => process.exit(code));
  }
}

/** Sleeps in steps (the 'exit' handler cannot wait for events) until `done` or the timeout. */
function waitSync(done: () => boolean, timeoutMs: number): void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) Atomics.wait(cell, 0, 0, 20);
}

/** Stops a postmaster some other, now dead, process started: SIGINT, then wait for it to remove postmaster.pid. */
export async function stopOrphan(pid: number, clusterDir: string, timeoutMs = 30_000): Promise<void> {
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (existsSync(path.join(clusterDir, 'postmaster.pid')) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
}

function runToEnd(child: ChildProcess, log: Log): Promise<{ code: number | null; output: string }> {
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    log(chunk.toString('utf8'));
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}
