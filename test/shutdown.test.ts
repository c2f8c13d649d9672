import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { countFilesUnder } from './helpers/blob-files.js';
import { freshDatabase } from './helpers/harness.js';
import { type SpawnedServer, errorLines, spawnServer } from './helpers/spawned-server.js';

const GRACE_SECONDS = 3;
/** Signal delivery, process exit and the test's own polling. */
const SLACK_MS = 1000;
const LIMIT = 1024 * 1024;

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

/** A server on a fresh database (or the embedded one) and data folder of its own. */
async function serve(env: Record<string, string> = {}, options: { embedded?: boolean } = {}): Promise<SpawnedServer & { dataDir: string }> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'stowage-shutdown-'));
  const database = options.embedded ? null : await freshDatabase();
  const server = await spawnServer({
    STOWAGE_DATA_DIR: dataDir,
    ...(database && { DATABASE_URL: database.url }),
    STOWAGE_SHUTDOWN_GRACE_SECONDS: String(GRACE_SECONDS),
    STOWAGE_SIMPLE_UPLOAD_MAX_BYTES: String(LIMIT),
    ...env,
  }, { readyTimeoutMs: 120_000 });
  cleanups.push(async () => {
    if (server.child.exitCode === null && server.child.signalCode === null) process.kill(-server.child.pid!, 'SIGKILL');
    await server.exited;
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });
  return { ...server, dataDir };
}

/** Sends `signal` (to the whole process group when `group`) and answers how long the server took to exit. */
async function signalAndTime(server: SpawnedServer, signal: NodeJS.Signals, group = false) {
  const sent = Date.now();
  process.kill(group ? -server.child.pid! : server.child.pid!, signal);
  const exit = await Promise.race([
    server.exited,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('still running 30 s after the signal')), 30_000)),
  ]);
  return { ...exit, ms: exit.at - sent };
}

function assertQuietOrderlyExit(server: SpawnedServer, exit: { code: number | null; ms: number }) {
  assert.ok(exit.ms <= GRACE_SECONDS * 1000 + SLACK_MS, `exited ${exit.ms} ms after the signal`);
  assert.equal(exit.code, 0, server.stderr());
  assert.deepEqual(errorLines(server.logs), [], 'no error-level log line');
  assert.ok(server.logs.some((line) => line.msg === 'stopped'), 'the shutdown ran to its end');
}

/** Opens a simple upload that declares `declared` bytes and sends them as fast as the server takes them (or never, when `stall`). */
function openUpload(server: SpawnedServer, key: string, declared: number, options: { stall?: boolean } = {}) {
  const { port } = new URL(server.url);
  const socket = net.connect(Number(port), '127.0.0.1');
  let answer = '';
  socket.on('data', (d) => (answer += d));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(
    `POST /api/v1/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: ${key}\r\n` +
      `Content-Type: multipart/form-data; boundary=XX\r\nContent-Length: ${declared}\r\n\r\n` +
      '--XX\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n',
  );
  const chunk = Buffer.alloc(256 * 1024, 1);
  let sent = 0;
  const pump = () => {
    while (!options.stall && !socket.destroyed && sent < declared) {
      sent += chunk.length;
      if (!socket.write(chunk)) return void socket.once('drain', pump);
    }
  };
  socket.once('connect', pump);
  return { socket, closed, answer: () => answer, sent: () => sent };
}

describe('shutdown of `stowage start` (built server, SIGTERM/SIGINT)', () => {
  it('stops at once when idle, quietly', async () => {
    const server = await serve();
    assertQuietOrderlyExit(server, await signalAndTime(server, 'SIGTERM'));
  });

  it('stops within the grace period with an upload body still streaming in, and keeps no half-written file', async () => {
    const server = await serve({ STOWAGE_SIMPLE_UPLOAD_MAX_BYTES: String(2 * 1024 ** 3) });
    const streaming = openUpload(server, server.adminKey!, 1024 ** 3);
    // Under way: bytes have gone in, the body is far from complete.
    await waitFor(() => streaming.sent() > 8 * 1024 * 1024, 'bytes to flow');
    assertQuietOrderlyExit(server, await signalAndTime(server, 'SIGTERM'));
    await streaming.closed;
    assert.equal(await countFilesUnder(path.join(server.dataDir, 'blobs')), 0, 'no temp file left');
  });

  it('stops within the grace period right after refusing a 1 GiB upload with 413, its client still sending', async () => {
    const server = await serve();
    const refused = openUpload(server, server.adminKey!, 1024 ** 3);
    await waitFor(() => refused.answer().startsWith('HTTP/1.1 413'), 'the 413', 60_000);
    assertQuietOrderlyExit(server, await signalAndTime(server, 'SIGTERM'));
  });

  it('stops within the grace period with a stalled upload, and a second signal a while later exits at once', async () => {
    const server = await serve({ STOWAGE_SHUTDOWN_GRACE_SECONDS: '60' });
    const stalled = openUpload(server, server.adminKey!, 1024 ** 2, { stall: true });
    await waitFor(() => stalled.socket.bytesWritten > 0, 'the upload to start');
    process.kill(server.child.pid!, 'SIGTERM');
    await waitFor(() => server.logs.some((line) => line.msg === 'shutting down'), 'the shutdown to begin');
    // A repeat within a second is the same request delivered twice (a wrapper forwarding a group signal).
    process.kill(server.child.pid!, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(server.child.exitCode, null, 'still draining: the repeat did not count as a second signal');
    const exit = await signalAndTime(server, 'SIGTERM');
    assert.ok(exit.ms < 1000, `exited ${exit.ms} ms after the second signal`);
    assert.equal(exit.code, 128 + os.constants.signals.SIGTERM);
  });

  it('stops within the grace period when the reader of its stdout has gone', async () => {
    const server = await serve();
    // As `npm start | tee log` when the group's signal ends tee first: lines written then hit a closed pipe.
    server.child.stdout!.destroy();
    const exit = await signalAndTime(server, 'SIGTERM');
    assert.ok(exit.ms <= GRACE_SECONDS * 1000 + SLACK_MS, `exited ${exit.ms} ms after the signal`);
    assert.equal(exit.code, 0, server.stderr());
  });

  it('stops quietly on Ctrl-C to its process group with the embedded PostgreSQL', async () => {
    const server = await serve({}, { embedded: true });
    assertQuietOrderlyExit(server, await signalAndTime(server, 'SIGINT', true));
  });
});

async function waitFor(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
