/**
 * The uploads list's `count` and the storage summary come from counters the database keeps beside the
 * rows (migration 0017), not from a scan: after every kind of change, from every writer — the API and
 * its confirm jobs, concurrent requests, the sweeper, SQL by hand, a transaction that rolls back — each
 * must equal a real count. And the pages those lists read walk an index, never the whole table.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { runSweep } from '../src/modules/sweeper/sweep-job.js';
import { type Harness, startStowage } from './helpers/harness.js';
import { confirm, presign, settle, uploadConfirmed } from './helpers/uploads.js';

const STATUSES = ['pending', 'confirmed', 'failed', 'cancelled'] as const;

/** Every filter combination the list offers, with the SQL condition a scan would use for it. */
const VARIANTS = [false, true].flatMap((includeDeleted) => {
  const trash = includeDeleted ? 'true' : 'deleted_at IS NULL';
  const query = includeDeleted ? '&include_deleted=true' : '';
  return [
    { query, where: `${trash} AND status <> 'cancelled'` },
    { query: `${query}&include_cancelled=true`, where: trash },
    ...STATUSES.map((status) => ({ query: `${query}&status=${status}`, where: `${trash} AND status = '${status}'` })),
  ];
});

describe('upload counts', () => {
  let h: Harness;
  let key: string;
  let sql: pg.Client;
  const api = (method: string, route: string, body?: unknown) => h.api(method, route, { key, body });

  before(async () => {
    // The scheduled sweep is pushed to a date no run meets: the test runs it when it wants it.
    h = await startStowage({ STOWAGE_SWEEP_CRON: '0 0 29 2 *' });
    key = await h.createKey(h.orgId, ['uploads:read', 'uploads:write', 'admin']);
    sql = new pg.Client({ connectionString: h.databaseUrl });
    await sql.connect();
  });
  after(async () => {
    await sql?.end();
    await h?.close();
  });

  async function scanCount(where: string): Promise<number> {
    const { rows } = await sql.query(`SELECT count(*)::int AS n FROM uploads WHERE org_id = $1 AND ${where}`, [h.orgId]);
    return rows[0].n;
  }

  async function assertCountsTrue(when: string) {
    for (const variant of VARIANTS) {
      const answer = await api('GET', `/api/v1/uploads?limit=1${variant.query}`);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.body.count, await scanCount(variant.where), `count of ?${variant.query.slice(1)} ${when}`);
    }
    const summary = await api('GET', '/api/v1/uploads/summary');
    assert.equal(summary.status, 200, JSON.stringify(summary.body));
    const { rows } = await sql.query(
      `SELECT status, coalesce(detected_content_type, content_type, 'unknown') AS type, count(*)::int AS n,
              coalesce(sum(size_bytes), 0)::bigint AS bytes
         FROM uploads WHERE org_id = $1 GROUP BY 1, 2`,
      [h.orgId],
    );
    const byStatus: Record<string, number> = Object.fromEntries(STATUSES.map((s) => [s, 0]));
    const byType: Record<string, number> = {};
    for (const row of rows) {
      byStatus[row.status] += row.n;
      byType[row.type] = (byType[row.type] ?? 0) + row.n;
    }
    const total = rows.reduce((sum, row) => sum + row.n, 0);
    assert.equal(summary.body.total_count, total, `summary total_count ${when}`);
    assert.equal(
      summary.body.total_bytes,
      rows.reduce((sum, row) => sum + Number(row.bytes), 0),
      `summary total_bytes ${when}`,
    );
    assert.deepEqual(summary.body.by_status, byStatus, `summary by_status ${when}`);
    assert.deepEqual(summary.body.by_content_type, byType, `summary by_content_type ${when}`);
    // No counter is left that names nothing: each one's sum is what a scan of its rows says.
    const stray = await sql.query(
      `SELECT list, sum(n)::int AS n FROM list_counts WHERE org_id = $1 AND list LIKE 'uploads:type:%' GROUP BY 1 HAVING sum(n) < 0`,
      [h.orgId],
    );
    assert.deepEqual(stray.rows, [], `no content-type counter below zero ${when}`);
  }

  it('stays exact through presign, confirm, fail, cancel, trash, recover, concurrency, bulk SQL, rollback and the sweeper', async () => {
    await assertCountsTrue('in an empty org');

    const first = await uploadConfirmed(h, 'one.txt', 'one', { content_type: 'application/octet-stream' }, key);
    const second = await uploadConfirmed(h, 'two.csv', 'a,b\n1,2\n', {}, key);
    const missing = await presign(h, { name: 'missing.pdf', content_type: 'application/pdf', size_bytes: 10 }, key);
    const failed = await settle(h, missing.data_source_id, await confirm(h, missing.data_source_id, key));
    assert.equal(failed.upload.status, 'failed', JSON.stringify(failed));
    const pending = await presign(h, { name: 'later.bin', content_type: 'image/png', size_bytes: 5 }, key);
    const toCancel = await presign(h, { name: 'gone.bin', size_bytes: 7 }, key);
    assert.equal((await api('POST', `/api/v1/uploads/${toCancel.data_source_id}/cancel`)).status, 200);
    await assertCountsTrue('after presign, confirm (the type learned from the bytes), fail and cancel');

    assert.equal((await api('DELETE', `/api/v1/uploads/${first.id}`)).status, 200);
    assert.equal((await api('DELETE', `/api/v1/uploads/${missing.data_source_id}`)).status, 200);
    await assertCountsTrue('after two go to the trash');
    assert.equal((await api('POST', `/api/v1/uploads/${first.id}/recover`)).status, 200);
    await assertCountsTrue('after a recover');

    const many = await Promise.all(
      Array.from({ length: 24 }, (_, i) => presign(h, { name: `c${i}.txt`, content_type: i % 2 ? 'text/plain' : null }, key)),
    );
    const cancels = await Promise.all(many.slice(0, 8).map((p) => api('POST', `/api/v1/uploads/${p.data_source_id}/cancel`)));
    assert.deepEqual(
      cancels.map((c) => c.status),
      Array(8).fill(200),
    );
    const bulk = await api('POST', '/api/v1/uploads/bulk-cancel', { ids: many.slice(8, 12).map((p) => p.data_source_id) });
    assert.equal(bulk.status, 200, JSON.stringify(bulk.body));
    const batch = await api('POST', '/api/v1/uploads/presign/batch', {
      files: Array.from({ length: 10 }, (_, i) => ({ name: `b${i}.dat`, content_type: `application/x-batch-${i % 3}` })),
    });
    assert.equal(batch.status, 200, JSON.stringify(batch.body));
    await assertCountsTrue('after 24 concurrent presigns, 8 concurrent cancels, a bulk cancel and a batch presign');

    await sql.query(
      `INSERT INTO uploads (id, org_id, name, content_type, detected_content_type, size_bytes, status, blob_key, deleted_at, expires_at)
       SELECT gen_random_uuid(), $1, 'bulk' || i, 'type/' || (i % 7), CASE WHEN i % 4 = 0 THEN 'text/plain' END,
              CASE WHEN i % 4 = 0 THEN i END, (ARRAY['pending', 'confirmed', 'failed', 'cancelled'])[i % 4 + 1],
              'bulk/' || i, CASE WHEN i % 10 = 0 THEN now() END, now() + interval '1 hour'
         FROM generate_series(1, 3000) i`,
      [h.orgId],
    );
    await assertCountsTrue('after a bulk insert of 3,000 in one statement');

    await sql.query('BEGIN');
    await sql.query(`UPDATE uploads SET deleted_at = now() WHERE org_id = $1 AND name LIKE 'bulk%'`, [h.orgId]);
    await sql.query(`DELETE FROM uploads WHERE org_id = $1 AND name LIKE 'bulk1%'`, [h.orgId]);
    await sql.query('ROLLBACK');
    await assertCountsTrue('after a transaction that rolled back');

    await sql.query(
      `UPDATE uploads SET status = 'failed', failure_reason = 'expired', detected_content_type = 'application/zip', size_bytes = 11
        WHERE org_id = $1 AND name LIKE 'bulk2%' AND status = 'pending'`,
      [h.orgId],
    );
    await sql.query(`DELETE FROM uploads WHERE org_id = $1 AND name LIKE 'bulk3%'`, [h.orgId]);
    await assertCountsTrue('after a bulk change of status and type, and a bulk delete');

    // Far enough ahead that the pending expire and the trash is past its retention.
    const later = new Date(Date.now() + 60 * 24 * 3600 * 1000);
    const report = await runSweep({ ...h.runtime, db: h.runtime.database.db, log: h.runtime.logger }, later);
    assert.ok(report.expired_uploads > 0, JSON.stringify(report));
    assert.ok(report.purged_uploads > 0, JSON.stringify(report));
    await assertCountsTrue('after the sweeper expired the pending and purged the trash');
    assert.equal((await api('GET', `/api/v1/uploads/${pending.data_source_id}`)).body.status, 'failed');

    const purged = await api('DELETE', `/api/v1/uploads/${second.id}?permanent=true`);
    assert.equal(purged.status, 200, JSON.stringify(purged.body));
    await assertCountsTrue('after a permanent delete');

    const theirs = await h.api('GET', '/api/v1/uploads?include_deleted=true&include_cancelled=true', { key: h.keys.otherOrg });
    assert.equal(theirs.body.count, 0, 'another org counts nothing of this one');
  });

  it('bounds the content types a summary names, counting the rest as other', async () => {
    await sql.query(
      `INSERT INTO uploads (id, org_id, name, content_type, status, blob_key, expires_at)
       SELECT gen_random_uuid(), $1, 'many-types', 'application/x-many-' || i, 'cancelled', 'types/' || i, now()
         FROM generate_series(1, 150) i`,
      [h.orgId],
    );
    const summary = await api('GET', '/api/v1/uploads/summary');
    const types = summary.body.by_content_type as Record<string, number>;
    assert.equal(Object.keys(types).length, 101, 'the 100 most numerous types and other');
    assert.ok(types.other > 0);
    assert.equal(
      Object.values(types).reduce((a, b) => a + b, 0),
      summary.body.total_count,
      'every upload counted once',
    );
  });

  it('reads every list page through an index, and the summary through its counters', async () => {
    // An org big enough that the planner would rather not scan it, next to another one.
    await sql.query(
      `INSERT INTO uploads (id, org_id, name, content_type, status, blob_key, deleted_at, created_at, expires_at)
       SELECT gen_random_uuid(), o.id, 'plan' || i, 'text/plain',
              (ARRAY['confirmed', 'confirmed', 'confirmed', 'confirmed', 'confirmed', 'confirmed', 'pending', 'failed', 'cancelled'])[i % 9 + 1],
              'plan/' || i, CASE WHEN i % 50 = 0 THEN now() END, now() - i * interval '1 second', now() + interval '1 hour'
         FROM generate_series(1, 20000) i, (VALUES ($1::uuid), ($2::uuid)) o(id)`,
      [h.orgId, h.otherOrgId],
    );
    await sql.query('ANALYZE uploads');
    await sql.query('ANALYZE list_counts');
    for (const variant of VARIANTS) {
      for (const offset of [0, 1000]) {
        const { rows } = await sql.query(
          `EXPLAIN SELECT * FROM uploads WHERE org_id = $1 AND ${variant.where}
            ORDER BY created_at DESC, id DESC LIMIT 50 OFFSET ${offset}`,
          [h.orgId],
        );
        const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
        const what = `the page of ?${variant.query.slice(1)} at offset ${offset}:\n${plan}`;
        assert.doesNotMatch(plan, /Seq Scan/, what);
        assert.match(plan, /Index Scan using \w+ on uploads/, what);
        // A first page walks an index in the list's order and stops at 50. (Deeper pages of a small slice
        // may be sorted at this size, the planner rightly finding it cheaper; bench/scale.ts shows 1M rows.)
        if (offset === 0) {
          assert.doesNotMatch(plan, /Sort/, `${what}\n(not in the list's order)`);
          assert.match(plan, /Index Scan using uploads_org_(status_)?created_idx on uploads/, what);
        }
      }
    }
    // list_counts is small here, where a scan costs nothing; what matters is that an index can answer.
    await sql.query('SET enable_seqscan = off');
    const { rows } = await sql.query(
      `EXPLAIN SELECT list, sum(n) FROM list_counts WHERE org_id = $1 AND list LIKE 'uploads:type:%' GROUP BY list`,
      [h.orgId],
    );
    await sql.query('RESET enable_seqscan');
    assert.match(rows.map((r) => r['QUERY PLAN']).join('\n'), /list_counts_upload_types_idx/, 'the type counters through their index');
  });
});
