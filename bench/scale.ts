/**
 * `npm run bench:scale`: the SPEC's list rule (p99 under 20 ms with 1M rows in one org, on every filter a
 * list offers; `count` must not cost a scan of the org) for every list the API offers and the uploads
 * summary, and the 1M org's p50 within 2 × a 10k org's in the same run (issue 13, parts 1 and 2).
 *
 *   node --import tsx bench/scale.ts [--quick] [--only <route-prefix>]
 *
 * The built server (`npm run build`, then `dist/cli.js serve`: the API alone, so no job changes rows
 * under the measurements) on a scratch database. Two orgs are seeded straight in SQL (generate_series in
 * batches, triggers on, so the counters are kept as the API would keep them; the API would take hours):
 *
 *   per org, ROWS of each org-wide list: uploads (60 % confirmed, 14 % pending, 13 % failed, 13 %
 *   cancelled, 2 % of the confirmed and failed in the trash), parts (8 classifications), files (a quarter
 *   in one folder, 2 % in the trash, each with its version 1), readings (one per upload; 40 % pdf; 70 %
 *   ready, 15 % pending, 15 % failed) and deliveries of one webhook (70 % succeeded, 15 % failed, 15 %
 *   pending, due in 30 days);
 *   per org, SCOPED rows under one parent: the revisions of one part, the dataset links of one of its
 *   revisions (80 % active), the versions of one file (metadata edits: all on one upload), the folders
 *   at the root, and the children of one folder.
 *
 * The big org has BENCH_ROWS and BENCH_SCOPED of those, the small org BENCH_SMALL of both. Every share
 * above leaves the small org a page at ?offset=1000. Then VACUUM ANALYZE, and over real HTTP,
 * sequentially, after a warm-up, BENCH_REQUESTS requests of every list variant (each filter; the first
 * page, ?offset=1000, and — when the server answers a `next_cursor` — the page after following the
 * cursor 20 pages) and of the summary, the two orgs alternating request by request. After the table,
 * each count is checked against count(*) in SQL, and for each route that missed its target the
 * EXPLAIN (ANALYZE, BUFFERS) of its page (and scanned count) query at the big org, rebuilt here from
 * the repository's query.
 *
 * Options:
 *   --quick              100k rows and 20k scoped rows in the big org, 50 requests: for development
 *   --keep-db            leave the scratch database (on DATABASE_URL) for EXPLAIN afterwards; drop it yourself
 *   --seed-only          seed, keep the database and stop: the seed (minutes, and heavy) can run while the
 *                        machine is busy, the measuring later on a quiet one
 *   --reuse-db <name>    measure on a database kept by --seed-only or --keep-db (same size options), no seeding
 *   --only <prefix>      only the routes whose name or path starts with it (`parts`, `files q`,
 *                        `/api/v1/readings`); only the tables they read are seeded (and uploads)
 * Environment:
 *   BENCH_ROWS      rows of each org-wide list in the big org (default 1,000,000; BENCH_UPLOADS is read too)
 *   BENCH_SCOPED    rows under the one part, revision, file, root and folder in the big org (default 200,000)
 *   BENCH_SMALL     rows of each list in the small org (default 10,000)
 *   BENCH_REQUESTS  measured requests per route and org (default 200)
 *   BENCH_ROUTE_SECONDS  a route's measurement stops after this long, with the requests it made (default 40)
 *   BENCH_FROM_SOURCE=1  run src/cli.ts under tsx instead of building dist/
 *   DATABASE_URL    a PostgreSQL server to use (a scratch database is created and dropped on it);
 *                   unset: an embedded server is started in a temporary folder and stopped at the end
 *
 * Exit code: 0 when the run worked, whatever the target says (it is a benchmark, not a test);
 * 1 when the run itself is invalid (a request failed or answered no rows); 2 on a crash.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import {
  DIST_CLI,
  InvalidRun,
  beforeStartLine,
  buildDist,
  busyCoresBeforeStart,
  envInt,
  fmt,
  machineLine,
  onCleanup,
  openPostgres,
  percentiles,
  runBenchmark,
  startServerChild,
  verdict,
  scratchDatabase,
} from './lib.js';

const TARGET_P99_MS = 20;
const TARGET_RATIO = 2;
const DEEP_OFFSET = 1000;
const CURSOR_PAGES = 20;
const LIMIT = 50;
const BATCH = 100_000;
/**
 * Rows under each scoped parent in the big org by default: 1M under each of the five (5M rows more) took
 * the seed past 8 minutes on the 2-core machine; 200k still shows a list that grows with its parent.
 */
const DEFAULT_SCOPED = 200_000;
const STATUSES = ['pending', 'confirmed', 'failed', 'cancelled'] as const;
const TYPES = [
  'application/pdf',
  'image/png',
  'image/jpeg',
  'text/csv',
  'text/plain',
  'application/zip',
  'model/step',
  'model/stl',
  'application/json',
  'video/mp4',
  'application/vnd.ms-excel',
  'application/octet-stream',
];
/** Part descriptions: each word in an eighth of the parts; PART_TERM is the `q` measured. */
const PART_WORDS = ['bracket', 'gearbox', 'housing', 'shaft', 'flange', 'gasket', 'sprocket', 'coupling'];
const PART_TERM = 'gearbox';
/** File labels, likewise. */
const FILE_WORDS = ['drawing', 'report', 'invoice', 'datasheet', 'photo', 'manual', 'certificate', 'schedule'];
const FILE_TERM = 'datasheet';

type Family = 'uploads' | 'parts' | 'files' | 'readings' | 'webhooks';

