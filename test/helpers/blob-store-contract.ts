/**
 * One contract, every BlobStore driver (the shape of tus-node-server's shared store tests): each
 * driver's test file calls blobStoreContract with a way to make the driver and what kind of storage it
 * is. Whatever a driver promises the service is checked here, over real HTTP for its signed URLs.
 */
import assert from 'node:assert/strict';
import type { NonSharedBuffer } from 'node:buffer';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import { BlobError, type BlobStore } from '../../src/blobs/blob-store.js';
import { ErrorEnvelope } from '../../src/errors.js';
import { installErrorHandling } from '../../src/http/error-handler.js';
import type { S3Engine } from './s3.js';

export interface DriverUnderTest {
  store: BlobStore;
  /** What the storage behind the driver cannot show; tests that need it skip, naming `name`. */
  lacks: S3Engine['lacks'] & { name: string };
  close(): Promise<void>;
}

/** What kind of storage the driver is: the few points where drivers rightly differ. */
export interface ContractOptions {
  /** The smallest part but the last it takes: the multipart tests send parts of this size. */
  minPartBytes: number;
  /** stat always knows the sha256, computed while writing (else it gives one only when it is sure). */
  vouchesForSha256: boolean;
  /** How its signed URLs refuse: our error envelope (status and code), or an S3 engine's status. */
  refusals: Refusals;
  /** A part's ETag: S3's quoted MD5, or a fresh opaque quoted token per write. */
  partEtags: 'md5' | 'opaque';
  /** Refuses a part over the part size createMultipart was given, and gaps in the part numbers. */
  holdsPartLayout: boolean;
}

type Refusals = 'envelope' | 's3';

