import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { countBlobFiles } from './helpers/blob-files.js';
import { type Harness, eventually, startStowage } from './helpers/harness.js';
import { presign, sha256 } from './helpers/uploads.js';
import { firstPassOnly } from './helpers/ci-pass.js';

const IDLE_SECONDS = 1;

interface RawExchange {
  /** Everything the server sent before it closed. */
  answer: Promise<string>;
  /** ms from the first byte sent to the server's close. */
  closedAfter: Promise<number>;
  socket: net.Socket;
}

/** A connection driven by hand: what a slow or stalled client looks like to the server. */
function rawConnection(h: Harness): Promise<RawExchange> {
  const { port } = new URL(h.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => {
      const started = Date.now();
      let text = '';
      socket.on('data', (d) => (text += d));
      const closed = new Promise<void>((done) => socket.once('close', () => done()));
      resolve({ socket, answer: closed.then(() => text), closedAfter: closed.then(() => Date.now() - started) });
    });
    socket.once('error', reject);
    socket.on('error', () => {});
  });
}

function formHead(h: Harness, declaredBodyBytes: number, boundary = 'XX') {
  return (
    `POST /api/v1/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: ${h.keys.writer}\r\n` +
    `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${declaredBodyBytes}\r\n\r\n`
  );
}

describe('the server does not wait on a silent client forever', { skip: firstPassOnly }, () => {
  let h: Harness;
  before(async () => {
    h = await startStowage({
      STOWAGE_HTTP_IDLE_TIMEOUT_SECONDS: String(IDLE_SECONDS),
      STOWAGE_HTTP_HEADERS_TIMEOUT_SECONDS: '1',
      STOWAGE_HTTP_KEEP_ALIVE_SECONDS: '2',
    });
  });
  after(() => h.close());

  it('closes a simple upload whose body stops mid-way, and keeps no temp file', async () => {
    const filesBefore = await countBlobFiles(h);
    const partHead = '--XX\r\nContent-Disposition: form-data; name="file"; filename="stalled.bin"\r\n\r\n';
    const conn = await rawConnection(h);
    // Declares a megabyte, sends 100 KiB, then stays connected and silent.
    conn.socket.write(formHead(h, 1024 * 1024));
    conn.socket.write(partHead + 'x'.repeat(100 * 1024));
    const closedAfter = await conn.closedAfter;
    assert.ok(closedAfter < (IDLE_SECONDS + 3) * 1000, `closed after ${closedAfter} ms`);
    await eventually(async () => ((await countBlobFiles(h)) === filesBefore ? true : undefined), 'the temp file to go', 5000);
  });

  it('lets a slow body that keeps moving finish, though it takes longer than the idle timeout', async () => {
    const bytes = Buffer.alloc(8 * 1024, 7);
    const body = Buffer.concat([
      Buffer.from('--XX\r\nContent-Disposition: form-data; name="file"; filename="slow.bin"\r\n\r\n'),
      bytes,
      Buffer.from('\r\n--XX--\r\n'),
    ]);
    const conn = await rawConnection(h);
    conn.socket.write(formHead(h, body.length));
    const slices = 8;
    const step = Math.ceil(body.length / slices);
    const started = Date.now();
    for (let i = 0; i < body.length; i += step) {
      conn.socket.write(body.subarray(i, i + step));
      await new Promise((r) => setTimeout(r, (IDLE_SECONDS * 1000) / 3)); // a trickle: bytes every third of the idle limit
    }
    const answer = await Promise.race([
      new Promise<string>((resolve) => {
        let text = '';
        const onData = (d: Buffer) => {
          text += d;
          if (/\r\n\r\n[\s\S]*\}$/.test(text)) resolve(text);
        };
        conn.socket.on('data', onData);
      }),
      conn.answer,
    ]);
    assert.ok(Date.now() - started > IDLE_SECONDS * 2000, 'the body took longer than the idle limit');
    assert.match(answer, /^HTTP\/1\.1 201 /, answer.slice(0, 300));
    assert.equal(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).sha256, sha256(bytes));
    conn.socket.destroy();
  });

  it('closes a connection whose request head never completes', async () => {
    const conn = await rawConnection(h);
    conn.socket.write('POST /api/v1/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: ');
    const closedAfter = await conn.closedAfter;
    assert.ok(closedAfter < 5000, `closed after ${closedAfter} ms`);
  });

  it('closes a presigned PUT whose body stops mid-way, and keeps no temp file', async (t) => {
    if (h.config.storageDriver !== 'local') return t.skip('the PUT goes to S3 itself, not to this server');
    const filesBefore = await countBlobFiles(h);
    const p = await presign(h, { name: 'stalled-put.bin', size_bytes: 1024 * 1024 });
    const url = new URL(p.url);
    const conn = await rawConnection(h);
    const headers = Object.entries(p.headers ?? {}).filter(([name]) => name.toLowerCase() !== 'content-length');
    conn.socket.write(
      `PUT ${url.pathname}${url.search} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${1024 * 1024}\r\n` +
        headers.map(([name, value]) => `${name}: ${value}\r\n`).join('') +
        '\r\n',
    );
    conn.socket.write(Buffer.alloc(100 * 1024, 1));
    const closedAfter = await conn.closedAfter;
    assert.ok(closedAfter < (IDLE_SECONDS + 3) * 1000, `closed after ${closedAfter} ms`);
    await eventually(async () => ((await countBlobFiles(h)) === filesBefore ? true : undefined), 'the temp file to go', 5000);
  });

  it('closes an idle keep-alive connection', async () => {
    const conn = await rawConnection(h);
    conn.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const closedAfter = await conn.closedAfter;
    assert.match(await conn.answer, /^HTTP\/1\.1 200 /);
    assert.ok(closedAfter > 1500 && closedAfter < 5000, `closed after ${closedAfter} ms`);
  });
});
