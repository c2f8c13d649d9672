/**
 * `npm run bench:search`: GET /api/v1/search against the target "p99 < 50 ms with 1M readings in the
 * org", for the kinds of query people type.
 *
 *   node --import tsx bench/search.ts
 *
 * One org is seeded (going through the API would take hours): BENCH_READINGS confirmed uploads (names of
 * two words from a list of 40 and a number: "invoice-budget-123.txt"), a ready text reading each, and
 * one search piece each: 30–60 words drawn from a vocabulary of 3,000 made-up words with a Zipf
 * distribution (the commonest word in nearly every piece, most words rare), generated here and inserted
 * with unnest. A few rare words are placed in exactly 20 pieces each. A second org gets a tenth as many,
 * with the same vocabulary and the rare word in 10 of its pieces: a search must not count them. The two
 * GIN indexes (piece text, upload names) are built after the load, as a restore would, then VACUUM ANALYZE.
 *
 * Then over real HTTP, sequentially, after 10 unmeasured, BENCH_REQUESTS requests for each query: a rare
 * word, the commonest word, two words, a phrase, a word only names hold, a word nothing holds; p50/p99
 * against the target, count and count_capped, and the EXPLAIN (ANALYZE, BUFFERS) of the text-candidates
 * query (rebuilt here from src/modules/readings/search.ts) for each, plus the names query's for the
 * name-only word.
 *
 * Environment:
 *   BENCH_READINGS  readings (uploads, pieces) in the org (default 1,000,000); the other org gets a tenth
 *   BENCH_REQUESTS  measured requests per query (default 200)
 *   DATABASE_URL    a PostgreSQL server to use (a scratch database is created and dropped on it);
 *                   unset: an embedded server is started in a temporary folder and stopped at the end
 *
 * Exit code: 0 when the run worked, whatever the target says (it is a benchmark, not a test);
 * 1 when the run itself is invalid (a request failed or counted the wrong rows); 2 on a crash.
 */
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import pg from 'pg';
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
import { SEARCH_CANDIDATES } from '../src/modules/readings/search.js';

const TARGET_P99_MS = 50;
const VOCABULARY = 3000;
const RARE_WORDS = ['quasar', 'nebula', 'pulsar', 'magnetar', 'blazar'];
const RARE_PIECES = 20;
const RARE_IN_OTHER_ORG = 10;
const NOTHING = 'xylophonist';
const NAME_WORDS = [
  'invoice', 'report', 'drawing', 'manual', 'quote', 'order', 'contract', 'photo', 'scan', 'minutes',
  'budget', 'plan', 'schedule', 'audit', 'memo', 'letter', 'summary', 'forecast', 'checklist', 'receipt',
  'statement', 'proposal', 'agenda', 'survey', 'inspection', 'certificate', 'warranty', 'datasheet', 'brochure', 'catalog',
  'timesheet', 'payroll', 'ledger', 'roster', 'itinerary', 'blueprint', 'estimate', 'permit', 'policy', 'notice',
]; // prettier-ignore
const BATCH = 5000;

/** mulberry32: the same seed, the same data, run after run. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** VOCABULARY made-up words of three consonant-vowel syllables ("kalobe"), none an English stop word. */
function vocabulary(): string[] {
  const random = prng(11);
  const consonants = 'bdfgklmnprstvz';
  const vowels = 'aeiou';
  const words = new Set<string>();
  const stop = new Set(['before', 'become', 'became', 'below']);
  while (words.size < VOCABULARY) {
    let word = '';
    for (let s = 0; s < 3; s++) word += consonants[Math.floor(random() * consonants.length)] + vowels[Math.floor(random() * vowels.length)];
    if (!stop.has(word)) words.add(word);
  }
  return [...words];
}

