import assert from 'node:assert/strict';
import { stat, utimes, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { type SweepReport, runSweep } from '../src/modules/sweeper/sweep-job.js';
import { type Harness, eventually, startStowage } from './helpers/harness.js';
import { confirm, presign, putBytes, settle, uploadConfirmed } from './helpers/uploads.js';

const MINUTE = 60_000;
const GRACE = 2 * 3600_000;
const PENDING_TTL = 4 * 3600_000;
const BATCH = 2;
const MIB = 1024 * 1024;

const fileExists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );
const later = (ms: number) => new Date(Date.now() + ms);
const earlier = (ms: number) => new Date(Date.now() - ms);

describe('the sweeper', () => {
  let h: Harness;
  before(async () => {
    // A real grace period and a batch smaller than what storage holds, so the guards and the
    // resumable walk are what the tests exercise. The scheduled sweep is pushed to a date no run meets.
    h = await startStowage({
      STOWAGE_SWEEP_GRACE_SECONDS: String(GRACE / 1000),
      STOWAGE_PENDING_TTL_SECONDS: String(PENDING_TTL / 1000),
      STOWAGE_SWEEP_BATCH: String(BATCH),
      STOWAGE_SWEEP_CRON: '0 0 29 2 *',
    });
  });
  after(() => h.close());

  const db = () => h.runtime.database.db;
  const local = () => h.config.storageDriver === 'local';
  const sweep = (at?: Date) => runSweep({ ...h.runtime, db: db(), log: h.runtime.logger }, at);
  const cursor = async () =>
    (await db().selectFrom('sweeper_cursors').select('position').where('name', '=', 'orphans').executeTakeFirst())?.position ?? '';
  const rowOf = (id: string) => db().selectFrom('uploads').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const exists = async (key: string) => (await h.runtime.blobs.stat(key)) !== null;
  const orphan = async (name: string) => {
    const key = `${h.orgId}/${name}`;
    await h.runtime.blobs.put(key, Readable.from([Buffer.from('no row')]));
    return key;
  };
  const backdate = (id: string, ms: number) =>
    db()
      .updateTable('uploads')
      .set({ updated_at: earlier(ms) })
      .where('id', '=', id)
      .execute();

  /** Sweeps until the storage walk has wrapped round once, so every blob was looked at; sums the reports. */
  async function fullPass(at?: Date): Promise<SweepReport & { runs: number }> {
    const total = {
      expired_uploads: 0,
      purged_blobs: 0,
      orphan_blobs: 0,
      leftovers: 0,
      expired_idempotency_keys: 0,
      purged_files: 0,
      purged_uploads: 0,
      runs: 0,
    };
    do {
      const report = await sweep(at);
      for (const [what, count] of Object.entries(report)) total[what as keyof SweepReport] += count;
      total.runs++;
      assert.ok(total.runs < 100, 'the walk never wrapped');
    } while ((await cursor()) !== '');
    return total;
  }

  async function cancelledUpload(name: string) {
    const p = await presign(h, { name });
    assert.equal((await putBytes(p, `${name} bytes`)).status, 200);
    assert.equal((await h.api('POST', `/api/v1/uploads/${p.data_source_id}/cancel`)).status, 200);
    return rowOf(p.data_source_id);
  }

  /** A multipart upload with its last part stored and the rest still to come. */
  async function unfinishedMultipart(name: string) {
    const started = await h.api('POST', '/api/v1/uploads/multipart', { body: { name, size_bytes: 5 * MIB + 10, part_size: 5 * MIB } });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const id = started.body.data_source_id;
    const [part] = (await h.api('POST', `/api/v1/uploads/${id}/parts`, { body: { part_numbers: [2] } })).body.parts;
    const headers = Object.fromEntries(
      Object.entries(part.headers as Record<string, string>).filter(([n]) => n.toLowerCase() !== 'content-length'),
    );
    assert.equal((await fetch(part.url, { method: 'PUT', headers, body: '0123456789' })).status, 200);
    return rowOf(id);
  }
  const partsHeld = (row: { blob_key: string; multipart_upload_id: string | null }) =>
    h.runtime.blobs.listParts(row.blob_key, row.multipart_upload_id!).then((parts) => parts.map((p) => p.partNumber));

  it('spares everything younger than its cut-off, and takes each kind once it is older', async () => {
    const live = await uploadConfirmed(h, 'live.bin', 'live bytes');
    const liveKey = (await rowOf(live.id)).blob_key;
    // A streamed upload writes its blob before committing its row: until then the blob is an orphan.
    const inFlight = await orphan('written-just-now');
    const cancelled = await cancelledUpload('dropped-just-now.txt');
    const pending = await presign(h, { name: 'still-coming.txt' });
    const multipart = await unfinishedMultipart('half-sent.bin');
    const tempFile = `${h.dataDir}/blobs/.tmp/being-written`;
    if (local()) await writeFile(tempFile, 'partial');
    const tempExists = () => fileExists(tempFile);

    // Now, and a minute before the grace period ends: nothing is taken.
    for (const at of [undefined, later(GRACE - MINUTE)]) {
      const report = await fullPass(at);
      assert.deepEqual(
        [report.orphan_blobs, report.purged_blobs, report.expired_uploads, report.leftovers],
        [0, 0, 0, 0],
        `at ${at?.toISOString() ?? 'now'}`,
      );
      assert.ok(await exists(inFlight), 'a blob whose row is not committed yet');
      assert.ok(await exists(cancelled.blob_key), 'a blob cancelled within the grace period');
      assert.deepEqual(await partsHeld(multipart), [2]);
      if (local()) assert.ok(await tempExists(), 'a temporary file being written');
    }

    // Past the grace period: the orphan and the cancelled blob go; uploads that may still finish stay.
    const pastGrace = await fullPass(later(GRACE + MINUTE));
    assert.equal(pastGrace.orphan_blobs, 1);
    assert.equal(pastGrace.purged_blobs, 1);
    assert.equal(pastGrace.expired_uploads, 0);
    assert.equal(pastGrace.leftovers, 0, 'storage leftovers wait as long as a pending upload may');
    assert.equal(await exists(inFlight), false);
    assert.equal(await exists(cancelled.blob_key), false);
    assert.ok((await rowOf(cancelled.id)).blob_purged_at);
    assert.equal((await rowOf(pending.data_source_id)).status, 'pending');
    assert.deepEqual(await partsHeld(multipart), [2], 'a multipart upload within its pending lifetime keeps its parts');
    if (local()) assert.ok(await tempExists());

    // Past the pending lifetime: abandoned uploads expire, their parts and the driver's leftovers go.
    const pastTtl = await fullPass(later(PENDING_TTL + MINUTE));
    assert.equal(pastTtl.expired_uploads, 2);
    for (const id of [pending.data_source_id, multipart.id]) {
      const row = await rowOf(id);
      assert.deepEqual([row.status, row.failure_reason], ['failed', 'expired']);
    }
    await assert.rejects(partsHeld(multipart), { name: 'BlobError', kind: 'missing' });
    if (local()) {
      assert.equal(pastTtl.leftovers, 1);
      assert.equal(await tempExists(), false);
    }
    assert.ok(await exists(liveKey), 'a confirmed blob is never taken');
    assert.equal(await (await fetch((await h.api('GET', `/api/v1/uploads/${live.id}/download-url`)).body.url)).text(), 'live bytes');
  });

  it(
    'measures ages in one run by when each row and file last changed',
    { skip: process.env.S3_TEST_ENDPOINT ? 'S3 stamps LastModified itself: the clock test above covers S3' : false },
    async () => {
      const oldCancelled = await cancelledUpload('dropped-long-ago.txt');
      await backdate(oldCancelled.id, GRACE + MINUTE);
      const newCancelled = await cancelledUpload('dropped-lately.txt');
      await backdate(newCancelled.id, GRACE - MINUTE);
      const oldOrphan = await orphan('crashed-long-ago');
      const newOrphan = await orphan('crashed-lately');
      await utimes(`${h.dataDir}/blobs/${oldOrphan}`, earlier(GRACE + MINUTE), earlier(GRACE + MINUTE));
      await utimes(`${h.dataDir}/blobs/${newOrphan}`, earlier(GRACE - MINUTE), earlier(GRACE - MINUTE));
      const oldTemp = `${h.dataDir}/blobs/.tmp/abandoned-long-ago`;
      const newTemp = `${h.dataDir}/blobs/.tmp/abandoned-lately`;
      await writeFile(oldTemp, 'partial');
      await writeFile(newTemp, 'partial');
      await utimes(oldTemp, earlier(PENDING_TTL + MINUTE), earlier(PENDING_TTL + MINUTE));
      await utimes(newTemp, earlier(PENDING_TTL - MINUTE), earlier(PENDING_TTL - MINUTE));

      const report = await fullPass();
      assert.deepEqual([report.purged_blobs, report.orphan_blobs, report.leftovers], [1, 1, 1], JSON.stringify(report));
      assert.deepEqual(await Promise.all([oldCancelled.blob_key, newCancelled.blob_key, oldOrphan, newOrphan].map(exists)), [
        false,
        true,
        false,
        true,
      ]);
      assert.deepEqual(await Promise.all([oldTemp, newTemp].map(fileExists)), [false, true]);
    },
  );

  it("removes a failed upload's blob once, after which the upload cannot be retried", async () => {
    const failed = await presign(h, { name: 'bad.txt', size_bytes: 99 });
    await h.runtime.blobs.put((await rowOf(failed.data_source_id)).blob_key, Readable.from([Buffer.from('short')]));
    const { upload } = await settle(h, failed.data_source_id, await confirm(h, failed.data_source_id));
    assert.equal(upload.failure_reason, 'size_mismatch');
    await backdate(failed.data_source_id, GRACE + MINUTE);

    assert.equal((await sweep()).purged_blobs, 1);
    assert.equal(await exists((await rowOf(failed.data_source_id)).blob_key), false);
    const retry = await h.api('POST', `/api/v1/uploads/${failed.data_source_id}/retry`);
    assert.equal(retry.status, 409, 'a purged upload cannot be retried');
    assert.equal(retry.body.error.code, 'conflict');
    assert.match(retry.body.error.message, /upload the file again/);
    assert.equal((await sweep()).purged_blobs, 0, 'nothing twice');
  });

  it("removes bytes that land at a purged upload's key afterwards, as an orphan", async () => {
    // An S3 presigned URL cannot be revoked: a client may still PUT to it after the sweeper purged
    // its cancelled upload. The row still names the key, but no longer vouches for a blob there.
    const cancelled = await cancelledUpload('late.txt');
    await backdate(cancelled.id, GRACE + MINUTE);
    assert.equal((await sweep()).purged_blobs, 1);
    await h.runtime.blobs.put(cancelled.blob_key, Readable.from([Buffer.from('late bytes')]));
    await fullPass(later(GRACE + MINUTE));
    assert.equal(await exists(cancelled.blob_key), false);
  });

  it(
    'removes a local multipart upload whose row was never saved, once past the pending lifetime',
    {
      skip: process.env.S3_TEST_ENDPOINT
        ? "the local driver's own folder: on S3 the clock test above covers unfinished multipart uploads"
        : false,
    },
    async () => {
      // What a process killed between starting a multipart upload in storage and committing its row leaves.
      const store = h.runtime.blobs;
      const { uploadId } = await store.createMultipart(`${h.orgId}/never-saved`, { contentType: null, partSize: 5 * MIB });
      await fullPass(later(PENDING_TTL - MINUTE));
      assert.deepEqual(await store.listParts(`${h.orgId}/never-saved`, uploadId), [], 'kept within the pending lifetime');
      await fullPass(later(PENDING_TTL + MINUTE));
      await assert.rejects(store.listParts(`${h.orgId}/never-saved`, uploadId), { name: 'BlobError', kind: 'missing' });
    },
  );

  it('never removes a blob that a live upload still references, however old its dead twin', async () => {
    const kept = await uploadConfirmed(h, 'shared.bin', 'shared bytes');
    const sharedKey = (await rowOf(kept.id)).blob_key;
    // A dead row pointing at the same blob, as deduplication can make, long past the grace period.
    const dead = await presign(h, { name: 'dead-twin.bin' });
    await db().updateTable('uploads').set({ blob_key: sharedKey, status: 'cancelled' }).where('id', '=', dead.data_source_id).execute();
    await backdate(dead.data_source_id, GRACE + MINUTE);
    const report = await fullPass();
    assert.equal(report.purged_blobs, 0, JSON.stringify(report));
    assert.equal((await h.runtime.blobs.stat(sharedKey))?.size, 12);
    assert.equal((await rowOf(dead.data_source_id)).blob_purged_at, null);
  });

  it(`walks storage ${BATCH} keys a run, resuming from its cursor, wrapping round, never taking a live blob`, async () => {
    const at = later(GRACE + MINUTE);
    await fullPass(at); // what earlier tests left is settled first, so this walk meets only what it made
    const live = await uploadConfirmed(h, 'live-in-the-walk.bin', 'still wanted');
    const orphans = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((n) => orphan(`walk-orphan-${n}`)));
    await db().updateTable('sweeper_cursors').set({ position: '' }).execute();
    const stored = (await h.runtime.blobs.list({ after: '', limit: 10_000 })).map((b) => b.key);
    const wanted = new Set(
      (await db().selectFrom('uploads').select('blob_key').where('status', 'in', ['pending', 'confirmed']).execute()).map(
        (r) => r.blob_key,
      ),
    );
    assert.ok(wanted.has((await rowOf(live.id)).blob_key));

    const positions: string[] = [];
    let removed = 0;
    do {
      const report = await sweep(at);
      assert.ok(report.orphan_blobs <= BATCH, 'a run looks at no more than its batch');
      removed += report.orphan_blobs;
      positions.push(await cursor());
    } while (positions.at(-1) !== '' && positions.length < 100);
    // Each run resumes where the last stopped: one pass takes as many runs as pages of storage.
    assert.equal(positions.length, Math.floor(stored.length / BATCH) + 1, JSON.stringify({ stored, positions }));
    assert.deepEqual(
      positions.slice(0, -1),
      stored.filter((_, i) => i % BATCH === BATCH - 1),
      'the cursor is the last key of each page',
    );
    assert.equal(removed, orphans.length);
    for (const key of orphans) assert.equal(await exists(key), false, key);
    for (const key of stored.filter((k) => wanted.has(k))) assert.ok(await exists(key), `live blob ${key}`);

    // An orphan behind the cursor is found once the walk wraps round to the start of storage.
    await sweep(at);
    assert.notEqual(await cursor(), '');
    const behind = '-behind-the-cursor/blob';
    await h.runtime.blobs.put(behind, Readable.from([Buffer.from('no row')]));
    assert.ok(behind < (await cursor()), 'the new orphan sorts before the cursor');
    let runs = 0;
    while ((await exists(behind)) && runs++ < 100) await sweep(at);
    assert.equal(await exists(behind), false, 'the walk wrapped round');
  });

  it('is scheduled, and a worker runs it from its queue', async () => {
    const schedules = await h.runtime.queue.boss.getSchedules();
    assert.equal(schedules.find((entry) => entry.name === 'sweep')?.cron, '0 0 29 2 *');
    const p = await presign(h, { name: 'queued-sweep.txt' });
    await db()
      .updateTable('uploads')
      .set({ expires_at: earlier(1000) })
      .where('id', '=', p.data_source_id)
      .execute();
    const jobId = await h.runtime.queue.boss.send('sweep', {});
    assert.ok(jobId);
    // Wait for the whole run to finish, not just its first effect: the next test must not race it.
    await eventually(async () => {
      const job = await h.runtime.queue.boss.getJobById('sweep', jobId);
      return job?.state === 'completed' ? true : undefined;
    }, 'the queued sweep to complete');
    const upload = (await h.api('GET', `/api/v1/uploads/${p.data_source_id}`)).body;
    assert.equal(upload.failure_reason, 'expired');
  });

  it('drops expired idempotency records and reports what it removed as a metric', async () => {
    await h.api('POST', '/api/v1/uploads/presign', { body: { name: 'i.txt' }, headers: { 'idempotency-key': 'old-one' } });
    await h.api('POST', '/api/v1/uploads/presign', { body: { name: 'j.txt' }, headers: { 'idempotency-key': 'new-one' } });
    await db()
      .updateTable('idempotency_keys')
      .set({ expires_at: sql<Date>`now() - interval '1 second'` })
      .where('key', '=', 'old-one')
      .execute();
    const report = await sweep();
    assert.equal(report.expired_idempotency_keys, 1);
    assert.deepEqual(
      (await db().selectFrom('idempotency_keys').select('key').execute()).map((r) => r.key),
      ['new-one'],
    );
    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    assert.match(metrics, /stowage_sweeper_removed_total\{what="expired_idempotency_keys"\} 1\b/);
  });
});