interface Org {
  label: string;
  name: string;
  /** Rows of each org-wide list, and under each scoped parent. */
  rows: number;
  scoped: number;
  key: string;
  id: string;
}

/** The seeded rows' ids are md5(org name : kind : n) as a uuid, so SQL and this file name the same rows. */
const idOf = (org: Org, what: string) => {
  const h = createHash('md5').update(`${org.name}:${what}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};
const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** The parents the scoped lists hang from, and the rows single-row filters name. */
const scopes = (o: Org) => ({
  part: idOf(o, 'p:1'),
  revision: idOf(o, 'r:1'),
  classification: idOf(o, 'c:0'),
  hub: idOf(o, 'f:1'),
  deepFile: idOf(o, 'F:1'),
  plainFile: idOf(o, 'F:2'),
  upload: idOf(o, 'u:5'),
  webhook: idOf(o, 'W'),
});

interface Route {
  family: Family;
  name: string;
  path: (o: Org) => string;
  /** First page, ?offset=1000 and the cursor page: false for filters that name a single row. */
  paged: boolean;
  /** Seeded rows of other families it names (a readings filter names a file). */
  needs?: Family[];
  /** The page query as the repository builds it, for count(*) and EXPLAIN; null for the summary. */
  sql: null | {
    table: string;
    where: (o: Org) => string;
    order: string;
    /** The route counts with a query (not a counter): its count is explained too. */
    countScans?: boolean;
    /** The answer's count stops at a cap: not compared with count(*). */
    capped?: boolean;
    /** A query the service makes first, to learn the page query's values (explained too). */
    before?: (o: Org) => string;
  };
}

/** Every list the API offers, and each filter it takes, as the repositories turn them into conditions. */
function allRoutes(): Route[] {
  const uploads: Route[] = [false, true].flatMap((includeDeleted) => {
    const trash = includeDeleted ? 'true' : 'deleted_at IS NULL';
    const flag = includeDeleted ? '&include_deleted=true' : '';
    const name = (s: string) => `uploads ${includeDeleted ? `${s} +deleted` : s}`;
    const list = (n: string, query: string, where: string): Route => ({
      family: 'uploads',
      name: name(n),
      path: () => `/api/v1/uploads/?limit=${LIMIT}${flag}${query}`,
      paged: true,
      sql: { table: 'uploads', where: (o) => `org_id = ${lit(o.id)} AND ${trash} AND ${where}`, order: 'created_at DESC, id DESC' },
    });
    return [
      list('default', '', `status <> 'cancelled'`),
      list('+cancelled', '&include_cancelled=true', 'true'),
      ...STATUSES.map((s) => list(`status=${s}`, `&status=${s}`, `status = '${s}'`)),
    ];
  });
  const byDate = 'created_at DESC, id DESC';
  const list = (family: Family, name: string, path: (o: Org) => string, sql: Route['sql'], paged = true, needs?: Family[]): Route => ({
    family,
    name,
    path,
    paged,
    sql,
    needs,
  });
  const org = (o: Org) => `org_id = ${lit(o.id)}`;
  const s = scopes;
  const partQ = `(part_number ILIKE '%${PART_TERM}%' OR description ILIKE '%${PART_TERM}%')`;
  const fileQ = `(filename ILIKE '%${FILE_TERM}%' OR label ILIKE '%${FILE_TERM}%')`;
  const parts = '/api/v1/parts/';
  const revisions = (o: Org) => `/api/v1/parts/${s(o).part}/revisions`;
  const datasets = (o: Org) => `${revisions(o)}/${s(o).revision}/datasets`;
  const deliveries = (o: Org) => `/api/v1/webhooks/${s(o).webhook}/deliveries`;
  // readings?file_id: the uploads whose bytes the file's versions hold, then their readings (readings/repo.ts).
  const uploadsOfFile = (o: Org, file: string) =>
    `SELECT DISTINCT upload_id FROM file_versions WHERE file_id = ${lit(file)} AND org_id = ${lit(o.id)}`;
  const readings = (where: string) => ({ table: 'readings', where: (o: Org) => `${org(o)}${where}`, order: byDate });
  return [
    ...uploads,
    { family: 'uploads', name: 'uploads summary', path: () => '/api/v1/uploads/summary', paged: false, sql: null },
    list('parts', 'parts', () => `${parts}?limit=${LIMIT}`, { table: 'parts', where: org, order: byDate }),
    list('parts', 'parts classification_id', (o) => `${parts}?limit=${LIMIT}&classification_id=${s(o).classification}`, {
      table: 'parts',
      where: (o) => `${org(o)} AND classification_id = ${lit(s(o).classification)}`,
      order: byDate,
    }),
    list('parts', `parts q=${PART_TERM}`, () => `${parts}?limit=${LIMIT}&q=${PART_TERM}`, {
      table: 'parts',
      where: (o) => `${org(o)} AND ${partQ}`,
      order: byDate,
      countScans: true,
      capped: true,
    }),
    list('parts', 'revisions of 1 part', (o) => `${revisions(o)}?limit=${LIMIT}`, {
      table: 'part_revisions',
      where: (o) => `${org(o)} AND part_id = ${lit(s(o).part)}`,
      order: byDate,
    }),
    list('parts', 'datasets of 1 revision', (o) => `${datasets(o)}?limit=${LIMIT}`, {
      table: 'dataset_links',
      where: (o) => `part_revision_id = ${lit(s(o).revision)} AND is_active`,
      order: byDate,
    }),
    list('parts', 'datasets include_inactive', (o) => `${datasets(o)}?limit=${LIMIT}&include_inactive=true`, {
      table: 'dataset_links',
      where: (o) => `part_revision_id = ${lit(s(o).revision)}`,
      order: byDate,
    }),
    list('files', 'files', () => `/api/v1/files/?limit=${LIMIT}`, {
      table: 'files',
      where: (o) => `${org(o)} AND deleted_at IS NULL`,
      order: byDate,
    }),
    list('files', 'files folder_id', (o) => `/api/v1/files/?limit=${LIMIT}&folder_id=${s(o).hub}`, {
      table: 'files',
      where: (o) => `${org(o)} AND deleted_at IS NULL AND folder_id = ${lit(s(o).hub)}`,
      order: byDate,
    }),
    list('files', 'files include_deleted', () => `/api/v1/files/?limit=${LIMIT}&include_deleted=true`, {
      table: 'files',
      where: org,
      order: byDate,
    }),
    list('files', 'files folder_id +deleted', (o) => `/api/v1/files/?limit=${LIMIT}&folder_id=${s(o).hub}&include_deleted=true`, {
      table: 'files',
      where: (o) => `${org(o)} AND folder_id = ${lit(s(o).hub)}`,
      order: byDate,
    }),
    list('files', `files q=${FILE_TERM}`, () => `/api/v1/files/?limit=${LIMIT}&q=${FILE_TERM}`, {
      table: 'files',
      where: (o) => `${org(o)} AND deleted_at IS NULL AND ${fileQ}`,
      order: byDate,
      countScans: true,
      capped: true,
    }),
    list('files', 'versions of 1 file', (o) => `/api/v1/files/${s(o).deepFile}/versions?limit=${LIMIT}`, {
      table: 'file_versions',
      where: (o) => `file_id = ${lit(s(o).deepFile)}`,
      order: 'ver DESC',
    }),
    list('files', 'folders at the root', () => `/api/v1/folders/?limit=${LIMIT}`, {
      table: 'folders',
      where: (o) => `${org(o)} AND parent_id IS NULL`,
      order: 'name, id',
      countScans: true,
    }),
    list('files', 'folders parent_id', (o) => `/api/v1/folders/?limit=${LIMIT}&parent_id=${s(o).hub}`, {
      table: 'folders',
      where: (o) => `${org(o)} AND parent_id = ${lit(s(o).hub)}`,
      order: 'name, id',
      countScans: true,
    }),
    list('readings', 'readings', () => `/api/v1/readings?limit=${LIMIT}`, readings('')),
    list('readings', 'readings kind=pdf', () => `/api/v1/readings?limit=${LIMIT}&kind=pdf`, readings(` AND kind = 'pdf'`)),
    list('readings', 'readings status=failed', () => `/api/v1/readings?limit=${LIMIT}&status=failed`, readings(` AND status = 'failed'`)),
    list(
      'readings',
      'readings kind=pdf status=ready',
      () => `/api/v1/readings?limit=${LIMIT}&kind=pdf&status=ready`,
      readings(` AND kind = 'pdf' AND status = 'ready'`),
    ),
    list(
      'readings',
      'readings data_source_id',
      (o) => `/api/v1/readings?limit=${LIMIT}&data_source_id=${s(o).upload}`,
      { table: 'readings', where: (o) => `${org(o)} AND upload_id = ${lit(s(o).upload)}`, order: byDate, countScans: true },
      false,
    ),
    list(
      'readings',
      'readings file_id (1 version)',
      (o) => `/api/v1/readings?limit=${LIMIT}&file_id=${s(o).plainFile}`,
      {
        table: 'readings',
        where: (o) => `${org(o)} AND upload_id = ${lit(idOf(o, 'u:2'))}`,
        before: (o) => uploadsOfFile(o, s(o).plainFile),
        order: byDate,
        countScans: true,
      },
      false,
      ['files'],
    ),
    list(
      'readings',
      'readings file_id (deep file)',
      (o) => `/api/v1/readings?limit=${LIMIT}&file_id=${s(o).deepFile}`,
      {
        table: 'readings',
        where: (o) => `${org(o)} AND upload_id = ${lit(idOf(o, 'u:1'))}`,
        before: (o) => uploadsOfFile(o, s(o).deepFile),
        order: byDate,
        countScans: true,
      },
      false,
      ['files'],
    ),
    list('webhooks', 'deliveries of 1 webhook', (o) => `${deliveries(o)}?limit=${LIMIT}`, {
      table: 'webhook_deliveries',
      where: (o) => `webhook_id = ${lit(s(o).webhook)}`,
      order: byDate,
    }),
    ...(['succeeded', 'failed', 'pending'] as const).map((status) =>
      list('webhooks', `deliveries status=${status}`, (o) => `${deliveries(o)}?limit=${LIMIT}&status=${status}`, {
        table: 'webhook_deliveries',
        where: (o) => `webhook_id = ${lit(s(o).webhook)} AND status = '${status}'`,
        order: byDate,
      }),
    ),
  ];
}

// ---------------------------------------------------------------------------------------------------
// Seeding: one INSERT … SELECT generate_series per batch, what the API would have written

/** `sql(from, to)` for each batch of `total` rows, numbered from 1. */
async function inBatches(db: pg.Client, total: number, sql: (from: number, to: number) => string): Promise<void> {
  for (let from = 1; from <= total; from += BATCH) await db.query(sql(from, Math.min(total, from + BATCH - 1)));
}

const stamp = `LATERAL (SELECT timestamptz '2025-01-01' + i * interval '1 second' AS ts) c`;
const oneOf = (words: string[], index: string) => `(ARRAY[${words.map(lit).join(', ')}])[1 + (${index}) % ${words.length}]`;

async function seedUploads(db: pg.Client, o: Org) {
  const types = `ARRAY[${TYPES.map(lit).join(', ')}]`;
  await inBatches(
    db,
    o.rows,
    (a, b) => `
    INSERT INTO uploads (id, org_id, name, content_type, detected_content_type, declared_size, size_bytes, sha256, status,
                         failure_reason, blob_key, created_at, updated_at, confirmed_at, deleted_at, expires_at)
    SELECT bench_id('${o.name}:u:' || i), '${o.id}', 'file-' || i || '.bin', t.declared,
           CASE WHEN s.status = 'confirmed' THEN t.declared END,
           1000 + i % 5000, CASE WHEN s.status = 'confirmed' THEN 1000 + i % 5000 END,
           CASE WHEN s.status = 'confirmed' THEN md5('${o.name}' || i) || md5(i::text) END, s.status,
           CASE WHEN s.status = 'failed' THEN 'checksum_mismatch' END, '${o.name}/' || i, ts, ts,
           CASE WHEN s.status = 'confirmed' THEN ts END,
           CASE WHEN s.status IN ('confirmed', 'failed') AND i % 50 = 7 THEN now() - interval '1 hour' END,
           now() + interval '30 days'
      FROM generate_series(${a}, ${b}) i, ${stamp},
           LATERAL (SELECT (${types})[1 + (i * 7) % ${TYPES.length}] AS declared) t,
           LATERAL (SELECT CASE WHEN i % 100 < 60 THEN 'confirmed' WHEN i % 100 < 74 THEN 'pending'
                                WHEN i % 100 < 87 THEN 'failed' ELSE 'cancelled' END AS status) s`,
  );
}

/** Parts, the revisions of part 1, and the dataset links of its revision 1 (on uploads 1…SCOPED). */
async function seedParts(db: pg.Client, o: Org) {
  await inBatches(
    db,
    o.rows,
    (a, b) => `
    INSERT INTO parts (id, org_id, part_number, description, classification_id, created_at, updated_at)
    SELECT bench_id('${o.name}:p:' || i), '${o.id}', 'P-' || lpad(i::text, 8, '0'),
           initcap(${oneOf(PART_WORDS, 'i * 3')}) || ' assembly ' || i, bench_id('${o.name}:c:' || i % 8), ts, ts
      FROM generate_series(${a}, ${b}) i, ${stamp}`,
  );
  await inBatches(
    db,
    o.scoped,
    (a, b) => `
    INSERT INTO part_revisions (id, org_id, part_id, revision_code, created_at, updated_at)
    SELECT bench_id('${o.name}:r:' || i), '${o.id}', bench_id('${o.name}:p:1'), 'R' || i, ts, ts
      FROM generate_series(${a}, ${b}) i, ${stamp}`,
  );
  await inBatches(
    db,
    o.scoped,
    (a, b) => `
    INSERT INTO dataset_links (id, org_id, part_revision_id, upload_id, role, is_active, superseded_at, created_at, updated_at)
    SELECT bench_id('${o.name}:l:' || i), '${o.id}', bench_id('${o.name}:r:1'), bench_id('${o.name}:u:' || i),
           ${oneOf(['cad_3d', 'drawing_2d', 'spec'], 'i')}, i % 5 <> 0, CASE WHEN i % 5 = 0 THEN ts END, ts, ts
      FROM generate_series(${a}, ${b}) i, ${stamp}`,
  );
}

/**
 * Folders (SCOPED at the root, the first of them the hub with SCOPED children), files (every fourth in
 * the hub) each with version 1 on its own upload, and file 1's history of SCOPED versions.
 */
async function seedFiles(db: pg.Client, o: Org) {
  const hub = `bench_id('${o.name}:f:1')`;
  await inBatches(
    db,
    o.scoped,
    (a, b) => `
    INSERT INTO folders (id, org_id, parent_id, name, created_at, updated_at)
    SELECT bench_id('${o.name}:f:' || i), '${o.id}', NULL, 'folder-' || lpad(i::text, 8, '0'), ts, ts
      FROM generate_series(${a}, ${b}) i, ${stamp}`,
  );
  await inBatches(
    db,
    o.scoped,
    (a, b) => `
    INSERT INTO folders (id, org_id, parent_id, name, created_at, updated_at)
    SELECT bench_id('${o.name}:g:' || i), '${o.id}', ${hub}, 'sub-' || lpad(i::text, 8, '0'), ts, ts
      FROM generate_series(${a}, ${b}) i, ${stamp}`,
  );
  const cid = (file: string, ver: string) => `'bafk' || md5('${o.name}:cid:' || ${file} || ':' || ${ver})`;
  const editedBy = `'{"user_id": null, "user_label": null, "method": "api"}'::jsonb`;
  await inBatches(
    db,
    o.rows,
    (a, b) => `
    INSERT INTO files (id, org_id, folder_id, status, ver, cid, filename, label, created_at, updated_at, deleted_at)
    SELECT bench_id('${o.name}:F:' || i), '${o.id}', CASE WHEN i % 4 = 0 THEN ${hub} END, 'ready', 1, ${cid('i', '1')},
           'file-' || i || '.pdf', ${oneOf(FILE_WORDS, 'i * 5')} || ' ' || i, ts, ts,
           CASE WHEN i % 50 = 7 THEN now() - interval '1 hour' END
      FROM generate_series(${a}, ${b}) i, ${stamp}`,
  );
  await inBatches(
    db,
    o.rows,
    (a, b) => `
    INSERT INTO file_versions (file_id, ver, org_id, cid, prev_cid, ts, edited_by, properties, relationships, folder_id, upload_id, created_at)
    SELECT bench_id('${o.name}:F:' || i), 1, '${o.id}', ${cid('i', '1')}, NULL,
           (extract(epoch FROM ts) * 1000)::bigint, ${editedBy}, '{}', '[]', CASE WHEN i % 4 = 0 THEN ${hub} END,
           bench_id('${o.name}:u:' || i), ts
      FROM generate_series(${a}, ${b}) i, ${stamp}`,
  );
  // File 1's later versions: property edits, so all on the bytes of its version 1.
  await inBatches(
    db,
    o.scoped - 1,
    (a, b) => `
    INSERT INTO file_versions (file_id, ver, org_id, cid, prev_cid, ts, edited_by, properties, relationships, folder_id, upload_id, created_at)
    SELECT bench_id('${o.name}:F:1'), v, '${o.id}', ${cid('1', 'v')}, ${cid('1', 'v - 1')},
           (extract(epoch FROM ts) * 1000)::bigint, ${editedBy}, jsonb_build_object('edit', v), '[]', NULL,
           bench_id('${o.name}:u:1'), ts
      FROM generate_series(${a + 1}, ${b + 1}) v, LATERAL (SELECT timestamptz '2030-01-01' + v * interval '1 second' AS ts) c`,
  );
  if (o.scoped > 1)
    await db.query(`UPDATE files SET ver = ${o.scoped}, cid = ${cid('1', String(o.scoped))} WHERE id = bench_id('${o.name}:F:1')`);
}

/** One reading per upload: kind 40 % pdf, the rest spread; status independent of kind. */
async function seedReadings(db: pg.Client, o: Org) {
  await inBatches(
    db,
    o.rows,
    (a, b) => `
    INSERT INTO readings (id, org_id, upload_id, kind, status, job_id, content, error, created_at, updated_at)
    SELECT bench_id('${o.name}:R:' || i), '${o.id}', bench_id('${o.name}:u:' || i),
           ${oneOf(['pdf', 'pdf', 'pdf', 'pdf', 'csv', 'json', 'image', 'text', 'cad', 'unsupported'], 'i')}, s.status,
           bench_id('${o.name}:J:' || i),
           CASE WHEN s.status = 'ready' THEN '{"pages": 1}'::jsonb END,
           CASE WHEN s.status = 'failed' THEN '{"reason": "unreadable", "message": "seeded"}'::jsonb END, ts, ts
      FROM generate_series(${a}, ${b}) i, ${stamp},
           LATERAL (SELECT CASE WHEN (i / 10) % 20 < 14 THEN 'ready' WHEN (i / 10) % 20 < 17 THEN 'pending' ELSE 'failed' END AS status) s`,
  );
}

/**
 * One webhook, disabled (so no trigger writes events for the other seeds, and no dispatcher sends),
 * and ROWS events of the last days, each with its delivery.
 */
async function seedWebhooks(db: pg.Client, o: Org, base: string) {
  await db.query(`
    INSERT INTO webhooks (id, org_id, url, events, enabled, secret)
    VALUES (bench_id('${o.name}:W'), '${o.id}', 'https://hooks.example.com/stowage', ARRAY['upload.confirmed'], false,
            'whsec_' || md5('${o.name}'))`);
  const at = `LATERAL (SELECT timestamptz '${base}' - (${o.rows} - i) * interval '100 milliseconds' AS ts) c`;
  await inBatches(
    db,
    o.rows,
    (a, b) => `
    INSERT INTO webhook_events (id, org_id, type, subject_id, sequence, data, created_at)
    SELECT bench_id('${o.name}:E:' || i), '${o.id}', 'upload.confirmed', bench_id('${o.name}:u:' || i), 1, '{}', ts
      FROM generate_series(${a}, ${b}) i, ${at}`,
  );
  await inBatches(
    db,
    o.rows,
    (a, b) => `
    INSERT INTO webhook_deliveries (id, org_id, webhook_id, event_id, status, attempts, next_attempt_at, last_attempt_at,
                                    last_status_code, last_error, created_at, updated_at)
    SELECT bench_id('${o.name}:D:' || i), '${o.id}', bench_id('${o.name}:W'), bench_id('${o.name}:E:' || i), s.status,
           CASE WHEN s.status = 'pending' THEN 0 ELSE 1 END,
           CASE WHEN s.status = 'pending' THEN timestamptz '${base}' + interval '30 days' ELSE ts END,
           CASE WHEN s.status <> 'pending' THEN ts END,
           CASE s.status WHEN 'succeeded' THEN 200 WHEN 'failed' THEN 500 END,
           CASE WHEN s.status = 'failed' THEN 'HTTP 500' END, ts, ts
      FROM generate_series(${a}, ${b}) i, ${at},
           LATERAL (SELECT CASE WHEN i % 20 < 14 THEN 'succeeded' WHEN i % 20 < 17 THEN 'failed' ELSE 'pending' END AS status) s`,
  );
}

const TABLES: Record<Family, string[]> = {
  uploads: ['uploads'],
  parts: ['parts', 'part_revisions', 'dataset_links'],
  files: ['folders', 'files', 'file_versions'],
  readings: ['readings'],
  webhooks: ['webhooks', 'webhook_events', 'webhook_deliveries'],
};

// ---------------------------------------------------------------------------------------------------
// The run

function parseArgs(argv: string[]) {
  let quick = false;
  let only: string | null = null;
  let keepDb = false;
  let seedOnly = false;
  let reuseDb: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--quick') quick = true;
    else if (argv[i] === '--keep-db') keepDb = true;
    else if (argv[i] === '--seed-only') seedOnly = keepDb = true;
    else if (argv[i] === '--reuse-db' && argv[i + 1]) reuseDb = argv[++i]!;
    else if (argv[i] === '--only' && argv[i + 1]) only = argv[++i];
    else
      throw new Error(`unknown argument "${argv[i]}" (options: --quick, --only <route-prefix>, --keep-db, --seed-only, --reuse-db <name>)`);
  }
  if (reuseDb && !/^stowage_bench_[0-9a-f]+$/.test(reuseDb)) throw new Error(`--reuse-db ${reuseDb}: not a database this bench made`);
  return { quick, only, keepDb, seedOnly, reuseDb };
}

const loadLine = (when: string) =>
  `  load        : ${os
    .loadavg()
    .map((l) => fmt(l, 2))
    .join(' ')} (1, 5, 15 min) ${when}`;
const k = (n: number) => (n >= 1_000_000 && n % 1_000_000 === 0 ? `${n / 1_000_000}M` : `${fmt(n / 1000, n % 1000 ? 1 : 0)}k`);

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const defaultRows = args.quick ? 100_000 : 1_000_000;
  const bigRows = envInt('BENCH_ROWS', envInt('BENCH_UPLOADS', defaultRows, 20_000, 50_000_000), 20_000, 50_000_000);
  const bigScoped = envInt('BENCH_SCOPED', Math.min(bigRows, args.quick ? 20_000 : DEFAULT_SCOPED), 10_000, bigRows);
  const small = envInt('BENCH_SMALL', 10_000, 10_000, 1_000_000);
  const requests = envInt('BENCH_REQUESTS', args.quick ? 50 : 200, 10, 100_000);
  const routeSeconds = envInt('BENCH_ROUTE_SECONDS', 40, 5, 3600);

  const routes = allRoutes().filter((r) => {
    if (!args.only) return true;
    const p = args.only;
    const path = r.path({ name: 'x', id: '', key: '', label: '', rows: 0, scoped: 0 });
    return r.name.startsWith(p) || path.startsWith(p) || path.startsWith(`/api/v1/${p}`);
  });
  if (!routes.length) throw new Error(`--only ${args.only}: no route's name or path starts with it`);
  const families = new Set<Family>(['uploads', ...routes.flatMap((r) => [r.family, ...(r.needs ?? [])])]);

  const busyBefore = await busyCoresBeforeStart();
  console.log(`Stowage scale benchmark (every list and filter, and the uploads summary)${args.quick ? ' --quick' : ''}`);
  console.log(machineLine());
  console.log(beforeStartLine(busyBefore));
  console.log(loadLine('at start'));

  // --- PostgreSQL and the scratch database
  const server = await openPostgres();
  const { name: dbName, url: scratchUrl } = args.reuseDb
    ? { name: args.reuseDb, url: Object.assign(new URL(server.url), { pathname: `/${args.reuseDb}` }).toString() }
    : await scratchDatabase(server.url, { keep: args.keepDb && !server.embedded });
  const dbUrl = new URL(scratchUrl);
  console.log(
    `  PostgreSQL  : ${dbUrl.host} (${server.kind}), database ${dbName}${args.keepDb && !server.embedded ? ' (kept: DROP DATABASE it when done)' : ''}`,
  );

  // --- The built server, and an admin key in each org (the CLI migrates the database first)
  const work = await mkdtemp(path.join(os.tmpdir(), 'stowage-bench-scale-'));
  onCleanup('remove the temporary folder', () => rm(work, { recursive: true, force: true }));
  const env = {
    DATABASE_URL: dbUrl.toString(),
    STOWAGE_DATA_DIR: path.join(work, 'data'),
    PORT: '0',
    HOST: '127.0.0.1',
    RATE_LIMIT_ENABLED: 'false',
    LOG_LEVEL: 'warn',
    STOWAGE_SIGNING_SECRET: randomBytes(24).toString('hex'),
    // `serve` runs no jobs; should a worker share the database anyway, its sweeper must not run.
    STOWAGE_SWEEP_CRON: '0 0 29 2 *',
  };
  const cli = process.env.BENCH_FROM_SOURCE === '1' ? ['--import', 'tsx', 'src/cli.ts'] : [DIST_CLI];
  if (cli[0] === DIST_CLI) console.log(`  build       : ${buildDist()}`);
  const keyFor = (org: string) =>
    execFileSync(process.execPath, [...cli, 'keys', 'create', '--org', org, '--scopes', 'admin', '--create-org'], {
      cwd: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'),
      env: { ...process.env, ...env },
      encoding: 'utf8',
    })
      .trim()
      .split('\n')
      .pop()!
      .trim();
  const orgs: Org[] = [
    { label: k(bigRows), name: 'bench-big', rows: bigRows, scoped: bigScoped, key: keyFor('bench-big'), id: '' },
    { label: k(small), name: 'bench-small', rows: small, scoped: small, key: keyFor('bench-small'), id: '' },
  ];
  const db = new pg.Client({ connectionString: dbUrl.toString() });
  db.on('error', () => {});
  await db.connect();
  onCleanup('close the database connection', () => db.end());
  for (const org of orgs) org.id = (await db.query('SELECT id FROM orgs WHERE name = $1', [org.name])).rows[0].id;

  // --- seed, triggers on: the counters are the triggers' work, as in production
  if (!args.reuseDb) {
    await db.query(`CREATE FUNCTION bench_id(text) RETURNS uuid LANGUAGE sql IMMUTABLE AS $$ SELECT md5($1)::uuid $$`);
    // A scratch database: losing the last commits in a crash loses nothing.
    await db.query(`SET synchronous_commit = off`);
    const base = (await db.query(`SELECT now()::text AS t`)).rows[0].t as string;
    const seeders: Record<Family, (o: Org) => Promise<void>> = {
      uploads: (o) => seedUploads(db, o),
      parts: (o) => seedParts(db, o),
      files: (o) => seedFiles(db, o),
      readings: (o) => seedReadings(db, o),
      webhooks: (o) => seedWebhooks(db, o, base),
    };
    console.log(
      `  rows        : ${orgs.map((o) => `${o.name} ${o.rows.toLocaleString('en')} per list, ${o.scoped.toLocaleString('en')} per scoped parent`).join('; ')}`,
    );
    const seedStarted = performance.now();
    const seedTimes: string[] = [];
    for (const family of families) {
      const started = performance.now();
      for (const org of orgs) await seeders[family](org);
      const inserted = performance.now();
      for (const table of TABLES[family]) await db.query(`VACUUM ANALYZE ${table}`);
      seedTimes.push(
        `${family} ${fmt((inserted - started) / 1000, 1)} s + VACUUM ANALYZE ${fmt((performance.now() - inserted) / 1000, 1)} s`,
      );
    }
    await db.query('VACUUM ANALYZE list_counts');
    console.log(`  seed        : ${fmt((performance.now() - seedStarted) / 1000, 1)} s in all: ${seedTimes.join('; ')}`);
  } else console.log(`  seed        : none (measuring the database kept as ${dbName})`);
  if (args.seedOnly) {
    console.log(`  seeded and kept: measure with --reuse-db ${dbName} (same size options), then DROP DATABASE ${dbName}`);
    return 0;
  }

  const stowage = await startServerChild('Stowage', [...cli, 'serve'], env, /Stowage is serving at (\S+)/, (u) => u);
  const get = async (route: string, key: string) => {
    const answer = await fetch(new URL(route, stowage.url), { headers: { 'x-api-key': key } });
    const body = await answer.json();
    if (answer.status !== 200) throw new InvalidRun(`GET ${route} answered ${answer.status}: ${JSON.stringify(body).slice(0, 300)}`);
    return body;
  };

  // Does the server page by cursor? Its first page says so with a next_cursor string.
  const probe = await get(routes.find((r) => r.sql)?.path(orgs[0]) ?? `/api/v1/uploads/?limit=${LIMIT}`, orgs[0].key);
  const cursors = typeof probe.next_cursor === 'string';

  interface Measured {
    name: string;
    urls: (i: number) => Promise<string>;
    route: Route;
    offset: number;
  }
  const measured: Measured[] = routes.flatMap((r) => {
    const plain = { name: r.name, urls: async (i: number) => r.path(orgs[i]), route: r, offset: 0 };
    if (!r.paged) return [plain];
    const rows: Measured[] = [
      plain,
      { name: `${r.name} @${DEEP_OFFSET}`, urls: async (i) => `${r.path(orgs[i])}&offset=${DEEP_OFFSET}`, route: r, offset: DEEP_OFFSET },
    ];
    if (cursors) {
      // Follows next_cursor CURSOR_PAGES pages from the first, and measures the page after them.
      const deep = async (i: number) => {
        let url = r.path(orgs[i]);
        for (let page = 0; page < CURSOR_PAGES; page++) {
          const body = await get(url, orgs[i].key);
          if (typeof body.next_cursor !== 'string')
            throw new InvalidRun(`GET ${url} answered no next_cursor on page ${page + 1} of ${orgs[i].name}`);
          url = `${r.path(orgs[i])}&cursor=${encodeURIComponent(body.next_cursor)}`;
        }
        return url;
      };
      rows.push({ name: `${r.name} @cursor${CURSOR_PAGES}`, urls: deep, route: r, offset: -1 });
    }
    return rows;
  });

  const scopedLine = 'one part: revisions; one revision: dataset links; one file: versions; the root: folders; one folder: child folders';
  console.log(
    `  requests    : ${requests} per route and org (at most ${routeSeconds} s a route), sequential, orgs alternating, after 10 unmeasured each; limit=${LIMIT}`,
  );
  console.log(
    `  cursor      : ${cursors ? `next_cursor offered: each list is also measured at the page after following it ${CURSOR_PAGES} pages (@cursor${CURSOR_PAGES})` : 'the server answers no next_cursor: offset pages only'}`,
  );
  console.log(
    `  targets     : p99 < ${TARGET_P99_MS} ms at ${orgs[0].label}; p50 ${orgs[0].label} / p50 ${orgs[1].label} ≤ ${TARGET_RATIO}`,
  );
  console.log('');
  const nameWidth = 44;
  console.log(
    `  ${`lists: ${k(orgs[0].rows)} vs ${k(orgs[1].rows)} rows per org; scoped (${scopedLine}): ${k(orgs[0].scoped)} vs ${k(orgs[1].scoped)}`}`,
  );
  console.log(
    `  ${'route'.padEnd(nameWidth)} ${'count'.padStart(9)}  ${orgs.map((o) => `${`${o.label} p50`.padStart(10)} ${`${o.label} p99`.padStart(10)}`).join('  ')}  ${'ratio'.padStart(6)}  verdict`,
  );
  const failing: Measured[] = [];
  const counts = new Map<Route, number>();
  const measureStarted = performance.now();
  const busyAtMeasure = os.cpus().reduce((s, c) => s + c.times.user + c.times.nice + c.times.sys + c.times.irq, 0) / 1000;
  for (const m of measured) {
    const urls = [await m.urls(0), await m.urls(1)];
    const times = orgs.map(() => [] as number[]);
    let count = -1;
    const call = async (i: number) => {
      const body = await get(urls[i], orgs[i].key);
      if (m.route.sql !== null) {
        if (!Array.isArray(body.data) || body.data.length === 0)
          throw new InvalidRun(`GET ${urls[i]} answered no rows: ${JSON.stringify(body).slice(0, 300)}`);
        if (i === 0) count = body.count;
      } else if (body.total_count !== orgs[i].rows) {
        throw new InvalidRun(`the summary of ${orgs[i].name} counts ${body.total_count}, not ${orgs[i].rows}`);
      } else if (i === 0) count = body.total_count;
    };
    for (let n = 0; n < 10; n++) for (let i = 0; i < orgs.length; i++) await call(i);
    const started = performance.now();
    for (let n = 0; n < requests && performance.now() - started < routeSeconds * 1000; n++) {
      for (let i = 0; i < orgs.length; i++) {
        const t = performance.now();
        await call(i);
        times[i].push(performance.now() - t);
      }
    }
    if (m.offset === 0) counts.set(m.route, count);
    const [big, little] = times.map((t) => percentiles(t));
    const ratio = big.p50 / little.p50;
    const ok = big.p99 < TARGET_P99_MS && ratio <= TARGET_RATIO;
    if (!ok) failing.push(m);
    const cut = big.count < requests ? `  (${big.count} requests: ${routeSeconds} s reached)` : '';
    console.log(
      `  ${m.name.padEnd(nameWidth)} ${String(count).padStart(9)}  ${[big, little].map((p) => `${fmt(p.p50, 2).padStart(10)} ${fmt(p.p99, 2).padStart(10)}`).join('  ')}  ${fmt(ratio, 2).padStart(6)}  ${verdict(ok)}${cut}`,
    );
  }
  const measureSeconds = (performance.now() - measureStarted) / 1000;
  const busyCores =
    (os.cpus().reduce((s, c) => s + c.times.user + c.times.nice + c.times.sys + c.times.irq, 0) / 1000 - busyAtMeasure) / measureSeconds;
  console.log('');
  console.log(
    failing.length
      ? `FAIL: ${failing.length} of ${measured.length} routes miss p99 < ${TARGET_P99_MS} ms or the ratio ≤ ${TARGET_RATIO}: ${failing.map((m) => m.name).join(', ')}`
      : `PASS: every list variant and the summary under ${TARGET_P99_MS} ms p99 at ${orgs[0].label} rows, within ${TARGET_RATIO} × the ${orgs[1].label} org's p50`,
  );
  console.log(
    `  busy cores  : ${fmt(busyCores, 2)} of ${os.cpus().length} on average while measuring (${fmt(measureSeconds, 0)} s; this client, the server and PostgreSQL included)`,
  );
  console.log(loadLine('at the end'));
  console.log(beforeStartLine(await busyCoresBeforeStart()).replace('before start', 'at the end  '));

  // The counts answered against count(*) of what they count (a search's count is capped: skipped).
  const wrong: string[] = [];
  for (const [r, answered] of counts) {
    if (!r.sql || r.sql.capped) continue;
    const truth = Number((await db.query(`SELECT count(*) AS n FROM ${r.sql.table} WHERE ${r.sql.where(orgs[0])}`)).rows[0].n);
    if (truth !== answered) wrong.push(`${r.name}: answered ${answered}, count(*) ${truth}`);
  }
  console.log(
    `  counts      : ${wrong.length ? `WRONG: ${wrong.join('; ')}` : `every count answered at ${orgs[0].label} equals count(*) of its rows (searches, capped, not compared)`}`,
  );

  // Where a scan would show: the page query (and a count made by query) of each failing route at the big org.
  const explain = async (label: string, query: string) => {
    const lines = (await db.query(`EXPLAIN (ANALYZE, BUFFERS) ${query}`)).rows.map((row) => row['QUERY PLAN'] as string);
    const nodes = lines
      .filter((l) => /Scan|Sort|Join|Nested Loop|Aggregate|Unique|HashAggregate/.test(l))
      .slice(0, 3)
      .map((l) =>
        l
          .trim()
          .replace(/^->\s*/, '')
          .replace(/\s+\(cost=[^)]*\)/, ''),
      );
    const buffers = lines.find((l) => /Buffers:/.test(l))?.trim() ?? '';
    const exec = lines.find((l) => /Execution Time/.test(l))?.trim() ?? '';
    console.log(`    ${label}: ${exec}; ${buffers}`);
    for (const n of nodes) console.log(`      ${n}`);
  };
  const explained = failing.filter((m) => m.route.sql);
  if (explained.length) {
    console.log('');
    console.log(`  failing routes at ${orgs[0].label} (EXPLAIN ANALYZE, BUFFERS of the query rebuilt here; the first plan nodes):`);
  }
  for (const m of explained) {
    const q = m.route.sql!;
    console.log(`  ${m.name}`);
    const offset = m.offset > 0 ? m.offset : m.offset < 0 ? CURSOR_PAGES * LIMIT : 0;
    await explain(
      `page${m.offset < 0 ? ` (as OFFSET ${offset}: the cursor's own query is the server's)` : ''}`,
      `SELECT * FROM ${q.table} WHERE ${q.where(orgs[0])} ORDER BY ${q.order} LIMIT ${LIMIT} OFFSET ${offset}`,
    );
    if (q.before) await explain('first', q.before(orgs[0]));
    if (q.countScans) await explain('count', `SELECT count(*) FROM ${q.table} WHERE ${q.where(orgs[0])}`);
  }
  return 0;
}

void runBenchmark(main);
