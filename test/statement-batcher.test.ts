import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InsertBatcher } from '../src/db/insert-batcher.js';
import { StatementBatcher } from '../src/db/statement-batcher.js';

describe('InsertBatcher', () => {
  it('coalesces rows added in the same turn into one insert, and resolves each caller after it', async () => {
    const calls: number[][] = [];
    const batcher = new InsertBatcher<number>(async (rows) => {
      calls.push(rows);
    });
    await Promise.all([batcher.add([1]), batcher.add([2, 3]), batcher.add([4])]);
    assert.deepEqual(calls, [[1, 2, 3, 4]]);
    await batcher.add([5]);
    assert.deepEqual(calls.at(-1), [5]);
  });

  it('splits batches at the row cap without splitting one caller', async () => {
    const calls: number[][] = [];
    const batcher = new InsertBatcher<number>(async (rows) => {
      calls.push(rows);
    }, 3);
    await Promise.all([batcher.add([1, 2]), batcher.add([3, 4]), batcher.add([5])]);
    assert.deepEqual(calls, [
      [1, 2],
      [3, 4, 5],
    ]);
  });

  it('a bad row fails only its own caller: the batch is retried caller by caller', async () => {
    const batcher = new InsertBatcher<number>(async (rows) => {
      if (rows.includes(13)) throw new Error('constraint violated');
    });
    const results = await Promise.allSettled([batcher.add([1]), batcher.add([13]), batcher.add([2])]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
  });
});

describe('StatementBatcher', () => {
  it("answers each caller its own item's result from one shared statement", async () => {
    const calls: number[][] = [];
    const batcher = new StatementBatcher<number, string>(async (items) => {
      calls.push(items);
      return items.map((n) => `#${n}`);
    });
    assert.deepEqual(await Promise.all([3, 1, 2].map((n) => batcher.submit(n))), ['#3', '#1', '#2']);
    assert.deepEqual(calls, [[3, 1, 2]]);
  });

  it('never puts two items with one key in the same statement, and runs the later one alongside', async () => {
    const calls: string[][] = [];
    const batcher = new StatementBatcher<string, number>(
      async (items) => {
        calls.push(items);
        return items.map((item) => item.length);
      },
      { key: (item) => item.split(':')[0] },
    );
    const answers = await Promise.all(['a:1', 'b:1', 'a:22', 'c:1', 'a:333'].map((item) => batcher.submit(item)));
    assert.deepEqual(answers, [3, 3, 4, 3, 5]);
    assert.deepEqual(calls, [['a:1', 'b:1', 'c:1'], ['a:22'], ['a:333']]);
  });
});
