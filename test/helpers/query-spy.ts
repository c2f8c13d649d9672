import { type CompiledQuery, Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from '../../src/db/schema.js';

/**
 * A Kysely of its own over `url` that keeps every query it sends, so a plan test EXPLAINs the SQL the
 * repos really write rather than a copy of it that could drift.
 */
export class QuerySpy {
  readonly sent: CompiledQuery[] = [];
  readonly db: Kysely<Database>;

  constructor(url: string) {
    this.db = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 4 }) }),
      log: (event) => {
        if (event.level === 'query') this.sent.push(event.query);
      },
    });
  }

  /** The first query `run` sends that `pick` accepts (all it sent, to say what was sent instead). */
  async first(run: () => Promise<unknown>, pick: (q: CompiledQuery) => boolean): Promise<CompiledQuery | undefined> {
    this.sent.length = 0;
    await run();
    return this.sent.find(pick);
  }

  close(): Promise<void> {
    return this.db.destroy();
  }
}
