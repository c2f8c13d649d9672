/**
 * The parts, revisions and datasets lists take their `count` from counters the database keeps beside
 * the rows (migration 0018), not from a scan: after every kind of change — through the API, a part's
 * delete cascading to its revisions and links, SQL by hand, a transaction that rolls back — each must
 * equal a real count. And the pages those lists read walk an index in the list's order.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { type Harness, startStowage } from './helpers/harness.js';
import { postForm } from './helpers/forms.js';

const CLASS_A = '0190d7c4-0000-7000-8000-00000000000a';
const CLASS_B = '0190d7c4-0000-7000-8000-00000000000b';
const CLASS_NONE = '0190d7c4-0000-7000-8000-0000000000ff';
const TERMS = ['widget', 'BRK', 'zzz-nothing'];

/** Every filter of the parts list, with the SQL condition a scan would use for it ($2: the term). */
const PART_VARIANTS = [
  { query: '', where: 'true' },
  ...[CLASS_A, CLASS_B, CLASS_NONE].map((c) => ({ query: `&classification_id=${c}`, where: `classification_id = '${c}'` })),
  ...TERMS.flatMap((term) => {
    const match = `(part_number ILIKE '%${term}%' OR description ILIKE '%${term}%')`;
    return [
      { query: `&q=${term}`, where: match },
      { query: `&q=${term}&classification_id=${CLASS_A}`, where: `${match} AND classification_id = '${CLASS_A}'` },
    ];
  }),
];

