/**
 * Coalesces what concurrent requests ask of the database into one statement per event-loop turn: under
 * load, one round trip (and one commit) serves many requests instead of one each, which is most of
 * what a short request costs. Each caller still waits for the statement that holds its item, and gets
 * its own result back.
 */
export class StatementBatcher<Item, Result> {
  private pending: Waiting<Item, Result>[] = [];
  private scheduled = false;

  /**
   * @param run one statement for a batch; answers one result per item, in the items' order
   * @param options.weight how much of `maxWeight` an item takes (default 1)
   * @param options.key items with the same key never share a batch (a statement could not tell their
   *   outcomes apart); the later ones go to a batch of their own, run alongside
   */
  constructor(
    private readonly run: (items: Item[]) => Promise<Result[]>,
    private readonly options: { maxWeight?: number; weight?: (item: Item) => number; key?: (item: Item) => string } = {},
  ) {}

  submit(item: Item): Promise<Result> {
    return new Promise((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const { maxWeight = 500, weight = () => 1, key } = this.options;
    let waiting = this.pending;
    this.pending = [];
    while (waiting.length) {
      const batch: Waiting<Item, Result>[] = [];
      const later: Waiting<Item, Result>[] = [];
      const keys = new Set<string>();
      let total = 0;
      let full = false;
      for (const next of waiting) {
        const k = key?.(next.item);
        const w = weight(next.item);
        // Once full, the rest wait in their order; a repeated key waits alone.
        full ||= batch.length > 0 && total + w > maxWeight;
        if (full || (k !== undefined && keys.has(k))) later.push(next);
        else {
          batch.push(next);
          total += w;
          if (k !== undefined) keys.add(k);
        }
      }
      this.execute(batch);
      waiting = later;
    }
  }

  private execute(batch: Waiting<Item, Result>[]): void {
    this.run(batch.map((b) => b.item)).then(
      (results) => batch.forEach((b, i) => b.resolve(results[i])),
      (error) => {
        // One bad item must not fail its neighbours: each is retried on its own.
        if (batch.length === 1) batch[0].reject(error);
        else batch.forEach((b) => this.run([b.item]).then(([result]) => b.resolve(result), b.reject));
      },
    );
  }
}

interface Waiting<Item, Result> {
  item: Item;
  resolve: (result: Result) => void;
  reject: (error: unknown) => void;
}
