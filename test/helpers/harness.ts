import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { type Config, loadConfig } from '../../src/config.js';
import { ensureDatabase } from '../../src/db/connect.js';
import { closeGracefully } from '../../src/http/shutdown.js';
import { startWorker } from '../../src/jobs/worker.js';
import { composeModules } from '../../src/modules.js';
import { KeysService } from '../../src/modules/keys/service.js';
import { keysRepo } from '../../src/modules/keys/repo.js';
import { newId } from '../../src/ids.js';
import { type Runtime, openRuntime } from '../../src/runtime.js';
import { freshBucketName, s3EnvOf, startS3Engine, usingRealS3 } from './s3.js';

export const SIGNING_SECRET = 'test-signing-secret-0123456789abcdef';

export interface ApiAnswer<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/**
 * One HTTP call to a server at `baseUrl`: a body other than a string is sent as JSON; the answer's
 * body is parsed as JSON when it is JSON, else kept as text.
 */
export async function callApi(
  baseUrl: string,
  method: string,
  route: string,
  call: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiAnswer> {
  const headers: Record<string, string> = { ...call.headers };
  let body: string | undefined;
  if (call.body !== undefined) {
    body = typeof call.body === 'string' ? call.body : JSON.stringify(call.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(baseUrl + route, { method, headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, headers: response.headers, body: parsed as any };
}

export interface CallOptions {
  key?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Harness {
  url: string;
  /** The storage settings of this harness, for child processes that must share its blobs. */
  storageEnv: Record<string, string>;
  config: Config;
  runtime: Runtime;
  app: FastifyInstance;
  dataDir: string;
  databaseUrl: string;
  keys: { admin: string; writer: string; reader: string; otherOrg: string };
  orgId: string;
  otherOrgId: string;
  api<T = any>(method: string, route: string, options?: CallOptions): Promise<ApiAnswer<T>>;
  createKey(orgId: string, scopes: string[]): Promise<string>;
  /** Starts the in-process worker (tests that need a worker of their own leave it off). */
  startWorker(): Promise<void>;
  stopWorker(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A fresh database of its own on the test server: DATABASE_URL for the app under test. Under `npm test`
 * it is a copy of the run's migrated template (TEST_TEMPLATE_DATABASE, with pg-boss's schema), so no
 * harness pays for the migrations; without one it starts empty and the app migrates it.
 */
export async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) throw new Error('TEST_DATABASE_URL is not set: run the tests with `npm test`');
  const name = `stowage_t_${randomBytes(6).toString('hex')}`;
  const template = process.env.TEST_TEMPLATE_DATABASE;
  if (template) await createDatabaseFrom(serverUrl, name, template);
  else await ensureDatabase(serverUrl, name);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      if (process.env.KEEP_TEST_DB) return;
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      await client.end();
    },
  };
}

async function createDatabaseFrom(serverUrl: string, name: string, template: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)} TEMPLATE ${pg.escapeIdentifier(template)}`);
  } finally {
    await client.end();
  }
}

/** The whole service on real PostgreSQL, real disk and a real HTTP port, plus keys for two orgs. */
export async function startStowage(
  env: Record<string, string> = {},
  options: {
    worker?: boolean;
    storage?: 'local' | 'suite';
    /** Join this database (another harness's: a second API node) instead of a fresh one; it is not dropped. */
    databaseUrl?: string;
  } = {},
): Promise<Harness> {
  const joined = options.databaseUrl;
  const database = joined ? { url: joined, drop: async () => {} } : await freshDatabase();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'stowage-test-data-'));
  // With S3_TEST_ENDPOINT the whole suite runs on the s3 driver, each harness in a bucket of its own.
  const engine = options.storage !== 'local' && usingRealS3() ? await startS3Engine() : null;
  const storageEnv = engine ? s3EnvOf(engine.settings(freshBucketName())) : {};
  const config = loadConfig({
    ...storageEnv,
    DATABASE_URL: database.url,
    STOWAGE_DATA_DIR: dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    STOWAGE_SIGNING_SECRET: SIGNING_SECRET,
    STOWAGE_JOB_POLL_SECONDS: '0.5',
    STOWAGE_JOB_RETRY_DELAY_SECONDS: '1',
    STOWAGE_JOB_MAINTENANCE_SECONDS: '1',
    ...env,
  });
  const runtime = await openRuntime(config, {
    signingSecret: SIGNING_SECRET,
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
  });
  const db = runtime.database.db;
  const composition = await composeModules({ ...runtime, db });
  const app = await buildApp(composition);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  const keysService = new KeysService(db);
  const org = await keysRepo.ensureOrg(db, newId(), 'acme');
  const other = await keysRepo.ensureOrg(db, newId(), 'globex');
  const createKey = async (orgId: string, scopes: string[]) => (await keysService.create(orgId, scopes, null)).key;
  const keys = {
    admin: await createKey(org.id, ['admin']),
    writer: await createKey(org.id, ['uploads:read', 'uploads:write']),
    reader: await createKey(org.id, ['uploads:read']),
    otherOrg: await createKey(other.id, ['admin']),
  };

  let stopWorker: (() => Promise<void>) | null = null;
  const harness: Harness = {
    url,
    storageEnv,
    config,
    runtime,
    app,
    dataDir,
    databaseUrl: database.url,
    keys,
    orgId: org.id,
    otherOrgId: other.id,
    createKey,
    async api(method, route, call = {}) {
      const key = call.key === undefined ? keys.writer : call.key;
      return callApi(url, method, route, { ...call, headers: { ...(key && { 'x-api-key': key }), ...call.headers } });
    },
    async startWorker() {
      if (!stopWorker) stopWorker = await startWorker({ ...runtime, db, log: runtime.logger }, composition.deps, composition);
    },
    async stopWorker() {
      if (stopWorker) await stopWorker();
      stopWorker = null;
    },
    async close() {
      await harness.stopWorker();
      await closeGracefully(app, 200);
      await runtime.close();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  if (options.worker !== false) await harness.startWorker();
  return harness;
}

/** Polls until `check` returns a value (not undefined) or the deadline passes. */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
