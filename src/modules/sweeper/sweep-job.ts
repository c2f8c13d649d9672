import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { BlobStore } from '../../blobs/blob-store.js';
import type { Config } from '../../config.js';
import type { Db } from '../../db/database.js';
import type { PeriodicJob } from '../../jobs/job-kind.js';
import type { Metrics } from '../../metrics.js';
import type { ModuleDeps } from '../module.js';
import { purgeFile, purgeUpload } from './purge.js';

export interface SweepDeps {
  db: Db;
  blobs: BlobStore;
  config: Config;
  metrics: Metrics;
  log: Logger;
}

/** The sweep on the configured schedule (STOWAGE_SWEEP_CRON), one run at a time across all workers. */
export const sweepJob: PeriodicJob<ModuleDeps> = {
  kind: 'sweep',
  cron: (config) => config.sweeper.cron,
  run: (deps) => runSweep({ ...deps, log: deps.logger }),
};

export interface SweepReport {
  expired_uploads: number;
  purged_blobs: number;
  orphan_blobs: number;
  leftovers: number;
  expired_idempotency_keys: number;
  purged_files: number;
  purged_uploads: number;
}

/**
 * Keeps rows and blobs consistent: fails uploads left pending past their expiry, removes blobs of
 * cancelled and failed uploads after the grace period (never one another row still uses), and
 * drops expired idempotency records. Each kind is bounded per run; running it twice does no harm.
 * `at` is the sweep's clock: every age is measured against it, never against the database's now().
 */
export async function runSweep(deps: SweepDeps, at: Date = new Date()): Promise<SweepReport> {
  const { batch, graceSeconds } = deps.config.sweeper;
  const graceCutoff = new Date(at.getTime() - graceSeconds * 1000);
  // Storage's own leftovers include the parts of multipart uploads still in progress (S3 lists them
  // all): none is taken before its upload could have expired, whatever the grace period says.
  const leftoverAge = Math.max(graceSeconds, deps.config.limits.pendingTtlSeconds);
  const report: SweepReport = {
    expired_uploads: await expirePending(deps, batch, at),
    purged_blobs: await purgeDeadBlobs(deps, batch, graceCutoff),
    orphan_blobs: await removeOrphans(deps, batch, graceCutoff),
    leftovers: await deps.blobs.removeLeftovers(new Date(at.getTime() - leftoverAge * 1000)),
    expired_idempotency_keys: await dropExpiredIdempotency(deps.db, batch, at),
    ...(await purgeTrash(deps, batch, new Date(at.getTime() - deps.config.sweeper.trashRetentionSeconds * 1000))),
  };
  for (const [what, count] of Object.entries(report)) if (count) deps.metrics.sweptTotal.inc({ what }, count);
  deps.log.info({ sweep: report }, 'sweep finished');
  return report;
}

/** Abandoned uploads fail as 'expired'; the parts of abandoned multipart uploads are freed. */
async function expirePending(deps: SweepDeps, batch: number, at: Date): Promise<number> {
  const rows = await deps.db
    .updateTable('uploads')
    .set({ status: 'failed', failure_reason: 'expired', updated_at: at })
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('uploads')
        .select('id')
        .where('status', '=', 'pending')
        .where('expires_at', '<', at)
        .orderBy('expires_at')
        .limit(batch)
        .forUpdate()
        .skipLocked(),
    )
    .returning(['id', 'blob_key', 'multipart_upload_id'])
    .execute();
  for (const row of rows) {
    if (!row.multipart_upload_id) continue;
    await deps.blobs
      .abortMultipart(row.blob_key, row.multipart_upload_id)
      .catch((error) => deps.log.warn({ err: error, upload_id: row.id }, 'sweeper could not abort a multipart upload'));
  }
  return rows.length;
}

async function purgeDeadBlobs(deps: SweepDeps, batch: number, graceCutoff: Date): Promise<number> {
  const dead = await deps.db
    .selectFrom('uploads as u')
    .select(['u.id', 'u.blob_key'])
    .where('u.status', 'in', ['cancelled', 'failed'])
    .where('u.blob_purged_at', 'is', null)
    .where('u.updated_at', '<', graceCutoff)
    // A blob another live upload points at (deduplication shares blobs) is never removed.
    .where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('uploads as other')
            .select('other.id')
            .whereRef('other.blob_key', '=', 'u.blob_key')
            .whereRef('other.id', '!=', 'u.id')
            .where('other.status', 'in', ['pending', 'confirmed']),
        ),
      ),
    )
    .orderBy('u.updated_at')
    .limit(batch)
    .execute();
  let purged = 0;
  for (const row of dead) {
    try {
      await deps.blobs.delete(row.blob_key);
      await deps.db
        .updateTable('uploads')
        .set({ blob_purged_at: sql`now()` })
        .where('id', '=', row.id)
        .execute();
      purged++;
    } catch (error) {
      // Left for the next run: deleting is idempotent.
      deps.log.warn({ err: error, upload_id: row.id }, 'sweeper could not remove a blob');
    }
  }
  return purged;
}