describe('part, revision and dataset counts', () => {
  let h: Harness;
  let key: string;
  let sql: pg.Client;
  let serial = 0;
  const api = (method: string, route: string, body?: unknown) => h.api(method, route, { key, body });
  /** Every part and revision the test made through the API, still there or not: each one's lists are checked. */
  const revisions = new Map<string, string>();
  const parts = new Set<string>();

  before(async () => {
    h = await startStowage();
    key = await h.createKey(h.orgId, ['parts:read', 'parts:write', 'uploads:read', 'uploads:write']);
    sql = new pg.Client({ connectionString: h.databaseUrl });
    await sql.connect();
  });
  after(async () => {
    await sql?.end();
    await h?.close();
  });

  async function scanCount(table: string, where: string, ...params: unknown[]): Promise<number> {
    const { rows } = await sql.query(`SELECT count(*)::int AS n FROM ${table} WHERE org_id = $1 AND ${where}`, [h.orgId, ...params]);
    return rows[0].n;
  }

  async function listCount(route: string, when: string): Promise<number> {
    const answer = await api('GET', route);
    assert.equal(answer.status, 200, `${route} ${when}: ${JSON.stringify(answer.body)}`);
    return answer.body.count;
  }

  async function assertCountsTrue(when: string) {
    for (const variant of PART_VARIANTS) {
      assert.equal(
        await listCount(`/api/v1/parts?limit=1${variant.query}`, when),
        await scanCount('parts', variant.where),
        `count of parts?${variant.query.slice(1)} ${when}`,
      );
    }
    for (const partId of parts) {
      const { rows } = await sql.query('SELECT 1 FROM parts WHERE id = $1', [partId]);
      if (!rows.length) continue;
      assert.equal(
        await listCount(`/api/v1/parts/${partId}/revisions?limit=1`, when),
        await scanCount('part_revisions', 'part_id = $2', partId),
        `count of revisions of ${partId} ${when}`,
      );
    }
    for (const [revisionId, partId] of revisions) {
      const { rows } = await sql.query('SELECT 1 FROM part_revisions WHERE id = $1', [revisionId]);
      if (!rows.length) continue;
      const base = `/api/v1/parts/${partId}/revisions/${revisionId}/datasets?limit=1`;
      assert.equal(
        await listCount(base, when),
        await scanCount('dataset_links', 'part_revision_id = $2 AND is_active', revisionId),
        `count of active datasets of ${revisionId} ${when}`,
      );
      assert.equal(
        await listCount(`${base}&include_inactive=true`, when),
        await scanCount('dataset_links', 'part_revision_id = $2', revisionId),
        `count of all datasets of ${revisionId} ${when}`,
      );
    }
    // Every counter of every part and revision (those made by SQL too, and the deleted ones at zero)
    // against a real count: a counter left over or missing shows up as a row here.
    const { rows: wrong } = await sql.query(
      `WITH counted AS (
         SELECT list, scope, sum(n)::int AS n FROM list_counts
          WHERE org_id = $1 AND (list LIKE 'parts%' OR list LIKE 'part_revisions%' OR list LIKE 'dataset_links%')
          GROUP BY 1, 2),
       real AS (
         SELECT 'parts' AS list, '00000000-0000-0000-0000-000000000000'::uuid AS scope, count(*)::int AS n FROM parts WHERE org_id = $1
         UNION ALL SELECT 'parts:classification', classification_id, count(*) FROM parts
          WHERE org_id = $1 AND classification_id IS NOT NULL GROUP BY 2
         UNION ALL SELECT 'part_revisions', part_id, count(*) FROM part_revisions WHERE org_id = $1 GROUP BY 2
         UNION ALL SELECT 'dataset_links', part_revision_id, count(*) FROM dataset_links WHERE org_id = $1 GROUP BY 2
         UNION ALL SELECT 'dataset_links:active', part_revision_id, count(*) FROM dataset_links WHERE org_id = $1 AND is_active GROUP BY 2)
       SELECT list, scope, coalesce(c.n, 0) AS counted, coalesce(r.n, 0) AS real
         FROM counted c FULL JOIN real r USING (list, scope)
        WHERE coalesce(c.n, 0) <> coalesce(r.n, 0)`,
      [h.orgId],
    );
    assert.deepEqual(wrong, [], `every counter equals its rows ${when}`);
  }

  async function createPart(body: Record<string, unknown>): Promise<string> {
    const answer = await api('POST', '/api/v1/parts', { part_number: `P-${++serial}`, ...body });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    parts.add(answer.body.id);
    return answer.body.id;
  }

  async function createRevision(partId: string, code: string): Promise<{ id: string; base: string }> {
    const answer = await api('POST', `/api/v1/parts/${partId}/revisions`, { revision_code: code });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    revisions.set(answer.body.id, partId);
    return { id: answer.body.id, base: `/api/v1/parts/${partId}/revisions/${answer.body.id}/datasets` };
  }

  async function presigned(name: string): Promise<string> {
    const answer = await api('POST', '/api/v1/uploads/presign', { name, size_bytes: 10 });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body.data_source_id;
  }

  async function attach(base: string, name: string, body: Record<string, unknown> = {}): Promise<string> {
    const answer = await api('POST', base, { data_source_id: await presigned(name), ...body });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    return answer.body.id;
  }

  it('stay exact through creates, updates, deletes, supersedes, cascades, concurrency, bulk SQL and a rollback', async () => {
    await assertCountsTrue('in an empty org');

    const bracket = await createPart({ description: 'BRK widget', classification_id: CLASS_A });
    const housing = await createPart({ description: 'a housing', classification_id: CLASS_A });
    const gear = await createPart({ description: 'Gear WIDGET', classification_id: CLASS_B });
    const plain = await createPart({});
    await assertCountsTrue('after four parts are created');

    const moves: [string, Record<string, unknown>][] = [
      [housing, { classification_id: CLASS_B }],
      [plain, { classification_id: CLASS_A, description: 'now a widget' }],
      [bracket, { classification_id: null }],
      [gear, { lead_time_days: 3 }],
    ];
    for (const [id, body] of moves) assert.equal((await api('PATCH', `/api/v1/parts/${id}`, body)).status, 200);
    await assertCountsTrue('after parts change classification and description');

    const a = await createRevision(bracket, 'A');
    const b = await createRevision(bracket, 'B');
    const c = await createRevision(gear, 'A');
    const d = await createRevision(housing, 'A');
    assert.equal((await api('PATCH', `/api/v1/parts/${bracket}/revisions/${a.id}`, { attributes: { x: 1 } })).status, 200);
    await assertCountsTrue('after four revisions and an update');

    await attach(a.base, 'model.step');
    await attach(a.base, 'drawing.pdf');
    const superseding = await attach(a.base, 'model.step');
    const detached = await attach(b.base, 'spec.pdf');
    await attach(b.base, 'other.step', { is_primary: true });
    await attach(c.base, 'gear.step');
    await attach(d.base, 'housing.step');
    const form1 = await postForm(h, { bytes: Buffer.from('v1'), filename: 'upload.step', key, route: `${a.base}/upload` });
    assert.equal(form1.status, 201, JSON.stringify(form1.body));
    const form2 = await postForm(h, { bytes: Buffer.from('v2'), filename: 'upload.step', key, route: `${a.base}/upload` });
    assert.equal(form2.status, 201, JSON.stringify(form2.body));
    await assertCountsTrue('after links are attached, uploaded and superseded');

    assert.equal((await api('PATCH', `${a.base}/${superseding}`, { is_primary: true })).status, 200);
    assert.equal((await api('DELETE', `${b.base}/${detached}`)).status, 200);
    await assertCountsTrue('after a link is promoted and another detached');

    assert.equal((await api('DELETE', `/api/v1/parts/${gear}/revisions/${c.id}`)).status, 200);
    await assertCountsTrue('after a revision is deleted with its links');
    assert.equal((await api('DELETE', `/api/v1/parts/${housing}`)).status, 200);
    await assertCountsTrue('after a part is deleted with its revisions and links');

    const many = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        createPart({ description: `concurrent widget ${i}`, classification_id: i % 2 ? CLASS_A : null }),
      ),
    );
    await Promise.all(many.slice(0, 6).map((id) => createRevision(id, 'A')));
    await Promise.all(many.slice(6, 10).map((id) => api('DELETE', `/api/v1/parts/${id}`)));
    await assertCountsTrue('after 16 concurrent creates, 6 revisions and 4 deletes');

    // By SQL: parts, a revision for each tenth of them, and links on those (every third one superseded).
    await sql.query(
      `INSERT INTO parts (id, org_id, part_number, description, classification_id)
       SELECT gen_random_uuid(), $1, 'BULK-' || i, CASE WHEN i % 5 = 0 THEN 'bulk widget' END,
              (ARRAY[$2::uuid, $3::uuid, NULL])[i % 3 + 1]
         FROM generate_series(1, 2000) i`,
      [h.orgId, CLASS_A, CLASS_B],
    );
    await sql.query(
      `INSERT INTO part_revisions (id, org_id, part_id, revision_code)
       SELECT gen_random_uuid(), org_id, id, 'S' FROM parts WHERE org_id = $1 AND part_number LIKE 'BULK-%0'`,
      [h.orgId],
    );
    await sql.query(
      `INSERT INTO uploads (id, org_id, name, status, blob_key, expires_at)
       SELECT gen_random_uuid(), $1, 'bulk' || i, 'pending', 'bulk/' || i, now() + interval '1 hour' FROM generate_series(1, 600) i`,
      [h.orgId],
    );
    await sql.query(
      `INSERT INTO dataset_links (id, org_id, part_revision_id, upload_id, role, is_active)
       SELECT gen_random_uuid(), $1, r.id, u.id, 'spec', u.n % 3 <> 0
         FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM part_revisions WHERE org_id = $1 AND revision_code = 'S') r
         JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n FROM uploads WHERE org_id = $1 AND name LIKE 'bulk%') u
           ON u.n % 200 = r.n`,
      [h.orgId],
    );
    // Some of the SQL-made ones are checked through the API too.
    const { rows: sample } = await sql.query(
      `SELECT DISTINCT r.id, r.part_id FROM part_revisions r JOIN dataset_links l ON l.part_revision_id = r.id
        WHERE r.org_id = $1 AND r.revision_code = 'S' LIMIT 5`,
      [h.orgId],
    );
    assert.ok(sample.length > 0);
    for (const row of sample) {
      revisions.set(row.id, row.part_id);
      parts.add(row.part_id);
    }
    await assertCountsTrue('after bulk inserts of parts, revisions, uploads and links');

    await sql.query('BEGIN');
    await sql.query(`UPDATE parts SET classification_id = $2 WHERE org_id = $1 AND part_number LIKE 'BULK-1%'`, [h.orgId, CLASS_B]);
    await sql.query(`UPDATE dataset_links SET is_active = false, is_primary = false WHERE org_id = $1`, [h.orgId]);
    await sql.query(`DELETE FROM parts WHERE org_id = $1 AND part_number LIKE 'BULK-2%'`, [h.orgId]);
    await sql.query(`DELETE FROM part_revisions WHERE org_id = $1 AND revision_code = 'S' AND part_id::text LIKE 'a%'`, [h.orgId]);
    await sql.query('ROLLBACK');
    await assertCountsTrue('after a transaction that rolled back');

    await sql.query(`UPDATE parts SET classification_id = NULL WHERE org_id = $1 AND part_number LIKE 'BULK-3%'`, [h.orgId]);
    await sql.query(
      `UPDATE dataset_links SET is_active = false, is_primary = false WHERE org_id = $1 AND role = 'spec' AND id::text < '8'`,
      [h.orgId],
    );
    await sql.query(`DELETE FROM parts WHERE org_id = $1 AND part_number LIKE 'BULK-4%'`, [h.orgId]);
    await assertCountsTrue('after bulk changes of classification and activity, and a bulk delete cascading');

    const theirs = await h.api('GET', '/api/v1/parts', { key: h.keys.otherOrg });
    assert.equal(theirs.status, 200);
    assert.equal(theirs.body.count, 0, 'another org counts nothing of this one');
  });

  it('reads every list page through an index in its order, and counts without a scan', async () => {
    // ~100k parts in two orgs, one part with many revisions, one revision with many links (most superseded).
    await sql.query(
      `INSERT INTO parts (id, org_id, part_number, description, classification_id, created_at)
       SELECT gen_random_uuid(), o.id, 'PLAN-' || i, 'plan part ' || i, (ARRAY[$3::uuid, $4::uuid, NULL, NULL, NULL])[i % 5 + 1],
              now() - i * interval '1 second'
         FROM generate_series(1, 50000) i, (VALUES ($1::uuid), ($2::uuid)) o(id)`,
      [h.orgId, h.otherOrgId, CLASS_A, CLASS_B],
    );
    const { rows: chosen } = await sql.query(`SELECT id FROM parts WHERE org_id = $1 AND part_number = 'PLAN-7'`, [h.orgId]);
    const partId = chosen[0].id;
    await sql.query(
      `INSERT INTO part_revisions (id, org_id, part_id, revision_code, created_at)
       SELECT gen_random_uuid(), $1, p.id, 'R' || i, now() - i * interval '1 second'
         FROM generate_series(1, 200) i, (SELECT id FROM parts WHERE org_id = $1 AND part_number IN (SELECT 'PLAN-' || g FROM generate_series(1, 100) g)) p`,
      [h.orgId],
    );
    const { rows: revs } = await sql.query(`SELECT id FROM part_revisions WHERE part_id = $1 LIMIT 1`, [partId]);
    const revisionId = revs[0].id;
    await sql.query(
      `WITH made AS (
         INSERT INTO uploads (id, org_id, name, status, blob_key, expires_at)
         SELECT gen_random_uuid(), $1, 'plan' || i, 'pending', 'plan/' || i, now() + interval '1 hour' FROM generate_series(1, 20000) i
         RETURNING id, name)
       INSERT INTO dataset_links (id, org_id, part_revision_id, upload_id, role, is_active, created_at)
       SELECT gen_random_uuid(), $1, $2, id, 'spec', substr(name, 5)::int % 20 = 0, now() - substr(name, 5)::int * interval '1 second'
         FROM made`,
      [h.orgId, revisionId],
    );
    // VACUUM as autovacuum would: GIN's cost estimate reads the index's size from its metapage, which
    // VACUUM brings up to date (after a bulk insert it still describes the empty index).
    for (const table of ['parts', 'part_revisions', 'dataset_links', 'uploads', 'list_counts']) await sql.query(`VACUUM ANALYZE ${table}`);

    async function plan(query: string, params: unknown[]): Promise<string> {
      const { rows } = await sql.query(`EXPLAIN ${query}`, params);
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    }
    const pages = [
      { what: 'parts', where: 'org_id = $1', params: [h.orgId], index: 'parts_org_created_idx', table: 'parts' },
      {
        what: 'parts by classification',
        where: 'org_id = $1 AND classification_id = $2',
        params: [h.orgId, CLASS_A],
        index: 'parts_org_classification_created_idx',
        table: 'parts',
      },
      {
        what: 'revisions',
        where: 'org_id = $1 AND part_id = $2',
        params: [h.orgId, partId],
        index: 'part_revisions_part_created_idx',
        table: 'part_revisions',
      },
      {
        what: 'active datasets',
        where: 'part_revision_id = $1 AND is_active',
        params: [revisionId],
        index: 'dataset_links_revision_active_created_idx',
        table: 'dataset_links',
      },
      {
        what: 'all datasets',
        where: 'part_revision_id = $1',
        params: [revisionId],
        index: 'dataset_links_revision_created_idx',
        table: 'dataset_links',
      },
    ];
    for (const page of pages) {
      const shown = await plan(
        `SELECT * FROM ${page.table} WHERE ${page.where} ORDER BY created_at DESC, id DESC LIMIT 50 OFFSET 0`,
        page.params,
      );
      assert.doesNotMatch(shown, /Seq Scan|Sort/, `${page.what}:\n${shown}`);
      assert.match(shown, new RegExp(`Index Scan using ${page.index} on ${page.table}`), `${page.what}:\n${shown}`);
    }

    // A search is counted through its trigram index; its page never reads the org's table whole.
    const term = '%PLAN-4242%';
    const match = 'org_id = $1 AND (part_number ILIKE $2 OR description ILIKE $2)';
    const counted = await plan(`SELECT count(*) FROM parts WHERE ${match}`, [h.orgId, term]);
    assert.match(counted, /Bitmap Index Scan on parts_search_idx/, counted);
    for (const q of [term, '%plan part%']) {
      const shown = await plan(`SELECT * FROM parts WHERE ${match} ORDER BY created_at DESC, id DESC LIMIT 50`, [h.orgId, q]);
      assert.doesNotMatch(shown, /Seq Scan/, `q ${q}:\n${shown}`);
    }

    // The counters: a few rows found through the primary key (list_counts is small here, where a scan costs nothing).
    await sql.query('SET enable_seqscan = off');
    const counter = await plan(`SELECT sum(n) FROM list_counts WHERE org_id = $1 AND list = 'parts' AND scope = $2`, [
      h.orgId,
      '00000000-0000-0000-0000-000000000000',
    ]);
    await sql.query('RESET enable_seqscan');
    assert.match(counter, /list_counts_pkey/, counter);

    // And the API's answers agree with a real count at this size.
    const all = await api('GET', '/api/v1/parts?limit=1');
    assert.equal(all.body.count, await scanCount('parts', 'true'));
    const links = await api('GET', `/api/v1/parts/${partId}/revisions/${revisionId}/datasets?limit=50&offset=100&include_inactive=true`);
    assert.equal(links.status, 200, JSON.stringify(links.body));
    assert.equal(links.body.count, 20000);
    assert.equal(links.body.data.length, 50);
    const active = await api('GET', `/api/v1/parts/${partId}/revisions/${revisionId}/datasets?limit=1`);
    assert.equal(active.body.count, 1000);
  });
});
