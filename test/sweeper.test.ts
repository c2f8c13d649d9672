import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { runSweep } from '../src/jobs/sweep.js';
import { type Harness, eventually, startStowage } from './helpers/harness.js';
import { confirm, presign, putBytes, settle, uploadConfirmed } from './helpers/uploads.js';

describe('the sweeper', () => {
  let h: Harness;
  before(async () => {
    // The scheduled sweep is pushed to a date no test run meets: these tests call it themselves.
    h = await startStowage({ STOWAGE_SWEEP_GRACE_SECONDS: '0', STOWAGE_PENDING_TTL_SECONDS: '1', STOWAGE_SWEEP_CRON: '0 0 29 2 *' });
  });
  after(() => h.close());

  const sweep = () => runSweep({ ...h.runtime, db: h.runtime.database.db, log: h.runtime.logger });
  const blobKeyOf = async (id: string) =>
    (await h.runtime.database.db.selectFrom('uploads').select('blob_key').where('id', '=', id).executeTakeFirstOrThrow()).blob_key;

  it('fails uploads left pending past their expiry as "expired"', async () => {
    const p = await presign(h, { name: 'abandoned.txt' });
    await new Promise((r) => setTimeout(r, 1100));
    const report = await sweep();
    assert.ok(report.expired_uploads >= 1);
    const upload = (await h.api('GET', `/api/v1/uploads/${p.data_source_id}`)).body;
    assert.equal(upload.status, 'failed');
    assert.equal(upload.failure_reason, 'expired');
  });

  it('removes blobs of cancelled and failed uploads after the grace period, once', async () => {
    const cancelled = await presign(h, { name: 'dropped.txt' });
    await putBytes(cancelled, 'dropped bytes');
    await h.api('POST', `/api/v1/uploads/${cancelled.data_source_id}/cancel`);
    const failed = await presign(h, { name: 'bad.txt', size_bytes: 99 });
    await h.runtime.blobs.put(await blobKeyOf(failed.data_source_id), Readable.from([Buffer.from('short')]));
    const { upload } = await settle(h, failed.data_source_id, await confirm(h, failed.data_source_id));
    assert.equal(upload.failure_reason, 'size_mismatch');

    const report = await sweep();
    assert.ok(report.purged_blobs >= 2, JSON.stringify(report));
    assert.equal(await h.runtime.blobs.stat(await blobKeyOf(cancelled.data_source_id)), null);
    assert.equal(await h.runtime.blobs.stat(await blobKeyOf(failed.data_source_id)), null);
    const retry = await h.api('POST', `/api/v1/uploads/${failed.data_source_id}/retry`);
    assert.equal(retry.status, 409, 'a purged upload cannot be retried');
    assert.match(retry.body.error.message, /upload the file again/);

    const again = await sweep();
    assert.equal(again.purged_blobs, 0, 'nothing twice');
  });

  it('never removes a blob that a live upload still references', async () => {
    const kept = await uploadConfirmed(h, 'shared.bin', 'shared bytes');
    const sharedKey = await blobKeyOf(kept.id);
    // A dead row pointing at the same blob, as deduplication can make.
    const dead = await presign(h, { name: 'dead-twin.bin' });
    await h.runtime.database.db.updateTable('uploads').set({ blob_key: sharedKey, status: 'cancelled' }).where('id', '=', dead.data_source_id).execute();
    await sweep();
    assert.equal((await h.runtime.blobs.stat(sharedKey))?.size, 12);
    const download = await h.api('GET', `/api/v1/uploads/${kept.id}/download-url`);
    assert.equal(await (await fetch(download.body.url)).text(), 'shared bytes');
  });

  it('removes blobs no row knows, walking storage in bounded steps, and the driver\'s leftovers', async () => {
    const kept = await uploadConfirmed(h, 'kept.bin', 'kept bytes');
    const keptKey = await blobKeyOf(kept.id);
    const orphanKeys = [`${h.orgId}/orphan-a`, `${h.orgId}/orphan-b`, `${h.otherOrgId}/orphan-c`];
    for (const key of orphanKeys) await h.runtime.blobs.put(key, Readable.from([Buffer.from('no row')]));
    if (h.config.storageDriver === 'local') {
      const { writeFile } = await import('node:fs/promises');
      await writeFile(`${h.dataDir}/blobs/.tmp/crashed-mid-write`, 'partial');
    }
    let removed = 0;
    let leftovers = 0;
    // The walk may take several runs; it ends when a run finds nothing left behind the cursor.
    for (let run = 0; run < 20; run++) {
      const report = await sweep();
      removed += report.orphan_blobs;
      leftovers += report.leftovers;
      if (removed >= orphanKeys.length) break;
    }
    assert.equal(removed, orphanKeys.length);
    for (const key of orphanKeys) assert.equal(await h.runtime.blobs.stat(key), null, key);
    assert.equal((await h.runtime.blobs.stat(keptKey))?.size, 10, 'a blob with a row is kept');
    if (h.config.storageDriver === 'local') assert.equal(leftovers, 1);
  });

  it('is scheduled, and a worker runs it from its queue', async () => {
    const schedules = await h.runtime.queue.boss.getSchedules();
    assert.equal(schedules.find((entry) => entry.name === 'sweep')?.cron, '0 0 29 2 *');
    const p = await presign(h, { name: 'queued-sweep.txt' });
    await new Promise((r) => setTimeout(r, 1100));
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
    await h.runtime.database.db.updateTable('idempotency_keys').set({ expires_at: sql<Date>`now() - interval '1 second'` }).where('key', '=', 'old-one').execute();
    const report = await sweep();
    assert.equal(report.expired_idempotency_keys, 1);
    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    assert.match(metrics, /stowage_sweeper_removed_total\{what="expired_idempotency_keys"\} [1-9]/);
  });
});