/**
 * Blobs no row knows (a crash between writing a blob and committing its row), older than the grace
 * period so a write in progress is never taken. Walks storage `batch` keys a run, resuming where the
 * last run stopped.
 */
async function removeOrphans(deps: SweepDeps, batch: number, graceCutoff: Date): Promise<number> {
  const cursor = await deps.db.selectFrom('sweeper_cursors').select('position').where('name', '=', 'orphans').executeTakeFirst();
  const listed = await deps.blobs.list({ after: cursor?.position ?? '', limit: batch });
  const old = listed.filter((blob) => blob.modifiedAt < graceCutoff);
  const keys = old.map((b) => b.key);
  // Rows of four kinds name blobs: uploads their bytes, previews their GLB, readings their thumbnail, tus uploads their tail. A purged upload no longer
  // does: bytes PUT to its unrevocable S3 URL after the purge belong to nobody.
  const known = new Set<string | null>();
  if (keys.length) {
    const uploads = await deps.db
      .selectFrom('uploads')
      .select('blob_key')
      .where('blob_key', 'in', keys)
      .where('blob_purged_at', 'is', null)
      .execute();
    for (const row of uploads) known.add(row.blob_key);
    for (const row of await deps.db.selectFrom('previews').select('blob_key').where('blob_key', 'in', keys).execute())
      known.add(row.blob_key);
    for (const row of await deps.db.selectFrom('readings').select('thumbnail_key').where('thumbnail_key', 'in', keys).execute())
      known.add(row.thumbnail_key);
    // The tail of a tus upload still taking bytes (migration 0022); once it ends, its tail is an orphan.
    const tails = await deps.db
      .selectFrom('tus_uploads as t')
      .innerJoin('uploads as u', 'u.id', 't.upload_id')
      .select('t.tail_key')
      .where('t.tail_key', 'in', keys)
      .where('u.status', '=', 'pending')
      .execute();
    for (const row of tails) known.add(row.tail_key);
  }
  let removed = 0;
  for (const blob of old) {
    if (known.has(blob.key)) continue;
    await deps.blobs.delete(blob.key);
    removed++;
  }
  // A short page means the walk reached the end: the next run starts over.
  const position = listed.length < batch ? '' : listed[listed.length - 1].key;
  await deps.db
    .insertInto('sweeper_cursors')
    .values({ name: 'orphans', position })
    .onConflict((oc) => oc.column('name').doUpdateSet({ position, updated_at: sql`now()` }))
    .execute();
  return removed;
}

/**
 * Files and uploads in the trash longer than the retention period are purged: files first, so the
 * uploads made for them are purged in the same run; bytes go only where nothing else uses them.
 */
async function purgeTrash(deps: SweepDeps, batch: number, cutoff: Date): Promise<{ purged_files: number; purged_uploads: number }> {
  const files = await deps.db
    .selectFrom('files')
    .select('id')
    .where('deleted_at', '<', cutoff)
    .orderBy('deleted_at')
    .limit(batch)
    .execute();
  let purgedFiles = 0;
  for (const file of files) if ((await purgeFile(deps.db, deps.blobs, file.id)) === 'purged') purgedFiles++;
  const uploads = await deps.db
    .selectFrom('uploads')
    .select('id')
    .where('deleted_at', '<', cutoff)
    .where('blob_purged_at', 'is', null)
    .orderBy('deleted_at')
    .limit(batch)
    .execute();
  let purgedUploads = 0;
  for (const upload of uploads) if ((await purgeUpload(deps.db, deps.blobs, upload.id)) === 'purged') purgedUploads++;
  return { purged_files: purgedFiles, purged_uploads: purgedUploads };
}

async function dropExpiredIdempotency(db: Db, batch: number, at: Date): Promise<number> {
  const result = await db
    .deleteFrom('idempotency_keys')
    .where(({ eb, refTuple, selectFrom }) =>
      eb(
        refTuple('org_id', 'key'),
        'in',
        selectFrom('idempotency_keys').select(['org_id', 'key']).where('expires_at', '<', at).limit(batch) as never,
      ),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
