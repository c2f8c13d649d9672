/**
 * Coalesces rows inserted by concurrent requests into one multi-row INSERT per event-loop turn.
 * Each caller still waits for the commit that holds its row, so durability is unchanged; under load
 * the database does one statement and one commit for many requests instead of one each.
 */
export class InsertBatcher<Row> {
  private pending: { rows: Row[]; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private scheduled = false;

  constructor(
    private readonly insert: (rows: Row[]) => Promise<void>,
    private readonly maxRows = 500,
  ) {}

  add(rows: Row[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ rows, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const waiting = this.pending;
    this.pending = [];
    while (waiting.length) {
      const batch = [];
      let count = 0;
      while (waiting.length && (count === 0 || count + waiting[0].rows.length <= this.maxRows)) {
        const next = waiting.shift()!;
        batch.push(next);
        count += next.rows.length;
      }
      this.run(batch);
    }
  }

  private run(batch: { rows: Row[]; resolve: () => void; reject: (error: unknown) => void }[]): void {
    this.insert(batch.flatMap((b) => b.rows)).then(
      () => batch.forEach((b) => b.resolve()),
      (error) => {
        // One bad row must not fail its neighbours: retry each caller's rows on their own.
        if (batch.length === 1) batch[0].reject(error);
        else batch.forEach((b) => this.insert(b.rows).then(b.resolve, b.reject));
      },
    );
  }
}
