import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { countFilesUnder } from './helpers/blob-files.js';
import { assertQuietOrderlyExit, openUpload, serve, signalAndTime, waitFor } from './helpers/shutdown-checks.js';

describe('shutdown of `stowage start` with requests in flight (built server, SIGTERM)', () => {
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
    await waitFor(() => refused.answer().includes('HTTP/1.1 413 '), 'the 413', 60_000);
    assertQuietOrderlyExit(server, await signalAndTime(server, 'SIGTERM'));
  });
});
