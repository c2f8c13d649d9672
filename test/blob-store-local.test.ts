/** The BlobStore contract for the local driver: files in a folder, its signed URLs answered by the routes it brings. */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { LocalBlobStore } from '../src/blobs/local.js';
import { BlobUrlSigner } from '../src/blobs/signed-url.js';
import { type DriverUnderTest, blobStoreContract } from './helpers/blob-store-contract.js';

// A constructor option: small parts keep the multipart tests quick without changing what they show.
const MIN_PART_BYTES = 1024;

async function localDriver(): Promise<DriverUnderTest> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'stowage-contract-'));
  const store = new LocalBlobStore(dir, new BlobUrlSigner('contract-secret'), { minPartBytes: MIN_PART_BYTES });
  await store.init();
  return {
    store,
    lacks: { signatures: false, checksums: false, multipartListing: false, multipartChecks: false, name: 'local' },
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

blobStoreContract('local', localDriver, {
  minPartBytes: MIN_PART_BYTES,
  vouchesForSha256: true,
  refusals: 'envelope',
  partEtags: 'opaque',
  holdsPartLayout: true,
});

/**
 * Issue 13: processes of a cluster share one data folder, and each hashes a multipart upload's leading
 * parts in the background as they arrive. A part rewritten through another process after this one
 * hashed it must never leave a stale digest behind: completion vouches only for what the file holds.
 */
describe('local multipart through two processes on one folder', () => {
  const PART = MIN_PART_BYTES * 4;
  let dir: string;
  let a: LocalBlobStore;
  let b: LocalBlobStore;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'stowage-two-nodes-'));
    // Two stores on one folder stand for two processes: nothing in memory is shared between them.
    a = new LocalBlobStore(dir, new BlobUrlSigner('node-secret'), { minPartBytes: MIN_PART_BYTES });
    b = new LocalBlobStore(dir, new BlobUrlSigner('node-secret'), { minPartBytes: MIN_PART_BYTES });
    await a.init();
    await b.init();
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** Waits until `store` has hashed `parts` leading parts of the upload in the background (its private state, read only). */
  async function hashedAhead(store: LocalBlobStore, uploadId: string, parts: number) {
    const hasher = (store as any).multipart.active.get(uploadId)?.hasher;
    assert.ok(hasher, 'the store tracks the upload it received parts of');
    await hasher.chain;
    assert.equal(hasher.hashed.length, parts, 'the leading parts were hashed ahead');
  }

  it('a part rewritten through the other node after this one hashed it', async () => {
    const key = 'org/two-nodes';
    const first = [randomBytes(PART), randomBytes(PART), randomBytes(123)];
    const rewritten = randomBytes(PART);
    const { uploadId } = await a.createMultipart(key, { contentType: null, partSize: PART });
    const etags: string[] = [];
    for (const [i, bytes] of first.entries()) etags[i] = (await a.putPart(key, uploadId, i + 1, Readable.from([bytes]), bytes.length)).etag;
    await hashedAhead(a, uploadId, 2);
    // Node B replaces part 1; node A, which hashed the old part 1, completes.
    etags[0] = (await b.putPart(key, uploadId, 1, Readable.from([rewritten]), rewritten.length)).etag;
    await a.completeMultipart(
      key,
      uploadId,
      etags.map((etag, i) => ({ partNumber: i + 1, etag })),
    );
    const expected = Buffer.concat([rewritten, first[1]!, first[2]!]);
    const stored = Buffer.concat(await (await b.read(key)).toArray());
    assert.equal(createHash('sha256').update(stored).digest('hex'), createHash('sha256').update(expected).digest('hex'));
    const info = await b.stat(key);
    assert.equal(info?.size, expected.length);
    // No digest (the confirm job hashes the file) or the right one: never the stale prefix's.
    if (info?.sha256 !== undefined) assert.equal(info.sha256, createHash('sha256').update(expected).digest('hex'));
  });

  it('a part rewritten through this node after the other hashed it', async () => {
    const key = 'org/two-nodes-reverse';
    const first = [randomBytes(PART), randomBytes(PART)];
    const { uploadId } = await b.createMultipart(key, { contentType: null, partSize: PART });
    const etags = [
      (await b.putPart(key, uploadId, 1, Readable.from([first[0]!]), PART)).etag,
      (await a.putPart(key, uploadId, 2, Readable.from([first[1]!]), PART)).etag,
    ];
    await hashedAhead(b, uploadId, 1);
    const rewritten = randomBytes(PART);
    etags[0] = (await a.putPart(key, uploadId, 1, Readable.from([rewritten]), PART)).etag;
    await b.completeMultipart(
      key,
      uploadId,
      etags.map((etag, i) => ({ partNumber: i + 1, etag })),
    );
    const expected = createHash('sha256')
      .update(Buffer.concat([rewritten, first[1]!]))
      .digest('hex');
    const info = await a.stat(key);
    if (info?.sha256 !== undefined) assert.equal(info.sha256, expected);
    assert.equal(
      createHash('sha256')
        .update(Buffer.concat(await (await a.read(key)).toArray()))
        .digest('hex'),
      expected,
    );
  });
});
