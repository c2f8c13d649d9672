import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Worker } from 'node:worker_threads';

const CHUNK = 4 * 1024 * 1024;

export interface HashOptions {
  signal?: AbortSignal;
  /** Bytes hashed since the last call. */
  onBytes?: (n: number) => void;
  /**
   * In a worker thread of its own (the default), so hashing a large file costs the main thread
   * nothing while it sends; false for a small one, where starting the thread costs more than it saves.
   */
  thread?: boolean;
}

/** The sha256 (hex) of a whole file, read once in order. */
export async function hashFile(file: string, options: HashOptions = {}): Promise<string> {
  return options.thread === false ? hashHere(file, options) : hashInThread(file, options);
}

async function hashHere(file: string, { signal, onBytes }: HashOptions): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: CHUNK, signal })) {
    hash.update(chunk as Buffer);
    onBytes?.((chunk as Buffer).length);
  }
  return hash.digest('hex');
}

// CommonJS, as an eval'd worker is: reads with plain synchronous reads (the thread has nothing else to
// do) and reports progress every few chunks.
const HASH_THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const { openSync, readSync, closeSync } = require('node:fs');
const { createHash } = require('node:crypto');
const hash = createHash('sha256');
const buffer = Buffer.allocUnsafe(workerData.chunk);
const fd = openSync(workerData.file, 'r');
let unreported = 0;
try {
  for (;;) {
    const n = readSync(fd, buffer, 0, buffer.length, null);
    if (n === 0) break;
    hash.update(n === buffer.length ? buffer : buffer.subarray(0, n));
    unreported += n;
    if (unreported >= 4 * workerData.chunk) {
      parentPort.postMessage({ bytes: unreported });
      unreported = 0;
    }
  }
} finally {
  closeSync(fd);
}
parentPort.postMessage({ bytes: unreported, sha256: hash.digest('hex') });
`;

/**
 * The hashing thread: CPU spent on another core, never between the main thread's writes. Measured
 * beside parallel parts (bench/multipart.ts, BENCH_CLIENT=sdk, 1 GiB on 2 busy cores): 2.0–2.8 s to
 * the sha256 here, 3.9–5.2 s on the main thread, whose parts then went slower too.
 */
function hashInThread(file: string, { signal, onBytes }: HashOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    // None of the process's flags: `--input-type=module` (or a loader) would change how the code above is read.
    const worker = new Worker(HASH_THREAD, { eval: true, execArgv: [], workerData: { file, chunk: CHUNK } });
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = () => finish(() => void worker.terminate().finally(() => reject(signal!.reason)));
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (message: { bytes: number; sha256?: string }) => {
      if (message.bytes) onBytes?.(message.bytes);
      if (message.sha256) finish(() => resolve(message.sha256!));
    });
    worker.on('error', (error) => finish(() => reject(error)));
    worker.on('exit', (code) => finish(() => reject(new Error(`the hashing thread exited with code ${code}`))));
  });
}
