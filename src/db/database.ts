import { CompiledQuery, Kysely, PostgresDialect, type Transaction } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;
/** Either the pool or an open transaction: repos accept both so callers choose the unit of work. */
export type Executor = Db | Tx;

export interface DatabaseHandle {
  db: Db;
  pool: pg.Pool;
  close(): Promise<void>;
}

export function openDatabase(connectionString: string, options: { max?: number } = {}): DatabaseHandle {
  // A connection attempt that gets no answer (a partitioned network) fails after 10 s — a 503 — instead of holding the request forever.
  const pool = new pg.Pool({ connectionString, max: options.max ?? 20, application_name: 'stowage', connectionTimeoutMillis: 10_000 });
  // An idle client losing its server (restart, failover) must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  // A connection lost while checked out (between the queries of a transaction, or as a query is being
  // written) is reported on the client, not the pool: unheard, that event would crash the process. The
  // query in flight still fails with it, and the pool drops the broken client on release.
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    pool,
    // Kysely's destroy ends the pool it was given.
    close: () => db.destroy(),
  };
}

/** Runs raw SQL text with positional parameters on an executor (used to hand a transaction to pg-boss). */
export async function executeRaw(executor: Executor, text: string, values: unknown[]): Promise<{ rows: any[] }> {
  const result = await executor.executeQuery(CompiledQuery.raw(text, values));
  return { rows: result.rows as any[] };
}
