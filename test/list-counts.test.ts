/**
 * The `count` of a files list comes from counters the database keeps beside the rows (migration 0012),
 * not from a scan: it must equal a real count after every kind of change, from every writer — the API,
 * concurrent requests, a bulk insert in SQL, a transaction that rolls back, the purge.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { sendFileContent } from './helpers/files.js';
import { type Harness, startStowage } from './helpers/harness.js';

describe('list counts', () => {
  let h: Harness;
  let key: string;
  let sql: pg.Client;
  const api = (method: string, route: string, body?: unknown) => h.api(method, route, { key, body });

  before(async () => {
    h = await startStowage();
    key = await h.createKey(h.orgId, ['files:read', 'files:write', 'admin']);
    sql = new pg.Client({ connectionString: h.databaseUrl });
    await sql.connect();
  });
  after(async () => {
    await sql?.end();
    await h?.close();
  });

  /** What a scan would say, for each filter the list offers without `q`. */
  async function truth(folderId: string | null) {
    const { rows } = await sql.query(
      `SELECT count(*)::int AS all_files, (count(*) FILTER (WHERE deleted_at IS NULL))::int AS live
         FROM files WHERE org_id = $1 AND ($2::uuid IS NULL OR folder_id = $2)`,
      [h.orgId, folderId],
    );
    return rows[0] as { all_files: number; live: number };
  }

  async function assertCountsTrue(folders: string[], when: string) {
    for (const folderId of [null, ...folders]) {
      const expected = await truth(folderId);
      const filter = folderId ? `&folder_id=${folderId}` : '';
      const live = await api('GET', `/api/v1/files?limit=1${filter}`);
      const all = await api('GET', `/api/v1/files?limit=1&include_deleted=true${filter}`);
      assert.equal(live.status, 200, JSON.stringify(live.body));
      assert.equal(live.body.count, expected.live, `live count ${folderId ?? 'org-wide'} ${when}`);
      assert.equal(all.body.count, expected.all_files, `count with the trash ${folderId ?? 'org-wide'} ${when}`);
    }
  }

  async function newFile(name: string, folderId: string | null) {
    const created = await api('POST', '/api/v1/files', {
      filename: name,
      content_type: 'text/plain',
      size: name.length,
      folder_id: folderId,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body as { id: string };
  }

  it('stays exact through creates, moves, trash, recover, concurrent writers, bulk SQL, rollback and purge', async () => {
    const a = (await api('POST', '/api/v1/folders', { name: 'a' })).body.id as string;
    const b = (await api('POST', '/api/v1/folders', { name: 'b' })).body.id as string;
    const folders = [a, b];
    await assertCountsTrue(folders, 'in an empty org');

    const inA = await newFile('one.txt', a);
    const atRoot = await newFile('two.txt', null);
    const sent = await sendFileContent(h, key, inA.id, 'one.txt');
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    await assertCountsTrue(folders, 'after creates and a version');

    const moved = await api('PUT', `/api/v1/files/${inA.id}`, { expect_tip: sent.body.cid, folder_id: b });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    assert.equal((await api('DELETE', `/api/v1/files/${atRoot.id}`)).status, 200);
    await assertCountsTrue(folders, 'after a move and a delete');
    assert.equal((await api('POST', `/api/v1/files/${atRoot.id}/recover`)).status, 200);
    assert.equal((await api('DELETE', `/api/v1/files/${inA.id}`)).status, 200);
    await assertCountsTrue(folders, 'after a recover and a delete in a folder');

    const many = await Promise.all(Array.from({ length: 24 }, (_, i) => newFile(`c${i}.txt`, i % 2 ? a : null)));
    await Promise.all(many.slice(0, 8).map((f) => api('DELETE', `/api/v1/files/${f.id}`)));
    await assertCountsTrue(folders, 'after 24 concurrent creates and 8 concurrent deletes');

    await sql.query(
      `INSERT INTO files (id, org_id, folder_id, status, filename, label, deleted_at)
       SELECT gen_random_uuid(), $1, CASE WHEN i % 3 = 0 THEN $2::uuid END, 'pending', 'bulk' || i, 'bulk' || i,
              CASE WHEN i % 10 = 0 THEN now() END
         FROM generate_series(1, 5000) i`,
      [h.orgId, b],
    );
    await assertCountsTrue(folders, 'after a bulk insert of 5,000 in one statement');

    await sql.query('BEGIN');
    await sql.query(`UPDATE files SET deleted_at = now() WHERE org_id = $1 AND deleted_at IS NULL AND filename LIKE 'bulk%'`, [h.orgId]);
    await sql.query(`DELETE FROM files WHERE org_id = $1 AND filename LIKE 'bulk1%'`, [h.orgId]);
    await sql.query('ROLLBACK');
    await assertCountsTrue(folders, 'after a transaction that rolled back');

    await sql.query(`UPDATE files SET folder_id = $2 WHERE org_id = $1 AND filename LIKE 'bulk2%'`, [h.orgId, a]);
    await assertCountsTrue(folders, 'after a bulk move');

    const purged = await api('DELETE', `/api/v1/files/${atRoot.id}?permanent=true`);
    assert.equal(purged.status, 200, JSON.stringify(purged.body));
    await sql.query(`DELETE FROM files WHERE org_id = $1 AND filename LIKE 'bulk3%'`, [h.orgId]);
    await assertCountsTrue(folders, 'after purges');
  });

  it('a search counts exactly below its cap, through the trigram index, and another org counts nothing of this one', async () => {
    await sql.query(
      `INSERT INTO files (id, org_id, status, filename, label)
       SELECT gen_random_uuid(), $1, 'pending', 'needle-' || i || '.txt', 'needle-' || i FROM generate_series(1, 37) i`,
      [h.orgId],
    );
    const found = await api('GET', '/api/v1/files?q=NEEDLE-&limit=5');
    assert.equal(found.status, 200, JSON.stringify(found.body));
    assert.equal(found.body.count, 37);
    assert.equal(found.body.count_capped, undefined);
    assert.equal(found.body.data.length, 5);
    const theirs = await h.api('GET', '/api/v1/files?q=needle-', { key: h.keys.otherOrg });
    assert.equal(theirs.body.count, 0);
    assert.equal((await h.api('GET', '/api/v1/files', { key: h.keys.otherOrg })).body.count, 0);

    await sql.query('SET enable_seqscan = off');
    const plan = await sql.query(
      // Without the org condition, which a small table answers from another index more cheaply.
      `EXPLAIN SELECT id FROM files WHERE filename ILIKE '%needle-%' OR label ILIKE '%needle-%'`,
    );
    await sql.query('RESET enable_seqscan');
    assert.match(plan.rows.map((r) => r['QUERY PLAN']).join('\n'), /files_search_idx/, 'q can be answered from the trigram index');
  });
});
