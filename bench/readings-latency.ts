/**
 * `npm run bench:readings-latency`: how long a small file's reading takes to be ready after its upload is
 * confirmed, with the pipeline idle (target: p50 under 1 s).
 *
 *   node --import tsx bench/readings-latency.ts
 *
 * The whole service runs in this process (bench/lib.ts startBenchService) with its worker on and the
 * production job poll period (STOWAGE_JOB_POLL_SECONDS=1, the default; the worker is also woken when a
 * job is enqueued in this process). Two series, each of BENCH_UPLOADS sequential uploads (after 2
 * unmeasured), alternately a .txt and a .csv with bytes of their own (no deduplication):
 *   - small: ~1.5 KiB, under the 64 KiB up to which text-like kinds are read in the worker itself
 *     (src/readings/extract.ts IN_PROCESS_MAX_BYTES) — the target's case;
 *   - over the limit: ~96 KiB, read in the sandboxed child, so its start is paid (shown for scale).
 * Each: a streamed upload (POST /api/v1/uploads, multipart form), which answers confirmed; then
 * GET /api/v1/readings?data_source_id=… every 20 ms until the reading is no longer pending. Latency: from
 * the upload's answer to the poll that sees it ready.
 *
 * Where the time goes, from the processing job's row (same clock, same machine): queue wait (job
 * created → started; the job is created in the upload's transaction, before the answer), the job's run
 * (started → finished: the download of the bytes, the extraction, the commit) and the rest (finished →
 * seen, mostly the 20 ms poll). The extraction alone is measured too, apart from the service:
 * extractReading on files of both sizes, as the service here runs it (src/ under tsx: a .ts child with
 * the tsx loader) and, when dist/ is built and fresh, as production does (compiled, plain node child).
 *
 * Environment:
 *   BENCH_UPLOADS   measured uploads per series (default 30)
 *   DATABASE_URL    a PostgreSQL server to use (a scratch database is created and dropped on it);
 *                   unset: an embedded server is started in a temporary folder and stopped at the end
 *
 * Exit code: 0 when the small files' p50 is under the target; 1 when it is not or the run is invalid;
 * 2 on a crash.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { sql } from 'kysely';
import {
  InvalidRun,
  beforeStartLine,
  busyCoresBeforeStart,
  envInt,
  fmt,
  median,
  onCleanup,
  machineLine,
  postgresForService,
  runBenchmark,
  sleep,
  startBenchService,
  verdict,
} from './lib.js';

const TARGET_P50_MS = 1000;
const POLL_MS = 20;
const WARMUP = 2;
const ROOT = path.resolve(import.meta.dirname, '..');
const LIMITS = { timeoutMs: 120_000, maxMemoryMb: 1024 };
/** The sizes of the two series: well under and just over the 64 KiB read in process. */
const SERIES = [
  { name: 'small (~1.5 KiB, read in the worker)', label: 'small', bytes: 1500 },
  { name: 'over 64 KiB (~96 KiB, sandboxed child)', label: 'over 64 KiB', bytes: 96 * 1024 },
] as const;
/** The modules an extraction runs, as src/ and dist/ name them (without extension): dist/ must be newer than each. */
const MODULES = [
  'readings/extract',
  'readings/extract-here',
  'readings/extract-child',
  'readings/reading',
  'readings/extractors/csv',
  'readings/extractors/text',
  'readings/extractors/json',
  'sandbox/run-child',
  'sandbox/memory',
];

type Kind = 'text' | 'csv';

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** A file of about `bytes` bytes with bytes of its own: lines of text, or a CSV with a header. */
function makeFile(i: number, bytes: number): { name: string; text: string; kind: Kind } {
  const tag = randomUUID();
  if (i % 2 === 0) {
    const lines: string[] = [];
    for (let n = 0, size = 0; size < bytes; n++) {
      const line = `Line ${n + 1} of note ${i} (${tag}): the pallet left dock ${n % 7}.`;
      lines.push(line);
      size += line.length + 1;
    }
    return { name: `note-${i}.txt`, text: lines.join('\n') + '\n', kind: 'text' };
  }
  const rows: string[] = [];
  for (let n = 0, size = 0; size < bytes; n++) {
    const row = `${n + 1},${tag.slice(0, 8)}-${n},${(n * 3.25).toFixed(2)},shipped`;
    rows.push(row);
    size += row.length + 1;
  }
  return { name: `orders-${i}.csv`, text: `id,ref,amount,status\n${rows.join('\n')}\n`, kind: 'csv' };
}

interface Sample {
  kind: Kind;
  latencyMs: number;
  /** Job created → started, started → finished, finished → seen by the poll; ms. */
  waitMs: number;
  runMs: number;
  seenMs: number;
  polls: number;
}