/** A piece of 30–60 words, Zipf-distributed (word k with probability ∝ 1/k), in sentences. */
function pieceText(random: () => number, vocab: string[], rare: string | null): string {
  const n = 30 + Math.floor(random() * 31);
  const words: string[] = [];
  const logV = Math.log(vocab.length + 1);
  for (let k = 0; k < n; k++) words.push(vocab[Math.floor(Math.exp(random() * logV)) - 1]);
  if (rare) words[Math.floor(random() * n)] = rare;
  let text = '';
  for (let k = 0; k < n; k++) {
    const word = k % 12 === 0 ? words[k][0].toUpperCase() + words[k].slice(1) : words[k];
    text += word + (k % 12 === 11 || k === n - 1 ? '. ' : ' ');
  }
  return text.trim();
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

interface SearchCase {
  name: string;
  q: string;
  /** The count the answer must give, when it is known. */
  expect?: (count: number, capped: boolean) => string | null;
}

/**
 * Time of each statement the service sends while a case is measured, by what it is (in-flight wall
 * time, from the client's query call to its answer): where a request's time goes besides the text query.
 */
const STATEMENTS: [string, RegExp][] = [
  ['text', /reading_chunks c JOIN uploads/],
  ['names', /FROM uploads\s+WHERE org_id = \$\d+ AND name_tsv/],
  ['file names', /f\.name_tsv @@/],
  ['tips', /from "file_versions"/i],
  ['snippets', /ts_headline/],
  ['page names', /select "id", "name" from "uploads"|select "id", "filename" as "name" from "files"/i],
];
const profile = { on: false, ms: new Map<string, number>(), requests: 0 };
function profileStatements(): void {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]) {
    const result = original.apply(this, args);
    if (profile.on && result && typeof (result as Promise<unknown>).then === 'function') {
      const first = args[0] as string | { text?: string } | undefined;
      const text = typeof first === 'string' ? first : (first?.text ?? '');
      const what = STATEMENTS.find(([, pattern]) => pattern.test(text))?.[0] ?? 'other';
      const started = performance.now();
      (result as Promise<unknown>).then(
        () => profile.ms.set(what, (profile.ms.get(what) ?? 0) + performance.now() - started),
        () => {},
      );
    }
    return result;
  };
}

