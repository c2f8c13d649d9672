import { StatementBatcher } from './statement-batcher.js';

/**
 * Coalesces rows inserted by concurrent requests into one multi-row INSERT per event-loop turn.
 * Each caller still waits for the commit that holds its row, so durability is unchanged.
 */
export class InsertBatcher<Row> {
  private readonly batcher: StatementBatcher<Row[], undefined>;

  constructor(insert: (rows: Row[]) => Promise<void>, maxRows = 500) {
    this.batcher = new StatementBatcher(
      async (groups) => {
        await insert(groups.flat());
        return groups.map(() => undefined);
      },
      // One caller's rows are never split: a batch may exceed the cap only by a single caller.
      { maxWeight: maxRows, weight: (rows) => rows.length },
    );
  }

  add(rows: Row[]): Promise<void> {
    return this.batcher.submit(rows).then(() => undefined);
  }
}