/** dist/ is usable when every module's build is there and not older than its source. */
async function distFresh(): Promise<boolean> {
  for (const module of MODULES) {
    const source = path.join(ROOT, 'src', `${module}.ts`);
    if (!existsSync(source)) continue;
    const built = path.join(ROOT, 'dist', `${module}.js`);
    if (!existsSync(built) || (await stat(built)).mtimeMs < (await stat(source)).mtimeMs) return false;
  }
  return true;
}

async function main(): Promise<number> {
  const uploads = envInt('BENCH_UPLOADS', 30, 4, 10_000);
  const busyBefore = await busyCoresBeforeStart();
  console.log('Stowage readings latency benchmark (confirmed upload → reading ready, pipeline idle)');
  console.log(machineLine());
  console.log(beforeStartLine(busyBefore));

  await postgresForService();
  const { harness: h } = await startBenchService({ STOWAGE_JOB_POLL_SECONDS: '1' }, { storage: 'local', worker: true });
  const db = h.runtime.database.db;
  const key = h.keys.writer;
  console.log(
    `  service     : in-process, worker on, job poll ${h.config.jobs.pollingIntervalSeconds} s (woken on enqueue), reading limits ${h.config.readings.maxMemoryMb} MB / ${h.config.readings.timeoutSeconds} s; a child extraction here is src/ under tsx`,
  );
  console.log(
    `  plan        : per series ${uploads} streamed uploads (+${WARMUP} unmeasured), sequential, .txt and .csv alternately; poll every ${POLL_MS} ms`,
  );
  console.log('');

  const upload = async (name: string, text: string): Promise<string> => {
    const form = new FormData();
    form.append('file', new Blob([text], { type: 'application/octet-stream' }), name);
    const answer = await fetch(`${h.url}/api/v1/uploads`, { method: 'POST', headers: { 'x-api-key': key }, body: form });
    const body = (await answer.json()) as { id?: string; status?: string };
    if (answer.status !== 201 || !body.id) throw new InvalidRun(`streamed upload → ${answer.status} ${JSON.stringify(body)}`);
    if (body.status !== undefined && body.status !== 'confirmed') throw new InvalidRun(`streamed upload answered status ${body.status}`);
    return body.id;
  };

  const measure = async (bytes: number): Promise<Sample[]> => {
    const samples: Sample[] = [];
    for (let i = 0; i < WARMUP + uploads; i++) {
      const file = makeFile(i, bytes);
      const id = await upload(file.name, file.text);
      const answeredAt = performance.now();
      const answeredWall = Date.now();
      let polls = 0;
      let reading: { status: string; kind: string; error?: unknown } | undefined;
      for (;;) {
        const answer = await h.api('GET', `/api/v1/readings?data_source_id=${id}`, { key });
        polls++;
        if (answer.status !== 200)
          throw new InvalidRun(`GET /readings?data_source_id=${id} → ${answer.status} ${JSON.stringify(answer.body)}`);
        reading = answer.body.data?.[0];
        if (reading && reading.status !== 'pending') break;
        if (performance.now() - answeredAt > 60_000) throw new InvalidRun(`the reading of ${file.name} was still pending after 60 s`);
        await sleep(POLL_MS);
      }
      const latencyMs = performance.now() - answeredAt;
      if (reading.status !== 'ready')
        throw new InvalidRun(`the reading of ${file.name} is ${reading.status}: ${JSON.stringify(reading.error)}`);
      if (reading.kind !== file.kind) throw new InvalidRun(`the reading of ${file.name} is of kind ${reading.kind}, not ${file.kind}`);
      const job = await sql<{ created_at: Date; started_at: Date | null; finished_at: Date | null }>`
        SELECT created_at, started_at, finished_at FROM jobs
         WHERE subject_id = ${id} AND kind = 'process' ORDER BY created_at DESC LIMIT 1`.execute(db);
      const row = job.rows[0];
      if (!row?.started_at || !row.finished_at) throw new InvalidRun(`no finished processing job for ${file.name}`);
      if (i < WARMUP) continue;
      samples.push({
        kind: file.kind,
        latencyMs,
        waitMs: row.started_at.getTime() - row.created_at.getTime(),
        runMs: row.finished_at.getTime() - row.started_at.getTime(),
        seenMs: answeredWall + latencyMs - row.finished_at.getTime(),
        polls,
      });
    }
    return samples;
  };
  const results = [];
  for (const series of SERIES) results.push({ series, samples: await measure(series.bytes) });

  // The extraction alone, apart from the service: as it runs here (src/, tsx child) and in production (dist/).
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'stowage-bench-readings-latency-'));
  onCleanup('remove the scratch folder', () => rm(scratch, { recursive: true, force: true }));
  type Alone = { ms: number; rss: number };
  const extractionAlone = async (from: 'src' | 'dist', bytes: number): Promise<Alone | null> => {
    if (from === 'dist' && !(await distFresh())) return null;
    const module = path.join(ROOT, from, from === 'dist' ? 'readings/extract.js' : 'readings/extract.ts');
    const { extractReading } = (await import(pathToFileURL(module).href)) as typeof import('../src/readings/extract.js');
    const times: number[] = [];
    const rss: number[] = [];
    for (let i = 0; i < 10; i++) {
      const file = makeFile(i, bytes);
      const input = path.join(scratch, `${from}-${bytes}-${file.name}`);
      await writeFile(input, file.text);
      const work = await mkdtemp(path.join(scratch, 'work-'));
      const result = await extractReading(input, file.kind, work, LIMITS);
      if (i >= 2) times.push(result.ms);
      rss.push(result.peakRssMb);
      await rm(work, { recursive: true, force: true });
    }
    return { ms: median(times), rss: median(rss) };
  };
  const alone = [];
  for (const series of SERIES)
    alone.push({ src: await extractionAlone('src', series.bytes), dist: await extractionAlone('dist', series.bytes) });

  const part = (samples: Sample[], pick: (s: Sample) => number) => {
    const values = samples.map(pick).sort((a, b) => a - b);
    return `p50 ${fmt(percentile(values, 50), 0)} / max ${fmt(values[values.length - 1], 0)} ms`;
  };
  const aloneText = (figures: Alone | null) =>
    figures
      ? `${fmt(figures.ms, 0)} ms${figures.rss > 0 ? `, child peak RSS ${fmt(figures.rss, 0)} MB` : ' (in process, no child)'}`
      : 'not measured (dist/ missing or older than src/: npm run build)';
  let smallP50 = NaN;
  for (const [n, { series, samples }] of results.entries()) {
    const all = samples.map((s) => s.latencyMs).sort((a, b) => a - b);
    const p50 = percentile(all, 50);
    if (n === 0) smallP50 = p50;
    const byKind = (kind: Kind) => median(samples.filter((s) => s.kind === kind).map((s) => s.latencyMs));
    const runP50 = percentile(
      samples.map((s) => s.runMs).sort((a, b) => a - b),
      50,
    );
    const { src, dist } = alone[n];
    console.log(`Series: ${series.name}, ${uploads} uploads`);
    console.log(
      `  latency     : p50 ${fmt(p50, 0)} ms, p90 ${fmt(percentile(all, 90), 0)} ms, max ${fmt(all[all.length - 1], 0)} ms (min ${fmt(all[0], 0)} ms); .txt p50 ${fmt(byKind('text'), 0)} ms, .csv p50 ${fmt(byKind('csv'), 0)} ms; ${fmt(median(samples.map((s) => s.polls)), 0)} polls each (median)`,
    );
    console.log(`  queue wait  : ${part(samples, (s) => s.waitMs)}  (job created in the upload's transaction → picked up by the worker)`);
    console.log(`  job run     : ${part(samples, (s) => s.runMs)}  (download of the bytes, extraction, commit of the reading)`);
    console.log(`  seen after  : ${part(samples, (s) => s.seenMs)}  (job finished → the poll that saw it; ${POLL_MS} ms poll period)`);
    console.log(`  extraction  : alone, median of 8: src/ (as here) ${aloneText(src)}; dist/ (production) ${aloneText(dist)}`);
    if (src) {
      const waitP50 = percentile(
        samples.map((s) => s.waitMs).sort((a, b) => a - b),
        50,
      );
      const parts = [
        { what: 'the extraction', ms: src.ms },
        { what: 'the rest of the job (download, commit)', ms: runP50 - src.ms },
        { what: 'the queue wait', ms: waitP50 },
      ].sort((a, b) => b.ms - a.ms);
      console.log(
        `  dominant    : ${parts[0].what}, ≈ ${fmt(parts[0].ms, 0)} ms of the ${fmt(p50, 0)} ms p50 (then ${parts[1].what} ≈ ${fmt(parts[1].ms, 0)} ms, ${parts[2].what} ≈ ${fmt(parts[2].ms, 0)} ms)`,
      );
      if (dist && src.rss > 0)
        console.log(
          `  production  : with the dist/ child the p50 would be ≈ ${fmt(p50 - (src.ms - dist.ms), 0)} ms (its child starts ${fmt(src.ms - dist.ms, 0)} ms sooner than a tsx one)`,
        );
    }
    console.log(
      `  vs 1 s      : p50 ${fmt(p50, 0)} ms, ${verdict(p50 < TARGET_P50_MS)}${n === 0 ? ' (the target)' : ' (for scale; the target is about small files)'}`,
    );
    console.log('');
  }
  const ok = smallP50 < TARGET_P50_MS;
  console.log(
    `Target: confirm-to-reading p50 < ${TARGET_P50_MS} ms for a small file, pipeline idle: ${fmt(smallP50, 0)} ms, ${verdict(ok)}`,
  );
  return ok ? 0 : 1;
}

void runBenchmark(main);
