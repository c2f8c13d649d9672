/**
 * Every list pages by keyset `cursor` beside limit/offset: a walk by cursor meets exactly the rows a
 * walk by offset meets, in the same order, rows sharing a timestamp (to the microsecond) told apart by
 * id; a row deleted after its cursor was issued does not break the walk, and rows added at the head
 * meanwhile do not shift it; a cursor that is not this list's is a 422 before it reaches SQL; and each
 * list's cursor query, as its repo sends it, is one index range in the list's order, never a sort.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import pg from 'pg';
import { type KeyValues, type Keyset, decodeCursor, encodeCursor } from '../src/db/keyset.js';
import type { Database } from '../src/db/schema.js';
import { DATASETS_KEYSET, datasetRepo } from '../src/modules/datasets/repo.js';
import { FILES_KEYSET, VERSIONS_KEYSET, filesRepo } from '../src/modules/files/repo.js';
import { FOLDERS_KEYSET, folderRepo } from '../src/modules/folders/repo.js';
import { PARTS_KEYSET, partRepo } from '../src/modules/parts/repo.js';
import { READINGS_KEYSET, readingsRepo } from '../src/modules/readings/repo.js';
import { REVISIONS_KEYSET, revisionRepo } from '../src/modules/revisions/repo.js';
import { UPLOADS_KEYSET, uploadsRepo } from '../src/modules/uploads/repo.js';
import { DELIVERIES_KEYSET, deliveriesRepo } from '../src/modules/webhooks/repo.js';
import { assertInvalid } from './helpers/assertions.js';
import { type Harness, startStowage } from './helpers/harness.js';
import { QuerySpy } from './helpers/query-spy.js';

/** Rows per list; every 4 share a created_at, the groups 1 µs apart (one JS millisecond holds them all). */
const ROWS = 22;
const LIMIT = 4;
const BASE = '2026-03-01T10:00:00.000100Z';
const at = (i: string) => `'${BASE}'::timestamptz + ((${i}) / 4) * interval '1 microsecond'`;

/** An upload goes with the dataset links naming it (theirs is no cascade: the API refuses such a purge). */
const UNLINK_UPLOAD = 'WITH l AS (DELETE FROM dataset_links WHERE upload_id = $1) DELETE FROM uploads WHERE id = $1';

interface ListCase {
  name: string;
  path: string;
  /** Deletes a row of the list ($1: its id) behind the walk's back. */
  remove?: string;
  /** Adds `n` rows at the head of the list (newest, or first by name), in one statement. */
  addHead?: (n: number) => Promise<void>;
}

