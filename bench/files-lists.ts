/**
 * `npm run bench:files-lists`: the SPEC's list rule (p99 under 20 ms with 1M rows in one org, on every
 * filter a list offers; `count` must not cost a scan of the org) for files, versions and folders.
 *
 *   node --import tsx bench/files-lists.ts
 *
 * One org is seeded straight in SQL (generate_series; going through the API would take hours): ~1,000
 * folders (a tenth at the root, the rest one level down), BENCH_FILES files spread over them with one in
 * ten at the root, ~1% in the trash, each with a version 1 made from one shared confirmed upload, and one
 * file with 1,000 versions. Then VACUUM ANALYZE, and over real HTTP, sequentially, after a warm-up,
 * BENCH_REQUESTS requests of each list below; p50/p99 against the target, and the EXPLAIN (ANALYZE,
 * BUFFERS) of the count query each list runs (rebuilt here from the repository's query), since that is
 * where a scan of the org would show.
 *
 * Environment:
 *   BENCH_FILES     files in the org (default 1,000,000)
 *   BENCH_REQUESTS  measured requests per list (default 200)
 *   DATABASE_URL    a PostgreSQL server to use (a scratch database is created and dropped on it);
 *                   unset: an embedded server is started in a temporary folder and stopped at the end
 *
 * Exit code: 0 when the run worked, whatever the target says (it is a benchmark, not a test);
 * 1 when the run itself is invalid (a request failed or answered the wrong rows); 2 on a crash.
 */
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import {
  InvalidRun,
  beforeStartLine,
  busyCoresBeforeStart,
  envInt,
  fmt,
  machineLine,
  postgresForService,
  runBenchmark,
  startBenchService,
  verdict,
} from './lib.js';
import { SEARCH_COUNT_CAP } from '../src/db/list-counts.js';

const TARGET_P99_MS = 20;
const FOLDERS = 1000;
const ROOT_FOLDERS = 100;
const VERSIONS_ON_ONE_FILE = 1000;
/** RARE_MATCHES filenames carry this word, evenly spread, so `q` matches few whatever the size. */
const RARE_WORD = 'quasar';
const RARE_MATCHES = 20;
/** Every seeded filename carries this word: its search count stops at the cap. */
const COMMON_WORD = 'document';
const EDITED_BY = `'{"user_id": null, "user_label": null, "method": "api"}'::jsonb`;

