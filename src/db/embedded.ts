import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, realpath, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { type OwnerRole, OwnerFile, pidExists } from './embedded-owner.js';
import {
  type PostgresBinaries,
  ROOT_PLACE,
  type RunAs,
  binariesReachableBy,
  installedBinaries,
  postgresUser,
  reachableBy,
  runningAsRoot,
} from './postgres-binaries.js';
import { EmbeddedPostgresError, type Postmaster, initCluster, startPostmaster, stopOrphan } from './postgres-process.js';

export interface EmbeddedDatabase {
  url: string;
  /** Where the cluster lives: `<data folder>/pg/data`, or under /var/lib/stowage as root when that is out of reach. */
  clusterDir: string;
  /** Stops the server only if this process started (or took over) it; one joined is left alone. */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** 'server' (the default) refuses a data folder another live server uses; 'client' (keys, migrate) joins it. */
  role?: OwnerRole;
  /** One line for the operator when PostgreSQL does not run from the checkout and the data folder. Default: stderr. */
  notice?: (line: string) => void;
  /** How the port to try is chosen (tests hand out a taken one first). */
  pickPort?: () => Promise<number>;
  /** A cluster deleted after use (the test suite's): skips every fsync. Never for data anyone keeps. */
  throwaway?: boolean;
}

/** A second server on a data folder whose embedded PostgreSQL a live server owns. */
export class DataFolderInUseError extends Error {
  override name = 'DataFolderInUseError';
}

interface Credentials {
  user: string;
  password: string;
}

type Log = (message: string) => void;

const PORT_ATTEMPTS = 5;
const WAIT_FOR_OTHER_MS = 60_000;

/**
 * Opens the PostgreSQL kept under `<dataDir>/pg`: joins the one running there, or initialises and
 * starts one on a free loopback port. A server never shares it with another live server: that one
 * would stop it on its way out and leave this one without a database.
 */
