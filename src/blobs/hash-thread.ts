import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/**
 * The worker's code, evaluated as a script: no module file to resolve, so it runs the same from
 * src/ under tsx (which does not reach into worker threads) and from dist/. It reads file ranges
 * itself, so the bytes never cross threads.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
const hashes = new Map();
const buffer = Buffer.allocUnsafe(1024 * 1024);
function feed(hash, file, start, length) {
  const fd = openSync(file, 'r');
  try {
    for (let position = start, left = length; left > 0; ) {
      const read = readSync(fd, buffer, 0, Math.min(buffer.length, left), position);
      if (read === 0) throw new Error(file + ' ends before byte ' + position);
      hash.update(buffer.subarray(0, read));
      position += read;
      left -= read;
    }
  } finally {
    closeSync(fd);
  }
}
parentPort.on('message', ({ seq, op, id, file, start, length }) => {
  try {
    let result = null;
    if (op === 'update') {
      if (!hashes.has(id)) hashes.set(id, createHash('sha256'));
      feed(hashes.get(id), file, start, length);
    } else if (op === 'digest') {
      const whole = (hashes.get(id) ?? createHash('sha256')).copy();
      feed(whole, file, start, length);
      result = whole.digest('hex');
    } else if (op === 'drop') {
      hashes.delete(id);
    }
    parentPort.postMessage({ seq, result });
  } catch (error) {
    parentPort.postMessage({ seq, error: String((error && error.message) || error) });
  }
});
`;

interface Request {
  op: 'update' | 'digest' | 'drop';
  id: string;
  file?: string;
  start?: number;
  length?: number;
}

/**
 * sha256 of file ranges on a thread of its own. Why: hashing gigabytes on the event loop (≈ 0.5 s of
 * CPU per GiB) stalls every request the process serves meanwhile, including the parts still arriving.
 * One thread per process, started on first use, holding each caller's running hash by id; it does not
 * keep the process alive while idle, and a crashed thread fails the calls in flight and is replaced.
 */
class HashThread {
  private worker: Worker | null = null;
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (value: string | null) => void; reject: (error: Error) => void }>();

  call(request: Request): Promise<string | null> {
    const worker = this.started();
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      worker.ref();
      worker.postMessage({ seq, ...request });
    });
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    // It allocates next to nothing on the JS heap (one reused buffer): small heap limits keep its footprint small.
    const worker = new Worker(WORKER_SOURCE, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 32 } });
    worker.on('message', ({ seq, result, error }: { seq: number; result: string | null; error?: string }) => {
      const call = this.pending.get(seq);
      this.pending.delete(seq);
      if (this.pending.size === 0) worker.unref();
      if (error) call?.reject(new Error(error));
      else call?.resolve(result);
    });
    const fail = (error: Error) => {
      if (this.worker === worker) this.worker = null;
      for (const call of this.pending.values()) call.reject(error);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the hashing thread exited (${code})`)));
    worker.unref();
    this.worker = worker;
    return worker;
  }
}

const thread = new HashThread();

/** A running sha256 kept on the hashing thread, fed with ranges of files. */
export class ThreadedHash {
  private readonly id = randomUUID();

  async update(file: string, start: number, length: number): Promise<void> {
    if (length > 0) await thread.call({ op: 'update', id: this.id, file, start, length });
  }

  /** The digest of what was fed plus this range; the running hash itself stays as it was. */
  async digestWith(file: string, start: number, length: number): Promise<string> {
    return (await thread.call({ op: 'digest', id: this.id, file, start, length })) as string;
  }

  /** Frees the running hash on the thread. */
  async dispose(): Promise<void> {
    await thread.call({ op: 'drop', id: this.id }).catch(() => {});
  }
}