interface ListCase {
  name: string;
  route: string;
  /** The query of the route's that could scan (its count; for a search also its page), for EXPLAIN; null where none could. */
  countSql: string | null;
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main(): Promise<number> {
  const fileCount = envInt('BENCH_FILES', 1_000_000, 2000, 50_000_000);
  const requests = envInt('BENCH_REQUESTS', 200, 10, 100_000);

  const busyBefore = await busyCoresBeforeStart();
  console.log('Stowage list benchmark (files, versions, folders)');
  console.log(machineLine());
  console.log(beforeStartLine(busyBefore));

  await postgresForService();
  const { harness: h } = await startBenchService({}, { storage: 'local' });
  const db = h.runtime.database.db;
  const org = h.orgId;
  const run = (text: string) => sql.raw(text).execute(db);

  // --- seed
  const seedStarted = performance.now();
  const uploadId = '00000000-0000-4000-8000-000000000001';
  const bigFileId = '00000000-0000-4000-8000-000000000002';
  await run(`
    INSERT INTO uploads (id, org_id, name, content_type, size_bytes, sha256, status, blob_key, created_at, confirmed_at, expires_at)
    VALUES ('${uploadId}', '${org}', 'seed.bin', 'application/octet-stream', 3, '${'a'.repeat(64)}', 'confirmed',
            'bench/seed', now(), now(), now() + interval '1 day')`);
  // Folder i (1-based): the first ROOT_FOLDERS at the root, each other one inside root folder i % ROOT_FOLDERS + 1.
  await run(`
    INSERT INTO folders (id, org_id, parent_id, name)
    SELECT ('00000000-0000-4000-9000-' || lpad(i::text, 12, '0'))::uuid, '${org}',
           CASE WHEN i <= ${ROOT_FOLDERS} THEN NULL
                ELSE ('00000000-0000-4000-9000-' || lpad((i % ${ROOT_FOLDERS} + 1)::text, 12, '0'))::uuid END,
           'folder-' || i
      FROM generate_series(1, ${FOLDERS}) i`);
  await run(`
    INSERT INTO files (id, org_id, folder_id, status, ver, cid, filename, label, created_at, updated_at, deleted_at)
    SELECT ('00000000-0000-4000-a000-' || lpad(i::text, 12, '0'))::uuid, '${org}',
           CASE WHEN i % 10 = 0 THEN NULL
                ELSE ('00000000-0000-4000-9000-' || lpad((i % ${FOLDERS} + 1)::text, 12, '0'))::uuid END,
           'ready', 1, 'bafy' || md5(i::text),
           CASE WHEN i % ${Math.floor(fileCount / RARE_MATCHES)} = 0 THEN 'report-${RARE_WORD}-' || i || '.pdf' ELSE 'document-' || i || '.pdf' END,
           'label ' || i,
           ts, ts,
           CASE WHEN i % 100 = 7 THEN now() - interval '1 hour' END
      FROM generate_series(1, ${fileCount}) i,
           LATERAL (SELECT timestamptz '2025-01-01' + i * interval '1 second' AS ts) t`);
  await run(`
    INSERT INTO file_versions (file_id, ver, org_id, cid, prev_cid, ts, edited_by, note, properties, relationships, folder_id, upload_id, created_at)
    SELECT f.id, 1, f.org_id, f.cid, NULL, 0, ${EDITED_BY}, NULL, '{}'::jsonb, '[]'::jsonb, f.folder_id, '${uploadId}', f.created_at
      FROM files f WHERE f.org_id = '${org}'`);
  await run(`
    INSERT INTO files (id, org_id, folder_id, status, ver, cid, filename, label, created_at, updated_at)
    VALUES ('${bigFileId}', '${org}', NULL, 'ready', ${VERSIONS_ON_ONE_FILE}, 'bafyv${VERSIONS_ON_ONE_FILE}', 'many-versions.pdf', 'many versions', now(), now())`);
  await run(`
    INSERT INTO file_versions (file_id, ver, org_id, cid, prev_cid, ts, edited_by, note, properties, relationships, folder_id, upload_id)
    SELECT '${bigFileId}', v, '${org}', 'bafyv' || v, CASE WHEN v > 1 THEN 'bafyv' || (v - 1) END, v, ${EDITED_BY}, 'edit ' || v,
           '{}'::jsonb, '[]'::jsonb, NULL, '${uploadId}'
      FROM generate_series(1, ${VERSIONS_ON_ONE_FILE}) v`);
  const loadSeconds = (performance.now() - seedStarted) / 1000;
  await run(`VACUUM ANALYZE folders`);
  await run(`VACUUM ANALYZE files`);
  await run(`VACUUM ANALYZE file_versions`);
  await run(`VACUUM ANALYZE uploads`);
  const seedSeconds = (performance.now() - seedStarted) / 1000;
  console.log(
    `  seed        : ${fileCount.toLocaleString('en')} files (+1 with ${VERSIONS_ON_ONE_FILE} versions), ${FOLDERS} folders, in ${fmt(seedSeconds, 1)} s (${fmt(loadSeconds, 1)} s insert, ${fmt(seedSeconds - loadSeconds, 1)} s VACUUM ANALYZE)`,
  );

  const someFolder = '00000000-0000-4000-9000-000000000500'; // inside a root folder; ~1,000 files
  const rootFolder = '00000000-0000-4000-9000-000000000001'; // 9 folders inside it
  const live = `org_id = '${org}' AND deleted_at IS NULL`;
  const counter = (list: string, scope = '00000000-0000-0000-0000-000000000000') =>
    `SELECT sum(n) FROM list_counts WHERE org_id = '${org}' AND list = '${list}' AND scope = '${scope}'`;
  const search = (word: string) =>
    `SELECT count(*) FROM (SELECT id FROM files WHERE ${live} AND (filename ILIKE '%${word}%' OR label ILIKE '%${word}%') LIMIT ${SEARCH_COUNT_CAP}) m`;
  const searchPage = (word: string) =>
    `SELECT * FROM files WHERE ${live} AND (filename ILIKE '%${word}%' OR label ILIKE '%${word}%') ORDER BY created_at DESC, id DESC LIMIT 50`;
  const cases: ListCase[] = [
    { name: 'files (first page)', route: '/api/v1/files/', countSql: counter('files_live') },
    { name: 'files ?offset=10000', route: '/api/v1/files/?offset=10000', countSql: counter('files_live') },
    {
      name: 'files ?folder_id',
      route: `/api/v1/files/?folder_id=${someFolder}`,
      countSql: counter('files_live', someFolder),
    },
    {
      name: 'files ?folder_id&include_deleted',
      route: `/api/v1/files/?folder_id=${someFolder}&include_deleted=true`,
      countSql: counter('files', someFolder),
    },
    { name: `files ?q=${RARE_WORD} (count)`, route: `/api/v1/files/?q=${RARE_WORD}`, countSql: search(RARE_WORD) },
    { name: `files ?q=${RARE_WORD} (page)`, route: `/api/v1/files/?q=${RARE_WORD}`, countSql: searchPage(RARE_WORD) },
    { name: `files ?q=${COMMON_WORD} (count)`, route: `/api/v1/files/?q=${COMMON_WORD}`, countSql: search(COMMON_WORD) },
    {
      name: 'files ?include_deleted',
      route: '/api/v1/files/?include_deleted=true',
      countSql: counter('files'),
    },
    { name: 'versions (1,000; first page)', route: `/api/v1/files/${bigFileId}/versions`, countSql: null },
    { name: 'versions ?offset=500', route: `/api/v1/files/${bigFileId}/versions?offset=500`, countSql: null },
    {
      name: 'folders (root)',
      route: '/api/v1/folders/',
      countSql: `SELECT count(*) FROM folders WHERE org_id = '${org}' AND parent_id IS NULL`,
    },
    {
      name: 'folders ?parent_id',
      route: `/api/v1/folders/?parent_id=${rootFolder}`,
      countSql: `SELECT count(*) FROM folders WHERE org_id = '${org}' AND parent_id = '${rootFolder}'`,
    },
  ];

  const key = h.keys.admin;
  const rows: string[] = [];
  const failing: string[] = [];
  console.log(`  requests    : ${requests} per list, sequential, after 10 unmeasured; target p99 < ${TARGET_P99_MS} ms`);
  console.log('');
  console.log(
    `  ${'list'.padEnd(30)} ${'count'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}  verdict  count query (EXPLAIN ANALYZE)`,
  );
  for (const c of cases) {
    let answerCount = -1;
    const call = async () => {
      const answer = await h.api('GET', c.route, { key });
      if (answer.status !== 200 || !Array.isArray(answer.body?.data) || answer.body.data.length === 0)
        throw new InvalidRun(`GET ${c.route} answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 300)}`);
      answerCount = answer.body.count ?? -1;
    };
    for (let i = 0; i < 10; i++) await call();
    const times: number[] = [];
    for (let i = 0; i < requests; i++) {
      const t = performance.now();
      await call();
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    const p50 = percentile(times, 50);
    const p99 = percentile(times, 99);
    const ok = p99 < TARGET_P99_MS;
    if (!ok) failing.push(c.name);
    let plan = '-';
    if (c.countSql) {
      const explained = await run(`EXPLAIN (ANALYZE, BUFFERS) ${c.countSql}`);
      const lines = (explained.rows as Record<string, string>[]).map((r) => Object.values(r)[0]);
      const scan =
        lines
          .find((l) => /Scan/.test(l))
          ?.trim()
          .replace(/\s+\(cost=.*$/, '') ?? '?';
      const buffers = lines.find((l) => /Buffers:/.test(l))?.trim() ?? '';
      const exec = lines.find((l) => /Execution Time/.test(l))?.trim() ?? '';
      plan = `${scan.replace(/^->\s*/, '')}; ${buffers}; ${exec}`;
    }
    const row = `  ${c.name.padEnd(30)} ${String(answerCount).padStart(9)} ${fmt(p50, 2).padStart(8)} ${fmt(p99, 2).padStart(8)}  ${verdict(ok).padEnd(7)}  ${plan}`;
    rows.push(row);
    console.log(row);
  }
  console.log('');
  console.log(
    failing.length
      ? `FAIL: ${failing.length} of ${cases.length} lists over ${TARGET_P99_MS} ms p99 at ${fileCount.toLocaleString('en')} files: ${failing.join(', ')}`
      : `PASS: every list under ${TARGET_P99_MS} ms p99 at ${fileCount.toLocaleString('en')} files`,
  );
  return 0;
}

void runBenchmark(main);