export function blobStoreContract(name: string, makeDriver: () => Promise<DriverUnderTest>, options: ContractOptions): void {
  describe(`BlobStore contract: ${name}`, () => {
    let d: DriverUnderTest;
    let server: RoutesServer | undefined;
    before(async () => {
      d = await makeDriver();
      server = await serveRoutesOf(d.store);
    });
    after(async () => {
      await server?.close();
      await d?.close();
    });

    const presignOptions = (seconds = 60) => ({ expiresInSeconds: seconds, baseUrl: server!.baseUrl });

    it('put streams bytes in and reports their size and sha256; stat and read give them back', async () => {
      const key = freshKey();
      const bytes = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
      const stored = await d.store.put(key, Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]));
      assert.deepEqual(stored, { size: bytes.length, sha256: sha256(bytes) });
      assertStat(await d.store.stat(key), bytes, options.vouchesForSha256);
      assert.ok((await text(await d.store.read(key))).equals(bytes));
    });

    it('read takes an inclusive byte range', async () => {
      const key = freshKey();
      await d.store.put(key, Readable.from([Buffer.from('0123456789')]));
      assert.equal((await text(await d.store.read(key, { start: 2, end: 5 }))).toString(), '2345');
      assert.equal((await text(await d.store.read(key, { start: 9, end: 9 }))).toString(), '9');
    });

    it('a missing blob: stat is null, read throws missing, delete is quiet', async () => {
      const key = freshKey();
      assert.equal(await d.store.stat(key), null);
      await assert.rejects(d.store.read(key), (e: unknown) => e instanceof BlobError && e.kind === 'missing');
      await d.store.delete(key);
    });

    it('delete removes a blob', async () => {
      const key = freshKey();
      await d.store.put(key, Readable.from([Buffer.from('bye')]));
      await d.store.delete(key);
      assert.equal(await d.store.stat(key), null);
    });

    it('put refuses bytes that contradict what was declared and leaves nothing behind', async () => {
      const cases: [Buffer, { size?: number; sha256?: string }, string][] = [
        [Buffer.from('four'), { size: 3 }, 'too_large'],
        [Buffer.from('two'), { size: 5 }, 'size_mismatch'],
        [Buffer.from('abc'), { sha256: sha256('xyz') }, 'checksum_mismatch'],
      ];
      for (const [bytes, expect, kind] of cases) {
        const key = freshKey();
        await assert.rejects(
          d.store.put(key, Readable.from([bytes]), expect),
          (e: unknown) => e instanceof BlobError && e.kind === kind,
          kind,
        );
        assert.equal(await d.store.stat(key), null, `${kind} left nothing`);
      }
    });

    it('put never overwrites an existing blob', async () => {
      const key = freshKey();
      await d.store.put(key, Readable.from([Buffer.from('first')]));
      await assert.rejects(
        d.store.put(key, Readable.from([Buffer.from('second')])),
        (e: unknown) => e instanceof BlobError && e.kind === 'exists',
      );
      assert.equal((await text(await d.store.read(key))).toString(), 'first');
    });

    it('a presigned PUT with the returned headers stores the bytes; a presigned GET serves them as a named download', async () => {
      const key = freshKey();
      const bytes = Buffer.from('presigned bytes');
      const put = await d.store.presignPut(key, { size: bytes.length, sha256: sha256(bytes), contentType: 'text/plain' }, presignOptions());
      assert.equal(put.method, 'PUT');
      assert.doesNotMatch(put.url, /[?&]x-amz-checksum-sha256=/i, 'the checksum travels as a signed header, not in the query');
      const answer = await fetch(put.url, { method: 'PUT', headers: withoutLength(put.headers), body: bytes });
      assert.equal(answer.status, 200, await answer.text());
      assertStat(await d.store.stat(key), bytes, options.vouchesForSha256);

      const url = await d.store.presignGet(key, { filename: 'résumé final.txt', contentType: 'text/plain' }, presignOptions());
      const download = await fetch(url);
      assert.equal(download.status, 200);
      assert.equal(await download.text(), 'presigned bytes');
      assert.match(download.headers.get('content-disposition') ?? '', /filename\*=UTF-8''r%C3%A9sum%C3%A9%20final\.txt/);
      const ranged = await fetch(url, { headers: { range: 'bytes=0-8' } });
      assert.equal(ranged.status, 206);
      assert.equal(await ranged.text(), 'presigned');
    });

    it('a presigned PUT refuses a body of another size than declared', async (t) => {
      const key = freshKey();
      const put = await d.store.presignPut(key, { size: 5 }, presignOptions());
      if (d.lacks.signatures) return t.skip(`${d.lacks.name} does not check signed headers: size binding not shown`);
      const answer = await fetch(put.url, { method: 'PUT', headers: withoutLength(put.headers), body: 'longer than five' });
      // Locally the signed size is checked against Content-Length; S3 finds the signed header changed.
      await assertRefused(answer, options.refusals, { envelope: [400, 'bad_request'], s3: 403 });
      assert.equal(await d.store.stat(key), null);
    });

    it('a presigned PUT refuses bytes that do not match the declared sha256', async (t) => {
      if (d.lacks.checksums)
        return t.skip(
          `${d.lacks.name} ignores x-amz-checksum-sha256: storage-side checksum binding not shown (the confirm job still checks)`,
        );
      const key = freshKey();
      const put = await d.store.presignPut(key, { size: 5, sha256: sha256('right') }, presignOptions());
      const answer = await fetch(put.url, { method: 'PUT', headers: withoutLength(put.headers), body: 'wrong' });
      await assertRefused(answer, options.refusals, { envelope: [400, 'bad_request'], s3: 400 });
      assert.equal(await d.store.stat(key), null);
    });

    it('tampered and expired presigned URLs are refused with 403', async (t) => {
      if (d.lacks.signatures) return t.skip(`${d.lacks.name} accepts bad signatures: tampering and expiry not shown`);
      const key = freshKey();
      const put = await d.store.presignPut(key, {}, presignOptions());
      const tampered = tamperSignature(put.url);
      await assertRefused(
        await fetch(tampered, { method: 'PUT', body: 'x' }),
        options.refusals,
        { envelope: [403, 'signature_invalid'], s3: 403 },
        'tampered',
      );
      // A GET URL signed after the PUT URL expires no sooner: once it is refused, so must the PUT be.
      // Polling the GET (which changes nothing) waits exactly as long as the expiry takes.
      const readable = freshKey();
      await d.store.put(readable, Readable.from([Buffer.from('x')]));
      const shortPut = await d.store.presignPut(key, {}, presignOptions(1));
      const shortGet = await d.store.presignGet(readable, { filename: 'x', contentType: null }, presignOptions(1));
      const getStatus = async () => {
        const answer = await fetch(shortGet);
        await answer.arrayBuffer();
        return answer.status;
      };
      let polls = 0;
      while ((await getStatus()) === 200) {
        assert.ok(++polls < 100, 'the GET URL never expired');
        await new Promise((r) => setTimeout(r, 50));
      }
      await assertRefused(await fetch(shortGet), options.refusals, { envelope: [403, 'url_expired'], s3: 403 }, 'expired GET');
      await assertRefused(
        await fetch(shortPut.url, { method: 'PUT', body: 'x' }),
        options.refusals,
        { envelope: [403, 'url_expired'], s3: 403 },
        'expired PUT',
      );
      assert.equal(await d.store.stat(key), null);
    });

    it("list walks blobs in key order from a cursor, without the driver's working files", async () => {
      const prefix = `listing-${Date.now()}`;
      const keys = [`${prefix}/a/1`, `${prefix}/a/2`, `${prefix}/b`, `${prefix}/c/9`];
      // S3 keeps LastModified to the second: the window is widened by one on each side.
      const writtenFrom = Date.now() - 1000;
      for (const key of keys) await d.store.put(key, Readable.from([Buffer.from(key)]));
      const writtenUntil = Date.now() + 1000;
      const seen: string[] = [];
      let after = `${prefix}/`;
      for (;;) {
        const page = await d.store.list({ after, limit: 2 });
        const ours = page.filter((b) => b.key.startsWith(`${prefix}/`));
        seen.push(...ours.map((b) => b.key));
        // The sweeper judges a blob's age by this: it must be when the blob was written.
        for (const blob of ours) {
          const at = blob.modifiedAt.getTime();
          assert.ok(at >= writtenFrom && at <= writtenUntil, `${blob.key} modified at ${blob.modifiedAt.toISOString()}`);
        }
        if (page.length < 2 || ours.length < page.length) break;
        after = page[page.length - 1].key;
      }
      assert.deepEqual(seen, keys);
      for (const blob of await d.store.list({ after: '', limit: 1000 })) assert.doesNotMatch(blob.key, /(^|\/)\./, 'no working files');
    });

    it('ping answers while storage is reachable', async () => {
      await d.store.ping();
    });

    describe('multipart', () => {
      const partSize = options.minPartBytes;
      const noListing = () => `${d.lacks.name} lacks ListParts/AbortMultipartUpload`;

      /** Sends one part through its presigned URL, as a client would; answers the ETag storage gave. */
      async function sendPart(key: string, uploadId: string, partNumber: number, bytes: NonSharedBuffer): Promise<string> {
        const put = await d.store.presignPart(key, uploadId, partNumber, { ...presignOptions(), size: bytes.length });
        const answer = await fetch(put.url, { method: put.method, headers: withoutLength(put.headers), body: bytes });
        assert.equal(answer.status, 200, `part ${partNumber}: ${await answer.text()}`);
        const etag = answer.headers.get('etag');
        assert.ok(etag, `part ${partNumber} answered an ETag`);
        return etag;
      }

      /** A started upload with the given parts sent (in parallel); answers the receipts, by part number. */
      async function startWith(key: string, parts: NonSharedBuffer[]) {
        const { uploadId } = await d.store.createMultipart(key, { contentType: 'application/octet-stream', partSize });
        const etags = await Promise.all(parts.map((bytes, i) => sendPart(key, uploadId, i + 1, bytes)));
        return { uploadId, receipts: etags.map((etag, i) => ({ partNumber: i + 1, etag })) };
      }

      /** Frees what a test left, where the engine can. */
      async function cleanUp(key: string, uploadId: string) {
        if (!d.lacks.multipartListing) await d.store.abortMultipart(key, uploadId);
      }

      it('parts sent out of order and in parallel through presigned URLs join into the exact bytes', async () => {
        const key = freshKey();
        const parts = [randomBytes(partSize), randomBytes(partSize), randomBytes(7)];
        const whole = Buffer.concat(parts);
        const { uploadId } = await d.store.createMultipart(key, { contentType: 'application/octet-stream', partSize });
        const order = [3, 1, 2];
        const etags = await Promise.all(order.map((n) => sendPart(key, uploadId, n, parts[n - 1])));
        if (options.partEtags === 'md5')
          order.forEach((n, i) => assert.equal(etags[i], md5Etag(parts[n - 1]), `part ${n}'s ETag is its quoted MD5`));
        // An opaque driver names each write with a fresh ETag instead (no MD5 pass over every part).
        else assert.equal(new Set(etags.filter((e) => /^"[0-9a-f]{32}"$/.test(e))).size, 3, 'three distinct quoted ETags');
        assert.equal(await d.store.stat(key), null, 'nothing at the key before completion');

        const receipts = [1, 2, 3].map((n) => ({ partNumber: n, etag: etags[order.indexOf(n)] }));
        assert.deepEqual(await d.store.completeMultipart(key, uploadId, receipts), { size: whole.length });
        // A vouching driver hashed the parts as they arrived, so it knows the whole file's sha256.
        assertStat(await d.store.stat(key), whole, options.vouchesForSha256);
        assert.equal(sha256(await text(await d.store.read(key))), sha256(whole));
      });

      it('listParts shows the stored parts with etags and sizes; after completion the upload is gone', async (t) => {
        if (d.lacks.multipartListing) return t.skip(`${noListing()}: listing parts, and the upload being gone after completion, not shown`);
        const key = freshKey();
        const parts = [randomBytes(partSize), randomBytes(5)];
        const { uploadId } = await d.store.createMultipart(key, { contentType: null, partSize });
        assert.deepEqual(await d.store.listParts(key, uploadId), []);
        const [second, first] = await Promise.all([sendPart(key, uploadId, 2, parts[1]), sendPart(key, uploadId, 1, parts[0])]);

        const listed = await d.store.listParts(key, uploadId);
        assert.deepEqual(
          listed,
          [first, second].map((etag, i) => ({ partNumber: i + 1, etag, size: parts[i].length })),
        );
        await d.store.completeMultipart(key, uploadId, listed);
        await assert.rejects(d.store.listParts(key, uploadId), blobError('missing'));
        await d.store.abortMultipart(key, uploadId);
        // An abort after completion leaves the blob.
        assertStat(await d.store.stat(key), Buffer.concat(parts));
      });

      it('a part sent again replaces the earlier one, and no digest of the replaced bytes survives', async () => {
        const key = freshKey();
        const { uploadId } = await startWith(key, [randomBytes(partSize), Buffer.from('old tail')]);
        // Part 1 again after it was (likely) hashed in the background: a stale prefix would vouch for a wrong sha256.
        const first = randomBytes(partSize);
        // Shorter than the first tail: nothing of the old one may linger past the end.
        const newTail = Buffer.from('new');
        const etags = [await sendPart(key, uploadId, 1, first), await sendPart(key, uploadId, 2, newTail)];
        await d.store.completeMultipart(
          key,
          uploadId,
          etags.map((etag, i) => ({ partNumber: i + 1, etag })),
        );
        const whole = Buffer.concat([first, newTail]);
        assert.ok((await text(await d.store.read(key))).equals(whole));
        assertStat(await d.store.stat(key), whole);
      });

      it('putPart streams a part from the server side; it joins parts sent through presigned URLs into the exact bytes', async () => {
        const key = freshKey();
        const first = randomBytes(partSize);
        const last = randomBytes(11);
        const { uploadId } = await d.store.createMultipart(key, { contentType: null, partSize });
        // In several chunks, as a request body arrives.
        const chunks = [first.subarray(0, 100), first.subarray(100, partSize - 1), first.subarray(partSize - 1)];
        const stored = await d.store.putPart(key, uploadId, 1, Readable.from(chunks), partSize);
        assert.equal(stored.partNumber, 1);
        assert.equal(stored.size, partSize);
        if (options.partEtags === 'md5') assert.equal(stored.etag, md5Etag(first), "the part's ETag is its quoted MD5");
        else assert.match(stored.etag, /^"[0-9a-f]{32}"$/);
        const lastEtag = await sendPart(key, uploadId, 2, last);
        if (!d.lacks.multipartListing) {
          assert.deepEqual(await d.store.listParts(key, uploadId), [stored, { partNumber: 2, etag: lastEtag, size: last.length }]);
        }
        await d.store.completeMultipart(key, uploadId, [
          { partNumber: 1, etag: stored.etag },
          { partNumber: 2, etag: lastEtag },
        ]);
        const whole = Buffer.concat([first, last]);
        assert.equal(sha256(await text(await d.store.read(key))), sha256(whole));
        assertStat(await d.store.stat(key), whole);
      });

      it('putPart replaces an earlier part of the same number', async () => {
        const key = freshKey();
        const { uploadId } = await d.store.createMultipart(key, { contentType: null, partSize });
        await d.store.putPart(key, uploadId, 1, Readable.from([Buffer.from('first write')]), 11);
        const again = Buffer.from('second');
        const stored = await d.store.putPart(key, uploadId, 1, Readable.from([again]), again.length);
        await d.store.completeMultipart(key, uploadId, [{ partNumber: 1, etag: stored.etag }]);
        assert.equal((await text(await d.store.read(key))).toString(), 'second');
      });

      it('putPart to an aborted upload is missing and stores nothing', async (t) => {
        if (d.lacks.multipartListing) return t.skip(`${noListing()}: an aborted upload not shown`);
        const key = freshKey();
        const { uploadId } = await d.store.createMultipart(key, { contentType: null, partSize });
        await d.store.abortMultipart(key, uploadId);
        await assert.rejects(d.store.putPart(key, uploadId, 1, Readable.from([Buffer.from('late')]), 4), blobError('missing'));
        assert.equal(await d.store.stat(key), null);
      });

      it('completion refuses a wrong etag or a part never stored, stores nothing, and can then succeed', async (t) => {
        if (d.lacks.multipartChecks)
          return t.skip(
            `${d.lacks.name} ignores part etags (and a listed part it lacks crashes it): refusing a wrong etag or a missing part not shown`,
          );
        const key = freshKey();
        const parts = [randomBytes(partSize), Buffer.from('end')];
        const { uploadId, receipts } = await startWith(key, parts);
        const refused: [string, { partNumber: number; etag: string }[]][] = [
          ['a wrong etag', [receipts[0], { partNumber: 2, etag: md5Etag(Buffer.from('other bytes')) }]],
          ['a part never stored', [receipts[0], { partNumber: 3, etag: receipts[1].etag }]],
        ];
        for (const [what, list] of refused) {
          await assert.rejects(d.store.completeMultipart(key, uploadId, list), blobError('invalid_part'), what);
          assert.equal(await d.store.stat(key), null, `${what}: nothing at the key`);
        }
        assert.deepEqual(await d.store.completeMultipart(key, uploadId, receipts), { size: partSize + 3 });
      });

      it('completion refuses a part under the minimum size when another part follows it', async (t) => {
        if (d.lacks.multipartChecks) return t.skip(`${d.lacks.name} has no part size minimum: part_too_small not shown`);
        const key = freshKey();
        const { uploadId, receipts } = await startWith(key, [randomBytes(100), randomBytes(100)]);
        await assert.rejects(d.store.completeMultipart(key, uploadId, receipts), blobError('part_too_small'));
        assert.equal(await d.store.stat(key), null);
        await cleanUp(key, uploadId);
      });

      it('parts keep the layout the upload was started with: no part over the part size, no gaps', async (t) => {
        if (!options.holdsPartLayout)
          return t.skip(`${name} takes parts of any size and numbering; the API holds clients to the layout there`);
        const key = freshKey();
        // Twice the minimum, so a middle part can be above the minimum and still not fit the layout.
        const layout = 2 * partSize;
        const { uploadId } = await d.store.createMultipart(key, { contentType: null, partSize: layout });
        const oversized = await d.store.presignPart(key, uploadId, 1, presignOptions());
        const answer = await fetch(oversized.url, { method: 'PUT', body: randomBytes(layout + 1) });
        await assertRefused(answer, options.refusals, { envelope: [413, 'payload_too_large'], s3: 413 }, 'a part over the part size');
        assert.deepEqual(await d.store.listParts(key, uploadId), []);
        const first = await sendPart(key, uploadId, 1, randomBytes(layout));
        const third = await sendPart(key, uploadId, 3, randomBytes(10));
        await assert.rejects(
          d.store.completeMultipart(key, uploadId, [
            { partNumber: 1, etag: first },
            { partNumber: 3, etag: third },
          ]),
          blobError('invalid_part'),
          'a gap in the part numbers',
        );
        const short = await sendPart(key, uploadId, 2, randomBytes(layout - 100));
        await assert.rejects(
          d.store.completeMultipart(key, uploadId, [
            { partNumber: 1, etag: first },
            { partNumber: 2, etag: short },
            { partNumber: 3, etag: third },
          ]),
          blobError('invalid_part'),
          'a middle part shorter than the part size',
        );
        assert.equal(await d.store.stat(key), null);
        await d.store.abortMultipart(key, uploadId);
      });

      it('completion refuses an empty, unordered or repeated part list', async () => {
        const key = freshKey();
        const { uploadId, receipts } = await startWith(key, [randomBytes(partSize), randomBytes(3)]);
        const refused: [string, typeof receipts][] = [
          ['empty', []],
          ['unordered', [receipts[1], receipts[0]]],
          ['repeated', [receipts[0], receipts[0]]],
        ];
        for (const [what, list] of refused) {
          await assert.rejects(d.store.completeMultipart(key, uploadId, list), blobError('invalid_part'), what);
        }
        assert.equal(await d.store.stat(key), null);
        await cleanUp(key, uploadId);
      });

      it('completion never overwrites a blob already at the key', async () => {
        const key = freshKey();
        await d.store.put(key, Readable.from([Buffer.from('first')]));
        const { uploadId, receipts } = await startWith(key, [Buffer.from('second')]);
        await assert.rejects(d.store.completeMultipart(key, uploadId, receipts), blobError('exists'));
        assert.equal((await text(await d.store.read(key))).toString(), 'first');
        await cleanUp(key, uploadId);
      });

      it('abort frees the parts: the upload is then missing, and aborting again is quiet', async (t) => {
        if (d.lacks.multipartListing) return t.skip(`${noListing()}: abort not shown`);
        const key = freshKey();
        const { uploadId, receipts } = await startWith(key, [randomBytes(10)]);
        await d.store.abortMultipart(key, uploadId);
        await assert.rejects(d.store.listParts(key, uploadId), blobError('missing'), 'listParts');
        await assert.rejects(d.store.completeMultipart(key, uploadId, receipts), blobError('missing'), 'completeMultipart');
        await d.store.abortMultipart(key, uploadId);
        const late = await d.store.presignPart(key, uploadId, 2, presignOptions());
        await assertRefused(
          await fetch(late.url, { method: 'PUT', body: 'late' }),
          options.refusals,
          { envelope: [404, 'not_found'], s3: 404 },
          'a part for an aborted upload',
        );
        assert.equal(await d.store.stat(key), null);
      });

      it('an upload id storage never gave is missing, and aborting it is quiet', async (t) => {
        if (d.lacks.multipartListing) return t.skip(`${noListing()}: unknown uploads not shown`);
        const key = freshKey();
        const unknown = randomUUID();
        await assert.rejects(d.store.listParts(key, unknown), blobError('missing'), 'listParts');
        await assert.rejects(
          d.store.completeMultipart(key, unknown, [{ partNumber: 1, etag: md5Etag(Buffer.from('x')) }]),
          blobError('missing'),
          'complete',
        );
        await d.store.abortMultipart(key, unknown);
      });

      it('a part URL only serves the key its upload was started for', async (t) => {
        if (d.lacks.multipartChecks) return t.skip(`${d.lacks.name} files parts under the upload id alone: the key binding not shown`);
        const key = freshKey();
        const { uploadId } = await d.store.createMultipart(key, { contentType: null, partSize });
        const elsewhere = await d.store.presignPart(freshKey(), uploadId, 1, presignOptions());
        await assertRefused(await fetch(elsewhere.url, { method: 'PUT', body: 'misfiled' }), options.refusals, {
          envelope: [404, 'not_found'],
          s3: 404,
        });
        assert.deepEqual(await d.store.listParts(key, uploadId), []);
        await d.store.abortMultipart(key, uploadId);
      });

      it('a presigned part URL refuses a body of another size than declared', async (t) => {
        if (d.lacks.signatures) return t.skip(`${d.lacks.name} does not check signed headers: the part size binding not shown`);
        const key = freshKey();
        const { uploadId } = await d.store.createMultipart(key, { contentType: null, partSize });
        const put = await d.store.presignPart(key, uploadId, 1, { ...presignOptions(), size: 5 });
        const answer = await fetch(put.url, { method: 'PUT', headers: withoutLength(put.headers), body: 'longer than five' });
        await assertRefused(answer, options.refusals, { envelope: [400, 'bad_request'], s3: 403 });
        assert.deepEqual(await d.store.listParts(key, uploadId), []);
        await d.store.abortMultipart(key, uploadId);
      });
    });
  });
}

