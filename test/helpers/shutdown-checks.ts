/** Spawning the built server and timing its shutdown, for the shutdown tests. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { freshDatabase } from './harness.js';
import { type SpawnedServer, errorLines, spawnServer } from './spawned-server.js';

export const GRACE_SECONDS = 3;
/** Signal delivery, process exit and the test's own polling. */
export const SLACK_MS = 1000;
export const LIMIT = 1024 * 1024;

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

/** A server on a fresh database (or the embedded one) and data folder of its own. */
export async function serve(
  env: Record<string, string> = {},
  options: { embedded?: boolean } = {},
): Promise<SpawnedServer & { dataDir: string }> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'stowage-shutdown-'));
  const database = options.embedded ? null : await freshDatabase();
  const server = await spawnServer(
    {
      STOWAGE_DATA_DIR: dataDir,
      ...(database && { DATABASE_URL: database.url }),
      STOWAGE_SHUTDOWN_GRACE_SECONDS: String(GRACE_SECONDS),
      STOWAGE_SIMPLE_UPLOAD_MAX_BYTES: String(LIMIT),
      ...env,
    },
    { readyTimeoutMs: 120_000 },
  );
  cleanups.push(async () => {
    if (server.child.exitCode === null && server.child.signalCode === null) process.kill(-server.child.pid!, 'SIGKILL');
    await server.exited;
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });
  return { ...server, dataDir };
}

/** Sends `signal` (to the whole process group when `group`) and answers how long the server took to exit. */
export async function signalAndTime(server: SpawnedServer, signal: NodeJS.Signals, group = false) {
  const sent = Date.now();
  process.kill(group ? -server.child.pid! : server.child.pid!, signal);
  let timer: NodeJS.Timeout | undefined;
  try {
    const exit = await Promise.race([
      server.exited,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('still running 30 s after the signal')), 30_000))),
    ]);
    return { ...exit, ms: exit.at - sent };
  } finally {
    // A timer left running would keep this test file's process alive for its 30 s after the last test.
    clearTimeout(timer);
  }
}

export function assertQuietOrderlyExit(server: SpawnedServer, exit: { code: number | null; ms: number }) {
  assert.ok(exit.ms <= GRACE_SECONDS * 1000 + SLACK_MS, `exited ${exit.ms} ms after the signal`);
  assert.equal(exit.code, 0, server.stderr());
  assert.deepEqual(errorLines(server.logs), [], 'no error-level log line');
  assert.ok(
    server.logs.some((line) => line.msg === 'stopped'),
    'the shutdown ran to its end',
  );
}

/** Opens a simple upload that declares `declared` bytes and sends them as fast as the server takes them (or never, when `stall`). */
export function openUpload(server: SpawnedServer, key: string, declared: number, options: { stall?: boolean } = {}) {
  const { port } = new URL(server.url);
  const socket = net.connect(Number(port), '127.0.0.1');
  let answer = '';
  socket.on('data', (d) => (answer += d));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(
    `POST /api/v1/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: ${key}\r\n` +
      `Content-Type: multipart/form-data; boundary=XX\r\nContent-Length: ${declared}\r\n` +
      // The server's "100 Continue" tells the client (and the test) that the request is in its hands.
      `Expect: 100-continue\r\n\r\n` +
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
  return { socket, closed, answer: () => answer, sent: () => sent, received: () => answer.includes('100 Continue') };
}

export async function waitFor(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