describe('keyset cursors on every list', () => {
  let h: Harness;
  let key: string;
  let sql: pg.Client;
  let queries: QuerySpy;
  let spy: Kysely<Database>;
  const ids: Record<string, string> = {};
  const cases: ListCase[] = [];

  const get = async (path: string) => {
    const answer = await h.api('GET', path, { key });
    assert.equal(answer.status, 200, `${path}: ${JSON.stringify(answer.body)}`);
    return answer.body as { count: number; data: { id?: string; ver?: number }[]; next_cursor: string | null };
  };
  const idOf = (row: { id?: string; ver?: number }) => String(row.id ?? row.ver);
  const withQuery = (path: string, extra: string) => `${path}${path.includes('?') ? '&' : '?'}${extra}`;

  /** Walks by offset; every page's next_cursor is a string but on the last. */
  async function walkByOffset(path: string) {
    const seen: string[] = [];
    for (let offset = 0; ; offset += LIMIT) {
      const page = await get(withQuery(path, `limit=${LIMIT}&offset=${offset}`));
      seen.push(...page.data.map(idOf));
      const last = offset + page.data.length >= page.count;
      assert.equal(page.next_cursor === null, last, `${path} at offset ${offset}: next_cursor null only on the last page`);
      if (last) return { ids: seen, count: page.count };
      assert.ok(offset < 1000, 'the walk ends');
    }
  }

  /** Walks by cursor from the head, or from `cursor`; `between` runs after the first page. */
  async function walkByCursor(path: string, options: { cursor?: string; between?: (firstPage: string[]) => Promise<void> } = {}) {
    const seen: string[] = [];
    let cursor = options.cursor ?? null;
    for (let pages = 0; ; pages++) {
      const page = await get(withQuery(path, `limit=${LIMIT}${cursor ? `&cursor=${cursor}` : ''}`));
      seen.push(...page.data.map(idOf));
      if (pages === 0 && options.between) await options.between(page.data.map(idOf));
      if (page.next_cursor === null) return seen;
      assert.equal(page.data.length, LIMIT, `${path}: a page before the last is full`);
      cursor = page.next_cursor;
      assert.ok(pages < 300, 'the walk ends');
    }
  }

  before(async () => {
    h = await startStowage({ RATE_LIMIT_ENABLED: 'false' }, { worker: false, storage: 'local' });
    key = await h.createKey(h.orgId, ['admin']);
    sql = new pg.Client({ connectionString: h.databaseUrl });
    await sql.connect();
    queries = new QuerySpy(h.databaseUrl);
    spy = queries.db;
    const org = h.orgId;
    const one = async (text: string, values: unknown[] = []) => (await sql.query(text, [org, ...values])).rows;

    // Uploads (also the bytes of the links, readings and versions below), named for the search.
    await one(
      `INSERT INTO uploads (id, org_id, name, blob_key, expires_at, status, created_at)
       SELECT gen_random_uuid(), $1, 'cursorword ' || i || '.txt', 'cursor/' || i, now() + interval '1 day', 'confirmed', ${at('i')}
         FROM generate_series(1, ${ROWS}) i`,
    );
    const uploads = (await one('SELECT id FROM uploads WHERE org_id = $1 ORDER BY name')).map((r) => r.id as string);
    await one(
      `INSERT INTO parts (id, org_id, part_number, created_at)
       SELECT gen_random_uuid(), $1, 'CURSOR-' || i, ${at('i')} FROM generate_series(1, ${ROWS}) i`,
    );
    ids.part = (await one(`SELECT id FROM parts WHERE org_id = $1 AND part_number = 'CURSOR-1'`))[0].id;
    await one(
      `INSERT INTO part_revisions (id, org_id, part_id, revision_code, created_at)
       SELECT gen_random_uuid(), $1, $2, 'R' || i, ${at('i')} FROM generate_series(1, ${ROWS}) i`,
      [ids.part],
    );
    ids.revision = (
      await one(`SELECT id FROM part_revisions WHERE org_id = $1 AND part_id = $2 AND revision_code = 'R1'`, [ids.part])
    )[0].id;
    await one(
      `INSERT INTO dataset_links (id, org_id, part_revision_id, upload_id, role, is_active, created_at)
       SELECT gen_random_uuid(), $1, $2, u, 'document', true, ${at('n')}
         FROM unnest($3::uuid[]) WITH ORDINALITY AS t(u, n)`,
      [ids.revision, uploads],
    );
    await one(
      `INSERT INTO files (id, org_id, status, filename, label, created_at)
       SELECT gen_random_uuid(), $1, 'pending', 'cursorfile-' || i, 'cursorfile-' || i, ${at('i')} FROM generate_series(1, ${ROWS}) i`,
    );
    ids.file = (await one(`SELECT id FROM files WHERE org_id = $1 AND filename = 'cursorfile-1'`))[0].id;
    await one(
      `INSERT INTO file_versions (file_id, ver, org_id, cid, prev_cid, ts, edited_by, properties, relationships, upload_id)
       SELECT $2, v, $1, 'cid-' || v, CASE WHEN v > 1 THEN 'cid-' || (v - 1) END, 0, '{"method": "api", "user_id": null, "user_label": null}', '{}', '[]', $3 FROM generate_series(1, ${ROWS}) v`,
      [ids.file, uploads[0]],
    );
    await one(`UPDATE files SET ver = ${ROWS}, cid = 'cid-${ROWS}', status = 'ready' WHERE org_id = $1 AND id = $2`, [ids.file]);
    // Folder names in an order only the collation decides: case and accents mixed.
    await one(
      `INSERT INTO folders (id, org_id, parent_id, name)
       SELECT gen_random_uuid(), $1, NULL, n FROM unnest($2::text[]) n`,
      [['a', 'B', 'c', 'É', 'e', 'f 1', 'f 10', 'f 2', 'g', 'G!', 'h', 'i', 'J', 'k', 'l', 'm', 'N', 'o', 'p', 'q', 'r', 'zz']],
    );
    await one(
      `INSERT INTO readings (id, org_id, upload_id, kind, job_id, status, created_at)
       SELECT gen_random_uuid(), $1, u, 'text', gen_random_uuid(), 'pending', ${at('n')}
         FROM unnest($2::uuid[]) WITH ORDINALITY AS t(u, n)`,
      [uploads],
    );
    ids.webhook = (
      await one(
        `INSERT INTO webhooks (id, org_id, url, events, secret) VALUES (gen_random_uuid(), $1, 'https://example.com/h', '{*}', 's') RETURNING id`,
      )
    )[0].id;
    await one(
      `WITH e AS (
         INSERT INTO webhook_events (id, org_id, type, subject_id, sequence, data)
         SELECT gen_random_uuid(), $1, 'upload.confirmed', gen_random_uuid(), 1, '{}' FROM generate_series(1, ${ROWS}) RETURNING id)
       INSERT INTO webhook_deliveries (id, org_id, webhook_id, event_id, created_at)
       SELECT gen_random_uuid(), $1, $2, e.id, ${at('row_number() OVER ()')} FROM e`,
      [ids.webhook],
    );

    const headOf = (table: string, columns: string, values: string) => async (n: number) => {
      await one(`INSERT INTO ${table} (${columns}) SELECT ${values} FROM generate_series(1, ${n}) i`);
    };
    cases.push(
      {
        name: 'uploads',
        path: '/api/v1/uploads',
        remove: UNLINK_UPLOAD,
        addHead: headOf(
          'uploads',
          'id, org_id, name, blob_key, expires_at',
          `gen_random_uuid(), $1, 'head', 'head/' || i, now() + interval '1 day'`,
        ),
      },
      { name: 'uploads by status', path: '/api/v1/uploads?status=confirmed', remove: UNLINK_UPLOAD },
      {
        name: 'parts',
        path: '/api/v1/parts',
        remove: 'DELETE FROM parts WHERE id = $1',
        addHead: headOf('parts', 'id, org_id, part_number', `gen_random_uuid(), $1, 'HEAD-' || i || '-' || gen_random_uuid()`),
      },
      { name: 'parts by q', path: '/api/v1/parts?q=cursor-', remove: 'DELETE FROM parts WHERE id = $1' },
      { name: 'revisions', path: `/api/v1/parts/${ids.part}/revisions`, remove: 'DELETE FROM part_revisions WHERE id = $1' },
      {
        name: 'datasets',
        path: `/api/v1/parts/${ids.part}/revisions/${ids.revision}/datasets`,
        remove: 'DELETE FROM dataset_links WHERE id = $1',
      },
      {
        name: 'files',
        path: '/api/v1/files',
        remove: 'DELETE FROM files WHERE id = $1',
        addHead: headOf('files', 'id, org_id, status, filename, label', `gen_random_uuid(), $1, 'pending', 'head', 'head'`),
      },
      { name: 'files by q', path: '/api/v1/files?q=cursorfile', remove: 'DELETE FROM files WHERE id = $1' },
      { name: 'file versions', path: `/api/v1/files/${ids.file}/versions` },
      {
        name: 'folders',
        path: '/api/v1/folders',
        remove: 'DELETE FROM folders WHERE id = $1',
        addHead: headOf('folders', 'id, org_id, name', `gen_random_uuid(), $1, '0 head ' || i`),
      },
      { name: 'readings', path: '/api/v1/readings', remove: 'DELETE FROM readings WHERE id = $1' },
      { name: 'readings by kind', path: '/api/v1/readings?kind=text&status=pending', remove: 'DELETE FROM readings WHERE id = $1' },
      {
        name: 'webhook deliveries',
        path: `/api/v1/webhooks/${ids.webhook}/deliveries`,
        remove: 'DELETE FROM webhook_deliveries WHERE id = $1',
      },
      { name: 'search', path: '/api/v1/search?q=cursorword' },
    );
  });
  after(async () => {
    await queries?.close();
    await sql?.end();
    await h?.close();
  });

  it('a walk by cursor meets every row a walk by offset meets, once each, in the same order; ties decided by id', async () => {
    for (const list of cases) {
      const byOffset = await walkByOffset(list.path);
      assert.ok(byOffset.ids.length >= ROWS, `${list.name}: seeded rows listed (${byOffset.ids.length})`);
      assert.equal(byOffset.ids.length, byOffset.count, `${list.name}: count is every row`);
      assert.equal(new Set(byOffset.ids).size, byOffset.ids.length, `${list.name}: no row twice by offset`);
      assert.deepEqual(await walkByCursor(list.path), byOffset.ids, `${list.name}: the cursor walk`);
    }
    // The seeds shared timestamps: four rows per microsecond, all in one millisecond.
    const { rows } = await sql.query(
      `SELECT count(DISTINCT created_at)::int AS distinct_at, count(*)::int AS n FROM uploads WHERE org_id = $1 AND name LIKE 'cursorword%'`,
      [h.orgId],
    );
    assert.equal(rows[0].n, ROWS);
    assert.equal(rows[0].distinct_at, Math.ceil((ROWS + 1) / 4));
    // A limit past the end: one page, no cursor.
    const whole = await get('/api/v1/folders?limit=200');
    assert.equal(whole.next_cursor, null);
    assert.equal(whole.data.length, whole.count);
  });

  it('continues past a row deleted after its cursor was issued, and rows added at the head do not shift it', async () => {
    for (const list of cases.filter((c) => c.remove)) {
      const before = (await walkByOffset(list.path)).ids;
      // The first page's last row — the one the cursor names — goes before the next page is read.
      let gone = '';
      const walked = await walkByCursor(list.path, {
        between: async (firstPage) => {
          gone = firstPage[firstPage.length - 1];
          await sql.query(list.remove!, [gone]);
        },
      });
      // The deleted row was shown on the first page, before it went: the walk is the one before.
      assert.deepEqual(walked, before, `${list.name}: the walk past a deleted cursor row`);
      assert.ok(!(await walkByOffset(list.path)).ids.includes(gone), `${list.name}: the row is gone`);
    }
    for (const list of cases.filter((c) => c.addHead)) {
      const before = (await walkByOffset(list.path)).ids;
      const walked = await walkByCursor(list.path, { between: () => list.addHead!(3) });
      assert.deepEqual(walked, before, `${list.name}: rows added at the head do not shift a cursor walk`);
      // An offset walk would have: its second page now starts 3 rows earlier.
      const second = await get(withQuery(list.path, `limit=${LIMIT}&offset=${LIMIT}`));
      assert.notDeepEqual(second.data.map(idOf), before.slice(LIMIT, 2 * LIMIT), `${list.name}: an offset page did shift`);
    }
  });

  it('a page by offset hands on a cursor that continues it', async () => {
    for (const list of cases) {
      const all = (await walkByOffset(list.path)).ids;
      const third = await get(withQuery(list.path, `limit=${LIMIT}&offset=${2 * LIMIT}`));
      assert.ok(third.next_cursor, `${list.name}: a cursor after the third page`);
      assert.deepEqual(
        await walkByCursor(list.path, { cursor: third.next_cursor! }),
        all.slice(3 * LIMIT),
        `${list.name}: continued by cursor`,
      );
    }
  });

  it('refuses (422 on querystring.cursor) a malformed cursor, another list’s, a key of the wrong type, and a cursor with an offset', async () => {
    const raw = (value: unknown[]) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const uploadCursor = (await get('/api/v1/uploads?limit=1')).next_cursor!;
    const folderCursor = (await get('/api/v1/folders?limit=1')).next_cursor!;
    const refused: [string, string][] = [
      ['/api/v1/uploads?cursor=not%20a%20cursor', 'not base64url'],
      ['/api/v1/uploads?cursor=abc', 'base64url of no JSON'],
      [`/api/v1/uploads?cursor=${raw({ a: 1 } as unknown as unknown[])}`, 'JSON but not a cursor'],
      [`/api/v1/uploads?cursor=${'A'.repeat(2000)}`, 'too long'],
      [`/api/v1/uploads?cursor=${folderCursor}`, 'a cursor of the folders list'],
      [`/api/v1/folders?cursor=${uploadCursor}`, 'a cursor of the uploads list'],
      [`/api/v1/uploads?cursor=${raw(['uploads', 'yesterday', '0190d7c4-0000-7000-8000-00000000f01d'])}`, 'a timestamp that is not one'],
      [`/api/v1/uploads?cursor=${raw(['uploads', '2026-02-30T00:00:00.000000Z', '0190d7c4-0000-7000-8000-00000000f01d'])}`, '30 February'],
      [`/api/v1/uploads?cursor=${raw(['uploads', '2026-01-01T00:00:00.000000Z', 'not-a-uuid'])}`, 'an id that is no uuid'],
      [`/api/v1/uploads?cursor=${raw(['uploads', 1700000000000, '0190d7c4-0000-7000-8000-00000000f01d'])}`, 'a number for a timestamp'],
      [`/api/v1/uploads?cursor=${raw(['uploads', '2026-01-01T00:00:00.000000Z'])}`, 'a key too short'],
      [`/api/v1/files/${ids.file}/versions?cursor=${raw(['file_versions', 2 ** 31])}`, 'a version past int4'],
      [`/api/v1/files/${ids.file}/versions?cursor=${raw(['file_versions', '3'])}`, 'a version as text'],
      [`/api/v1/folders?cursor=${raw(['folders', 'a\u0000b', '0190d7c4-0000-7000-8000-00000000f01d'])}`, 'a name with NUL'],
      [`/api/v1/search?q=cursorword&cursor=${raw(['search', 'high', '0190d7c4-0000-7000-8000-00000000f01d'])}`, 'a rank as text'],
      [`/api/v1/uploads?offset=4&cursor=${uploadCursor}`, 'with an offset'],
    ];
    for (const [path, what] of refused) assertInvalid(await h.api('GET', path, { key }), 'querystring.cursor', what);
    // offset=0 with a cursor is the cursor's page.
    assert.equal((await h.api('GET', `/api/v1/uploads?offset=0&cursor=${uploadCursor}`, { key })).status, 200);
    // Another org's cursor names only sort values: here it pages this org's own rows, from that key on.
    const theirs = await h.api('GET', `/api/v1/uploads?limit=1&cursor=${uploadCursor}`, { key: h.keys.otherOrg });
    assert.equal(theirs.status, 200, JSON.stringify(theirs.body));
    assert.deepEqual(theirs.body.data, []);
    assert.equal(theirs.body.next_cursor, null);
  });

  it('round-trips a key exactly: microseconds and ids survive, a JS Date would not', () => {
    const key: KeyValues = ['2026-03-01T10:00:00.000101Z', '0190d7c4-0000-7000-8000-00000000f01d'];
    assert.deepEqual(decodeCursor(UPLOADS_KEYSET, encodeCursor(UPLOADS_KEYSET, key)), key);
    assert.throws(() => decodeCursor(PARTS_KEYSET, encodeCursor(UPLOADS_KEYSET, key)), /another list/);
  });

  it("each list's cursor query, as its repo sends it, walks an index in the list's order: no Seq Scan, no Sort, the key in the Index Cond", async () => {
    const org = h.orgId;
    // A deep key, as a cursor half-way down would name it; the plan is the same for the first page.
    const deep = (keyset: Keyset): KeyValues =>
      keyset.columns.map((c) =>
        c.kind === 'timestamp' ? BASE : c.kind === 'uuid' ? '80000000-0000-4000-8000-000000000000' : c.kind === 'integer' ? 10 : 'm',
      );
    const page = (keyset: Keyset | null) => ({ limit: 50, offset: 0, after: keyset ? deep(keyset) : null });
    const plans: [string, Keyset, (k: Keyset | null) => Promise<unknown>, RegExp][] = [
      [
        'uploads',
        UPLOADS_KEYSET,
        (k) => uploadsRepo.list(spy, org, { includeCancelled: false, includeDeleted: false, ...page(k) }),
        /uploads_org_created_idx/,
      ],
      [
        'uploads by status',
        UPLOADS_KEYSET,
        (k) => uploadsRepo.list(spy, org, { includeCancelled: false, includeDeleted: false, status: 'failed', ...page(k) }),
        /uploads_org_status_created_idx/,
      ],
      ['parts', PARTS_KEYSET, (k) => partRepo.list(spy, org, page(k)), /parts_org_created_idx/],
      [
        'parts by classification',
        PARTS_KEYSET,
        (k) => partRepo.list(spy, org, { classificationId: '80000000-0000-4000-8000-000000000000', ...page(k) }),
        /parts_org_classification_created_idx/,
      ],
      ['revisions', REVISIONS_KEYSET, (k) => revisionRepo.list(spy, org, ids.part, page(k)), /part_revisions_part_created_idx/],
      [
        'datasets',
        DATASETS_KEYSET,
        (k) => datasetRepo.list(spy, ids.revision, { includeInactive: false, ...page(k) }),
        /dataset_links_revision_active_created_idx/,
      ],
      [
        'datasets with inactive',
        DATASETS_KEYSET,
        (k) => datasetRepo.list(spy, ids.revision, { includeInactive: true, ...page(k) }),
        /dataset_links_revision_created_idx/,
      ],
      ['files', FILES_KEYSET, (k) => filesRepo.list(spy, org, { includeDeleted: false, ...page(k) }), /files_list_idx/],
      [
        'files in a folder',
        FILES_KEYSET,
        (k) => filesRepo.list(spy, org, { includeDeleted: false, folderId: '80000000-0000-4000-8000-000000000000', ...page(k) }),
        /files_folder_idx/,
      ],
      ['file versions', VERSIONS_KEYSET, (k) => filesRepo.versions(spy, ids.file, page(k)), /file_versions_pkey/],
      ['folders at the root', FOLDERS_KEYSET, (k) => folderRepo.listChildren(spy, org, null, page(k)), /folders_root_idx/],
      [
        'folders in a folder',
        FOLDERS_KEYSET,
        (k) => folderRepo.listChildren(spy, org, '80000000-0000-4000-8000-000000000000', page(k)),
        /folders_children_idx/,
      ],
      ['readings', READINGS_KEYSET, (k) => readingsRepo.list(spy, org, {}, page(k)), /readings_list_idx/],
      ['readings by kind', READINGS_KEYSET, (k) => readingsRepo.list(spy, org, { kind: 'pdf' }, page(k)), /readings_kind_idx/],
      ['readings by status', READINGS_KEYSET, (k) => readingsRepo.list(spy, org, { status: 'failed' }, page(k)), /readings_status_idx/],
      ['webhook deliveries', DELIVERIES_KEYSET, (k) => deliveriesRepo.list(spy, org, ids.webhook, page(k)), /webhook_deliveries_list_idx/],
      [
        'webhook deliveries by status',
        DELIVERIES_KEYSET,
        (k) => deliveriesRepo.list(spy, org, ids.webhook, { status: 'failed', ...page(k) }),
        /webhook_deliveries_status_idx/,
      ],
    ];
    for (const table of [
      'uploads',
      'parts',
      'part_revisions',
      'dataset_links',
      'files',
      'file_versions',
      'folders',
      'readings',
      'webhook_deliveries',
    ]) {
      await sql.query(`ANALYZE ${table}`);
    }
    // At this size a scan and a sort cost nothing and the planner may take them; what is checked is that
    // an index answers each page in order, which is what it takes at 1M rows (bench/scale.ts).
    await sql.query('SET enable_seqscan = off');
    await sql.query('SET enable_bitmapscan = off');
    await sql.query('SET enable_sort = off');
    try {
      for (const [name, keyset, run, index] of plans) {
        for (const keyed of [null, keyset]) {
          const query = await queries.first(
            () => run(keyed),
            (q) => q.sql.includes('cursor_key'),
          );
          assert.ok(query, `${name}: the page query was sent`);
          const { rows } = await sql.query(`EXPLAIN ${query.sql}`, query.parameters as unknown[]);
          const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
          const what = `${name} ${keyed ? 'after a cursor' : 'first page'}:\n${query.sql}\n${plan}`;
          assert.doesNotMatch(plan, /Seq Scan|Sort/, what);
          assert.match(plan, index, what);
          if (keyed) {
            const first = keyset.columns[0].ref.replace(/^\w+\./, '');
            assert.match(
              plan,
              new RegExp(`Index Cond: .*ROW\\(.*${first}|Index Cond: .*${first} <`),
              `${what}\n(the key bounds the index range)`,
            );
          }
        }
      }
    } finally {
      await sql.query('RESET enable_seqscan');
      await sql.query('RESET enable_bitmapscan');
      await sql.query('RESET enable_sort');
    }
  });
});