interface RoutesServer {
  /** Where the driver's signed URLs are answered when they point at this server; '' when they point at storage. */
  baseUrl: string;
  close(): Promise<void>;
}

/**
 * Answers the routes the driver brings (the local driver's signed URLs) as the app does: on our error
 * handling, every PUT admitted (the service's admission is the upload tests' business).
 */
async function serveRoutesOf(store: BlobStore): Promise<RoutesServer> {
  const routes = store.routes?.({ admit: async () => {} });
  if (!routes) return { baseUrl: '', close: async () => {} };
  const app = Fastify();
  installErrorHandling(app);
  app.addSchema(ErrorEnvelope);
  await app.register(routes);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return { baseUrl: `http://127.0.0.1:${port}`, close: () => app.close() };
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const text = async (stream: Readable) => {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};
let counter = 0;
const freshKey = () => `contract/${Date.now()}-${++counter}`;
const md5Etag = (data: Buffer) => `"${createHash('md5').update(data).digest('hex')}"`;
/**
 * stat gives the size, and a sha256 only when it is the right one: the confirm job trusts it instead
 * of reading the blob again. `vouched` says the driver must know it here.
 */
function assertStat(info: { size: number; sha256?: string } | null, bytes: Buffer, vouched = false) {
  assert.ok(info, 'stat finds the blob');
  assert.equal(info.size, bytes.length);
  if (vouched) assert.equal(info.sha256, sha256(bytes), 'storage vouches for the sha256 it computed while writing');
  else if (info.sha256 !== undefined) assert.equal(info.sha256, sha256(bytes), 'a sha256 storage gives is the right one');
}
const blobError = (kind: string) => (e: unknown) => e instanceof BlobError && e.kind === kind;

/**
 * Storage refused a request through a signed URL: the local driver's routes answer our error envelope
 * with its code, an S3 engine its own XML error with the status S3 gives.
 */
async function assertRefused(answer: Response, refusals: Refusals, expected: { envelope: [number, string]; s3: number }, what = '') {
  const body = await answer.text();
  if (refusals === 's3') return assert.equal(answer.status, expected.s3, `${what}: ${body}`);
  const [status, code] = expected.envelope;
  assert.equal(answer.status, status, `${what}: ${body}`);
  assert.equal(JSON.parse(body).error.code, code, what);
}

/**
 * Changes the first character of the URL's signature. (Not the last: the last base64url character
 * carries padding bits, and some changes there decode to the very same signature.)
 */
function tamperSignature(url: string): string {
  const marker = url.includes('X-Amz-Signature=') ? url.indexOf('X-Amz-Signature=') + 'X-Amz-Signature='.length : url.lastIndexOf('.') + 1;
  const flipped = url[marker] === '0' ? '1' : '0';
  return url.slice(0, marker) + flipped + url.slice(marker + 1);
}

/** fetch sets Content-Length itself from the body; sending it twice is not allowed. */
function withoutLength(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== 'content-length'));
}
