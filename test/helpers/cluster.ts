import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type ServerRole, type SpawnedServer, spawnServer } from './spawned-server.js';

/**
 * A Stowage cluster as an operator runs one: `stowage serve` and `stowage worker` processes (the built
 * CLI), each on its own port and data folder, sharing only what the product shares — one PostgreSQL
 * (DATABASE_URL), one blob store, one signing secret — and, for the local driver, the blob folder.
 * Used by the cluster test and by bench/load.ts.
 */
export interface ClusterNode {
  readonly name: string;
  readonly role: ServerRole;
  /** The running process; replaced by `restart`. */
  server: SpawnedServer;
}

export interface Cluster {
  readonly apis: ClusterNode[];
  readonly workers: ClusterNode[];
  /** The admin key the first API node made for org "default". */
  readonly adminKey: string;
  /** The environment every node shares (the test starts CLIs or more nodes with it). */
  readonly env: Record<string, string>;
  /** kill -9: no drain, no cleanup, as a crashed machine. */
  kill(node: ClusterNode): Promise<void>;
  /** A new process in the node's place, on the same settings; its URL may change (port 0). */
  restart(node: ClusterNode): Promise<void>;
  /** Resident set sizes in bytes, by node name (from /proc). */
  rss(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  databaseUrl: string;
  /** Blob store settings shared by every node, e.g. s3EnvOf(...); the local driver needs `sharedDataDir`. */
  storageEnv: Record<string, string>;
  /** Each node's own data folder is `${dataDirPrefix}-<name>`; with the local driver the blobs must be shared: see `sharedDataDir`. */
  dataDirPrefix: string;
  /** One data folder for every node (the local driver, whose blobs live there). */
  sharedDataDir?: string;
  serve?: number;
  worker?: number;
  /** More settings for every node. */
  env?: Record<string, string>;
  readyTimeoutMs?: number;
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const env: Record<string, string> = {
    DATABASE_URL: options.databaseUrl,
    STOWAGE_SIGNING_SECRET: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'info',
    // Four processes of 20 + 5 connections would take all 100 of a default PostgreSQL, with other tests on it too.
    DATABASE_POOL_MAX: '10',
    ...options.storageEnv,
    ...options.env,
  };
  const dataDirOf = (name: string) => options.sharedDataDir ?? `${options.dataDirPrefix}-${name}`;
  const readyTimeoutMs = options.readyTimeoutMs ?? 90_000;
  const launch = (name: string, role: ServerRole) => spawnServer({ ...env, STOWAGE_DATA_DIR: dataDirOf(name) }, { role, readyTimeoutMs });

  const apis: ClusterNode[] = [];
  const workers: ClusterNode[] = [];
  // The first API node alone: it migrates the database and makes the admin key; the rest then start together.
  const first = await launch('api-1', 'serve');
  apis.push({ name: 'api-1', role: 'serve', server: first });
  const adminKey = first.adminKey ?? (await readFile(`${dataDirOf('api-1')}/admin.key`, 'utf8')).trim();
  const rest = [
    ...Array.from({ length: (options.serve ?? 2) - 1 }, (_, i) => ({ name: `api-${i + 2}`, role: 'serve' as const })),
    ...Array.from({ length: options.worker ?? 2 }, (_, i) => ({ name: `worker-${i + 1}`, role: 'worker' as const })),
  ];
  const started = await Promise.all(rest.map(async ({ name, role }) => ({ name, role, server: await launch(name, role) })));
  for (const node of started) (node.role === 'serve' ? apis : workers).push(node);

  const all = () => [...apis, ...workers];
  const kill = async (node: ClusterNode) => {
    if (node.server.child.exitCode === null && node.server.child.signalCode === null) process.kill(-node.server.child.pid!, 'SIGKILL');
    await node.server.exited;
  };
  return {
    apis,
    workers,
    adminKey,
    env,
    kill,
    async restart(node) {
      await kill(node);
      node.server = await launch(node.name, node.role);
    },
    async rss() {
      const sizes: Record<string, number> = {};
      for (const node of all()) {
        const status = await readFile(`/proc/${node.server.child.pid}/status`, 'utf8').catch(() => '');
        const kb = /^VmRSS:\s+(\d+) kB/m.exec(status);
        if (kb) sizes[node.name] = Number(kb[1]) * 1024;
      }
      return sizes;
    },
    async stop() {
      await Promise.all(
        all().map(async (node) => {
          if (node.server.child.exitCode !== null || node.server.child.signalCode !== null) return;
          process.kill(-node.server.child.pid!, 'SIGTERM');
          const ended = await Promise.race([node.server.exited, new Promise((r) => setTimeout(r, 15_000, null))]);
          if (!ended) await kill(node);
        }),
      );
    },
  };
}