export async function openEmbeddedPostgres(dataDir: string, log: Log = () => {}, options: EmbeddedOptions = {}): Promise<EmbeddedDatabase> {
  const role = options.role ?? 'server';
  const root = path.join(dataDir, 'pg');
  await mkdir(root, { recursive: true, mode: 0o755 });
  const place = await placeCluster(dataDir, root);
  if (place.notice) (options.notice ?? ((line) => process.stderr.write(`stowage: ${line}\n`)))(place.notice);
  const credentials = await loadOrCreateCredentials(path.join(dataDir, 'pg-credentials.json'));
  const owner = new OwnerFile(path.join(root, 'owner.json'));
  const url = (port: number) => connectionUrl(credentials, port, 'postgres');
  const { clusterDir } = place;

  const deadline = Date.now() + WAIT_FOR_OTHER_MS;
  for (;;) {
    const running = await runningPostmaster(clusterDir);
    const other = await owner.live();
    if (role === 'server' && other?.role === 'server') {
      throw new DataFolderInUseError(
        `another Stowage server (pid ${other.pid}) is using the data folder ${path.resolve(dataDir)}; ` +
          'stop it first, or give this one its own STOWAGE_DATA_DIR',
      );
    }
    if (running && role === 'client') return { url: url(running.port), clusterDir, stop: async () => {} };
    // A server takes over a PostgreSQL whose owner died (kill -9), and stops it when done.
    if (running && !other && (await owner.claim('server'))) {
      log(`took over the PostgreSQL (pid ${running.pid}) left running by a process that is gone`);
      return { url: url(running.port), clusterDir, stop: () => stopOrphan(running.pid, clusterDir).finally(() => owner.release()) };
    }
    if (!running && !other && (await owner.claim(role))) {
      let started: { postmaster: Postmaster; port: number } | null;
      try {
        started = await startOwn(
          place,
          credentials,
          { pickPort: options.pickPort ?? freeLoopbackPort, throwaway: options.throwaway ?? false },
          log,
        );
      } catch (error) {
        await owner.release();
        throw error;
      }
      if (started) {
        const { postmaster, port } = started;
        return { url: url(port), clusterDir, stop: () => postmaster.stop().finally(() => owner.release()) };
      }
      await owner.release(); // another process started it meanwhile: join it on the next turn
      continue;
    }
    // Another process is starting it, or a `stowage keys`/`migrate` owns it and stops it shortly.
    if (Date.now() > deadline) {
      throw new EmbeddedPostgresError(
        `the embedded PostgreSQL in ${clusterDir} is still held by pid ${other?.pid ?? '?'} after ${WAIT_FOR_OTHER_MS / 1000} s ` +
          '(a `stowage keys` or `migrate` still running? wait for it or stop it)',
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface Placement {
  clusterDir: string;
  binaries: PostgresBinaries;
  runAs: RunAs | null;
  notice: string | null;
}

/**
 * As root, PostgreSQL runs as the `postgres` user, which must reach its binaries and its cluster.
 * When the checkout or the data folder is out of its reach (a 0700 folder, /root), they are placed
 * under ROOT_PLACE instead, and `<data folder>/pg/elsewhere` remembers where the cluster went.
 */
async function placeCluster(dataDir: string, root: string): Promise<Placement> {
  const inFolder = path.join(root, 'data');
  if (!runningAsRoot()) return { clusterDir: inFolder, binaries: installedBinaries(), runAs: null, notice: null };
  const runAs = await postgresUser();
  await letOthersTraverse(dataDir);
  const { binaries, copied } = await binariesReachableBy(runAs);
  const pointer = path.join(root, 'elsewhere');
  let clusterDir = inFolder;
  if (existsSync(pointer)) {
    clusterDir = (await readFile(pointer, 'utf8')).trim();
  } else if (!existsSync(path.join(inFolder, 'PG_VERSION')) && !(await reachableBy(root, runAs))) {
    const id = createHash('sha256')
      .update(await realpath(dataDir))
      .digest('hex')
      .slice(0, 16);
    clusterDir = path.join(ROOT_PLACE, 'clusters', id, 'data');
    await writeFile(pointer, `${clusterDir}\n`);
  }
  await mkdir(path.dirname(clusterDir), { recursive: true, mode: 0o755 });
  const moved = clusterDir !== inFolder;
  const outOfReach = [moved && `the data folder ${path.resolve(dataDir)}`, copied && 'the checkout'].filter(Boolean).join(' and ');
  const notice = outOfReach
    ? `as root, the embedded PostgreSQL runs as user postgres on ${clusterDir} with binaries in ${binaries.dir} (${outOfReach} out of that user's reach)`
    : null;
  return { clusterDir, binaries, runAs, notice };
}

/** The data folder itself may be 0700 (mktemp -d); the postgres user needs to pass through it. */
async function letOthersTraverse(dir: string): Promise<void> {
  const { mode } = await stat(dir);
  if ((mode & 0o001) === 0) await chmod(dir, (mode & 0o7777) | 0o011);
}

/** Initialises the cluster if new and starts it; a port taken meanwhile is retried with another. Null: started by another process. */
async function startOwn(
  place: Placement,
  credentials: Credentials,
  { pickPort, throwaway }: { pickPort: () => Promise<number>; throwaway: boolean },
  log: Log,
) {
  const { binaries, clusterDir, runAs } = place;
  if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) await initCluster(binaries, clusterDir, credentials, runAs, log, throwaway);
  for (let attempt = 1; ; attempt++) {
    const port = await pickPort();
    const outcome = await startPostmaster(binaries, clusterDir, port, runAs, log, throwaway);
    if (outcome.kind === 'started') return { postmaster: outcome.postmaster, port };
    if (outcome.kind === 'cluster-busy') return null;
    log(`port ${port} was taken before PostgreSQL could bind it; trying another`);
    if (attempt === PORT_ATTEMPTS) throw new Error(`embedded PostgreSQL found no free port in ${PORT_ATTEMPTS} attempts`);
  }
}

export function connectionUrl(credentials: Credentials, port: number, database: string): string {
  return `postgres://${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}/${database}`;
}

async function loadOrCreateCredentials(file: string): Promise<Credentials> {
  if (existsSync(file)) return JSON.parse(await readFile(file, 'utf8')) as Credentials;
  const credentials = { user: 'stowage', password: randomBytes(18).toString('base64url') };
  try {
    await writeFile(file, JSON.stringify(credentials), { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return JSON.parse(await readFile(file, 'utf8')) as Credentials; // written by a process starting at the same time
  }
  return credentials;
}

/** postmaster.pid names the postmaster's pid (line 1) and port (line 4) while the server lives. */
async function runningPostmaster(clusterDir: string): Promise<{ pid: number; port: number } | null> {
  let lines: string[];
  try {
    lines = (await readFile(path.join(clusterDir, 'postmaster.pid'), 'utf8')).split('\n');
  } catch {
    return null;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !Number.isInteger(port) || pid <= 0) return null;
  if (!pidExists(pid)) return null;
  return (await acceptsConnections(port)) ? { pid, port } : null;
}

function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * A loopback port free right now. Only for programs that bind it themselves later (PostgreSQL, s3rver):
 * callers must retry when it was taken in between.
 */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
