import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { StreamedBodyDigest, boundaryOf } from '../src/http/streamed-body-digest.js';
import { firstPassOnly } from './helpers/ci-pass.js';

const form = (boundary: string, content: string) =>
  Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\n${content}\r\n--${boundary}--\r\n`);

/** The digest of `body` as a reader sees it arrive in chunks of `chunkSize` bytes. */
async function digestOf(body: Buffer, boundary: string, chunkSize: number): Promise<string | null> {
  const stream = new PassThrough();
  const digest = new StreamedBodyDigest(stream, `multipart/form-data; boundary="${boundary}"`);
  for (let i = 0; i < body.length; i += chunkSize) stream.write(body.subarray(i, i + chunkSize));
  stream.end();
  return digest.finish(Infinity);
}

describe('StreamedBodyDigest', { skip: firstPassOnly }, () => {
  it('leaves the boundary out wherever the chunks split it, and tells other content apart', async () => {
    const content = 'the same file, sent twice';
    const first = form('AaB03x-first', content);
    const reference = await digestOf(first, 'AaB03x-first', first.length);
    for (let size = 1; size <= 45; size++) {
      assert.equal(await digestOf(form('Zq-other-boundary-9', content), 'Zq-other-boundary-9', size), reference, `chunks of ${size}`);
    }
    assert.notEqual(await digestOf(form('AaB03x-first', 'the same file, sent tw1ce'), 'AaB03x-first', 7), reference);
    assert.equal(await digestOf(Buffer.from('plain'), '', 2), createHash('sha256').update('plain').digest('hex'));
  });

  it('is null for a body that broke off, and a 413 past the limit', async () => {
    const broken = new PassThrough();
    const digest = new StreamedBodyDigest(broken, 'multipart/form-data; boundary=x');
    broken.write('some');
    broken.destroy();
    assert.equal(await digest.finish(Infinity), null);

    const long = new PassThrough();
    const limited = new StreamedBodyDigest(long, 'multipart/form-data; boundary=x');
    long.write(Buffer.alloc(100));
    await assert.rejects(limited.finish(50), (e: { code?: string }) => e.code === 'payload_too_large');
  });

  it('reads the boundary parameter quoted or not', () => {
    assert.equal(boundaryOf('multipart/form-data; boundary=abc'), 'abc');
    assert.equal(boundaryOf('multipart/form-data; charset=utf-8; BOUNDARY="a b;c"'), 'a b;c');
    assert.equal(boundaryOf('multipart/form-data'), '');
  });
});