async function main(): Promise<number> {
  const readings = envInt('BENCH_READINGS', 1_000_000, 1000, 20_000_000);
  const others = Math.max(100, Math.floor(readings / 10));
  const requests = envInt('BENCH_REQUESTS', 200, 10, 100_000);

  const busyBefore = await busyCoresBeforeStart();
  console.log('Stowage search benchmark (GET /api/v1/search: names and reading text)');
  console.log(machineLine());
  console.log(beforeStartLine(busyBefore));

  await postgresForService();
  const { harness: h } = await startBenchService({}, { storage: 'local', worker: false });
  const db = h.runtime.database.db;
  const run = (text: string) => sql.raw(text).execute(db);
  const vocab = vocabulary();
  profileStatements();

  // --- seed
  const seedStarted = performance.now();
  const gin = await sql<{ indexname: string; indexdef: string }>`
    SELECT indexname, indexdef FROM pg_indexes
     WHERE indexname IN ('reading_chunks_search_idx', 'uploads_name_search_idx')`.execute(db);
  if (gin.rows.length !== 2) throw new Error(`expected the two search indexes of migration 0013, found ${JSON.stringify(gin.rows)}`);
  for (const index of gin.rows) await run(`DROP INDEX ${index.indexname}`);

  const names = `ARRAY[${NAME_WORDS.map((w) => `'${w}'`).join(',')}]`;
  /** `tag` tells the orgs' ids apart: uploads 8xxx, readings bxxx. */
  const id = (kind: 'upload' | 'reading', tag: number, i: string) =>
    `('00000000-0000-4000-${kind === 'upload' ? '8' : 'b'}${String(tag).padStart(3, '0')}-' || lpad(${i}::text, 12, '0'))::uuid`;
  const seedRows = async (org: string, tag: number, count: number, rareEvery: number, rareWords: string[]) => {
    // Uploads and readings in SQL, in slices so no statement holds a million rows' triggers at once.
    for (let lo = 1; lo <= count; lo += 200_000) {
      const hi = Math.min(count, lo + 200_000 - 1);
      await run(`
        INSERT INTO uploads (id, org_id, name, content_type, size_bytes, sha256, detected_content_type, status, blob_key,
                             created_at, updated_at, confirmed_at, expires_at)
        SELECT ${id('upload', tag, 'i')}, '${org}',
               (${names})[1 + i % ${NAME_WORDS.length}] || '-' || (${names})[1 + (i / ${NAME_WORDS.length}) % ${NAME_WORDS.length}] || '-' || i || '.txt',
               'text/plain', 300 + i % 2000, md5(i::text) || md5('${tag}' || i), 'text/plain', 'confirmed', 'bench/${tag}/' || i,
               ts, ts, ts, ts + interval '1 day'
          FROM generate_series(${lo}, ${hi}) i,
               LATERAL (SELECT timestamptz '2025-01-01' + i * interval '1 second' AS ts) t`);
      await run(`
        INSERT INTO readings (id, org_id, upload_id, kind, status, job_id, content, created_at, updated_at)
        SELECT ${id('reading', tag, 'i')}, '${org}', ${id('upload', tag, 'i')}, 'text', 'ready', gen_random_uuid(),
               '{"encoding": "utf-8", "line_count": 1}'::jsonb, ts, ts
          FROM generate_series(${lo}, ${hi}) i,
               LATERAL (SELECT timestamptz '2025-01-01' + i * interval '1 second' AS ts) t`);
    }
    // Pieces: text made here, two statements at a time (the tsvector column costs PostgreSQL the most).
    const random = prng(1000 + tag);
    let next = 1;
    const makeBatch = () => {
      if (next > count) return null;
      const ids: number[] = [];
      const bodies: string[] = [];
      for (; next <= count && ids.length < BATCH; next++) {
        // Rare word r in the pieces i ≡ r·(rareEvery / rareWords) (mod rareEvery): rareCount pieces each.
        const slot = next % rareEvery;
        const r = slot % Math.floor(rareEvery / rareWords.length) === 0 ? slot / Math.floor(rareEvery / rareWords.length) : -1;
        ids.push(next);
        bodies.push(pieceText(random, vocab, r >= 0 && r < rareWords.length ? rareWords[r] : null));
      }
      return { ids, bodies };
    };
    const insert = async (batch: { ids: number[]; bodies: string[] }) =>
      sql`
        INSERT INTO reading_chunks (reading_id, chunk, org_id, upload_id, body)
        SELECT ${sql.raw(id('reading', tag, 't.i'))}, 0, ${org}, ${sql.raw(id('upload', tag, 't.i'))}, t.body
          FROM unnest(${batch.ids}::int[], ${batch.bodies}::text[]) AS t(i, body)`.execute(db);
    const worker = async () => {
      for (let batch = makeBatch(); batch; batch = makeBatch()) await insert(batch);
    };
    await Promise.all([worker(), worker()]);
  };
  await seedRows(h.orgId, 1, readings, Math.floor(readings / RARE_PIECES), RARE_WORDS);
  await seedRows(h.otherOrgId, 2, others, Math.floor(others / RARE_IN_OTHER_ORG), [RARE_WORDS[0]]);
  const loadSeconds = (performance.now() - seedStarted) / 1000;
  await db.connection().execute(async (conn) => {
    await sql`SET maintenance_work_mem = '1GB'`.execute(conn);
    for (const index of gin.rows) await sql.raw(index.indexdef).execute(conn);
    await sql`RESET maintenance_work_mem`.execute(conn);
  });
  const indexSeconds = (performance.now() - seedStarted) / 1000 - loadSeconds;
  for (const table of ['uploads', 'readings', 'reading_chunks']) await run(`VACUUM ANALYZE ${table}`);
  // The load left gigabytes of dirty pages: written now, not by a checkpoint in the middle of the measurements.
  await run('CHECKPOINT').catch((error: Error) =>
    console.log(`  (CHECKPOINT refused: ${error.message}; a checkpoint may write during the measurements)`),
  );
  const seedSeconds = (performance.now() - seedStarted) / 1000;
  const sizes = await sql<{ name: string; size: string }>`
    SELECT c.relname AS name, pg_size_pretty(pg_total_relation_size(c.oid)) AS size FROM pg_class c
     WHERE c.relname IN ('uploads', 'readings', 'reading_chunks', 'reading_chunks_search_idx', 'uploads_name_search_idx')`.execute(db);
  console.log(
    `  seed        : ${readings.toLocaleString('en')} uploads + readings + pieces in the org, ${others.toLocaleString('en')} in another, in ${fmt(seedSeconds, 1)} s (${fmt(loadSeconds, 1)} s insert, ${fmt(indexSeconds, 1)} s GIN indexes, ${fmt(seedSeconds - loadSeconds - indexSeconds, 1)} s VACUUM ANALYZE and CHECKPOINT)`,
  );
  console.log(`  sizes       : ${sizes.rows.map((r) => `${r.name} ${r.size}`).join(', ')}`);

  // Every query word must be a word to the parser (not a stop word), or the case would measure nothing.
  const common = vocab[0];
  const cases: SearchCase[] = [
    {
      name: 'rare word',
      q: RARE_WORDS[0],
      expect: (n, capped) =>
        n === RARE_PIECES && !capped ? null : `expected ${RARE_PIECES} (the other org's ${RARE_IN_OTHER_ORG} not counted)`,
    },
    { name: 'commonest word', q: common },
    { name: 'two words', q: `${vocab[9]} ${vocab[29]}` },
    { name: 'phrase', q: `"${vocab[1]} ${vocab[2]}"` },
    { name: 'name-only word', q: NAME_WORDS[0] },
    { name: 'no match', q: NOTHING, expect: (n) => (n === 0 ? null : 'expected 0') },
  ];
  const frequency = await sql<{ word: string; pieces: number }>`
    SELECT w AS word, (SELECT count(*)::int FROM reading_chunks c WHERE c.org_id = ${h.orgId} AND c.tsv @@ plainto_tsquery('english', w)) AS pieces
      FROM unnest(${[common, vocab[1], vocab[2], vocab[9], vocab[29]]}::text[]) w`.execute(db);
  console.log(
    `  words       : ${frequency.rows.map((r) => `"${r.word}" in ${r.pieces.toLocaleString('en')} pieces`).join(', ')}; "${RARE_WORDS[0]}" in ${RARE_PIECES} (+${RARE_IN_OTHER_ORG} in the other org); "${NAME_WORDS[0]}" in ${Math.round((2 * readings) / NAME_WORDS.length).toLocaleString('en')} names`,
  );
  console.log(
    `  requests    : ${requests} per query, sequential, after 10 unmeasured; candidates per source ${SEARCH_CANDIDATES}; target p99 < ${TARGET_P99_MS} ms`,
  );
  console.log('');

  const textCandidates = (q: string) => sql`
    SELECT DISTINCT ON (upload_id) upload_id, reading_id, chunk, rank FROM (
      SELECT c.upload_id, c.reading_id, c.chunk, ts_rank_cd(c.tsv, websearch_to_tsquery('english', ${q})) AS rank
        FROM reading_chunks c JOIN uploads u ON u.id = c.upload_id
       WHERE c.org_id = ${h.orgId} AND c.tsv @@ websearch_to_tsquery('english', ${q})
         AND u.deleted_at IS NULL AND u.blob_purged_at IS NULL
       LIMIT ${SEARCH_CANDIDATES}) hits
    ORDER BY upload_id, rank DESC`;
  const nameCandidates = (q: string) => sql`
    SELECT id, ts_rank(name_tsv, name_query(${q})) AS rank
      FROM uploads
     WHERE org_id = ${h.orgId} AND name_tsv @@ name_query(${q})
       AND deleted_at IS NULL AND status = 'confirmed'
     LIMIT ${SEARCH_CANDIDATES}`;
  /** EXPLAIN (ANALYZE, BUFFERS) of the query, in a transaction with `settings` (SET LOCAL …) applied first. */
  const explain = (query: ReturnType<typeof sql>, settings: string[] = []) =>
    db.transaction().execute(async (tx) => {
      for (const setting of settings) await sql.raw(setting).execute(tx);
      const compiled = query.compile(tx);
      const result = await tx.executeQuery<Record<string, string>>({ ...compiled, sql: `EXPLAIN (ANALYZE, BUFFERS) ${compiled.sql}` });
      return result.rows.map((r) => Object.values(r)[0]);
    });
  const execMs = (lines: string[]) => Number(/Execution Time: ([\d.]+)/.exec(lines.join('\n'))?.[1] ?? NaN);
  /** A plan with a Gather pays for starting its workers; the same query without them, for comparison. */
  const SERIAL = ['SET LOCAL max_parallel_workers_per_gather = 0'];

  const key = h.keys.admin;
  const failing: string[] = [];
  const plans: string[] = [];
  let nameLine = '';
  const breakdowns: string[] = [];
  console.log(
    `  ${'query'.padEnd(16)} ${'q'.padEnd(22)} ${'count'.padStart(6)} ${'capped'.padStart(6)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}  verdict  text candidates (EXPLAIN ANALYZE)`,
  );
  const measure = async (c: SearchCase) => {
    const route = `/api/v1/search?q=${encodeURIComponent(c.q)}`;
    let count = -1;
    let capped = false;
    const call = async () => {
      const answer = await h.api('GET', route, { key });
      if (answer.status !== 200 || !Array.isArray(answer.body?.data))
        throw new InvalidRun(`GET ${route} answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 300)}`);
      count = answer.body.count;
      capped = answer.body.count_capped === true;
    };
    for (let i = 0; i < 10; i++) await call();
    const wrong = c.expect?.(count, capped);
    if (wrong) throw new InvalidRun(`${c.name} (q=${c.q}) answered count ${count}${capped ? ' (capped)' : ''}: ${wrong}`);
    const times: number[] = [];
    profile.ms.clear();
    profile.on = true;
    for (let i = 0; i < requests; i++) {
      const t = performance.now();
      await call();
      times.push(performance.now() - t);
    }
    profile.on = false;
    times.sort((a, b) => a - b);
    const statements = [...profile.ms]
      .sort((a, b) => b[1] - a[1])
      .map(([what, ms]) => `${what} ${fmt(ms / requests, 1)}`)
      .join(', ');
    const mean = times.reduce((a, b) => a + b, 0) / times.length;
    return {
      count,
      capped,
      p50: percentile(times, 50),
      p99: percentile(times, 99),
      breakdown: `mean ${fmt(mean, 1)} ms; statements (mean ms in flight, some run side by side): ${statements}`,
    };
  };
  for (const c of cases) {
    const { count, capped, p50, p99, breakdown } = await measure(c);
    breakdowns.push(`  ${c.name.padEnd(16)} ${breakdown}`);
    const ok = p99 < TARGET_P99_MS;
    if (!ok) failing.push(c.name);
    const lines = await explain(textCandidates(c.q));
    const scans = lines
      .filter((l) => /Scan/.test(l))
      .map((l) =>
        l
          .trim()
          .replace(/^->\s*/, '')
          .replace(/\s+\(cost=.*$/, ''),
      );
    const exec = execMs(lines);
    const parallel = lines.some((l) => /Gather/.test(l));
    const serial = parallel ? await explain(textCandidates(c.q), SERIAL) : null;
    console.log(
      `  ${c.name.padEnd(16)} ${c.q.padEnd(22)} ${String(count).padStart(6)} ${String(capped).padStart(6)} ${fmt(p50, 2).padStart(8)} ${fmt(p99, 2).padStart(8)}  ${verdict(ok).padEnd(7)}  ${scans.slice(0, 2).join(' / ')}; ${fmt(exec, 1)} ms${serial ? ` (${fmt(execMs(serial), 1)} ms without parallel workers)` : ''}`,
    );
    plans.push(`  ${c.name} (q=${c.q}), text candidates:`, ...lines.map((l) => `    ${l}`));
    if (serial) plans.push(`  ${c.name} (q=${c.q}), text candidates, ${SERIAL[0]}:`, ...serial.map((l) => `    ${l}`));
    if (c.name === 'name-only word') {
      const names = await explain(nameCandidates(c.q));
      nameLine = `  names query for "${c.q}": ${fmt(execMs(names), 1)} ms (${
        names
          .find((l) => /Bitmap Index Scan/.test(l))
          ?.trim()
          .replace(/^->\s*/, '')
          .replace(/\s+\(cost=[^)]*\)/, '') ?? names[0]?.trim()
      })`;
      plans.push(`  ${c.name} (q=${c.q}), name candidates:`, ...names.map((l) => `    ${l}`));
    }
  }
  if (nameLine) console.log(nameLine);
  console.log('  where the time goes, per request:');
  for (const line of breakdowns) console.log(line);
  console.log('');
  console.log(
    failing.length
      ? `FAIL: ${failing.length} of ${cases.length} queries over ${TARGET_P99_MS} ms p99 at ${readings.toLocaleString('en')} readings: ${failing.join(', ')}`
      : `PASS: every query under ${TARGET_P99_MS} ms p99 at ${readings.toLocaleString('en')} readings`,
  );
  console.log('');
  console.log('Plans (EXPLAIN (ANALYZE, BUFFERS), after the measured requests)');
  for (const line of plans) console.log(line);
  return 0;
}

void runBenchmark(main);
