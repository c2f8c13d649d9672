/**
 * `npm run bench:readings-csv`: the CSV reading of a big file against csv-parse alone streaming the same
 * file, measured in the same run, and the extractor's peak memory at two sizes.
 *
 *   node --import tsx bench/readings-csv.ts
 *
 * Input: a CSV of BENCH_CSV_MIB MiB (default 1,024) written to a temporary folder: a header and 8 columns
 * (id, time, customer, city, amount, quantity, status, comment), some cells non-ASCII; one comment in 7
 * quoted with a comma, one in 53 quoted with a newline inside, one in 97 with escaped quotes (""). Also a
 * file of 1/8 the size, made the same way. Both are read once before measuring (page cache warm for all).
 * Then, each in a process of its own:
 *   - the baseline: csv-parse alone, streaming the file (1 MiB reads) with the options the extractor gives
 *     it, counting records; parse time, and peak RSS (VmHWM) of that child;
 *   - the reading: extractReading(file, 'csv', workDir, limits) from src/readings/extract.ts, the real
 *     sandboxed child, as the processing job runs it; its time (child start and module load included)
 *     and peak RSS as the sandbox reports them;
 *   - the reading again on the 1/8 file: its peak RSS must not grow with the size.
 * Valid only if csv-parse counts the records written, and the reading's row_count is that minus the header.
 *
 * Targets: the reading ≥ 0.5 × csv-parse's MB/s on the big file; the reading's peak RSS flat in the file
 * size (the big file's within max(16 MB, 10 %) of the 1/8 file's).
 *
 * By default the reading runs the compiled dist/ (plain node child, as production does) when dist/ is
 * there and not older than src/; otherwise, or with BENCH_FROM=src, src/ under tsx (a child that starts
 * slower and takes more memory; the report says which ran).
 *
 * Environment: BENCH_CSV_MIB, BENCH_RUNS (default 1; medians), BENCH_FROM (dist|src).
 * Exit code: 0 when both targets are met; 1 when one is not or the run is invalid; 2 on a crash.
 */
import { spawn } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { mkdtemp, open, rm, stat, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import {
  InvalidRun,
  MIB,
  beforeStartLine,
  busyCoresBeforeStart,
  envInt,
  fmt,
  median,
  onCleanup,
  runBenchmark,
  sizeLabel,
  verdict,
} from './lib.js';

const TARGET_RATIO = 0.5;
const ROOT = path.resolve(import.meta.dirname, '..');
/** What the reading of the big file may take: far over the expected, so that only a real hang stops it. */
const LIMITS = { timeoutMs: 30 * 60_000, maxMemoryMb: 1024 };
/** The modules the CSV reading runs, as src/ and dist/ name them (without extension). */
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

/**
 * The baseline child, an ES module run with `node -e` from the project root (csv-parse resolves there):
 * csv-parse alone with the extractor's options, counting records. Prints the figures as JSON.
 */
const BASELINE_SOURCE = `
import { createReadStream, readFileSync } from 'node:fs';
import { parse } from 'csv-parse';
const [file] = process.argv.slice(1);
const cpuAt = process.cpuUsage();
const at = performance.now();
let records = 0;
await new Promise((resolve, reject) => {
  const source = createReadStream(file, { highWaterMark: 1 << 20 });
  const parser = parse({ delimiter: ',', bom: true, relax_column_count: true, relax_quotes: true, skip_empty_lines: true, max_record_size: 1 << 20 });
  source.on('error', reject);
  parser.on('error', reject);
  parser.on('readable', () => { while (parser.read() !== null) records++; });
  parser.on('end', resolve);
  source.pipe(parser);
});
const ms = performance.now() - at;
const cpu = process.cpuUsage(cpuAt);
const hwm = Number(/^VmHWM:\\s+(\\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN);
console.log(JSON.stringify({ records, ms, cpuMs: (cpu.user + cpu.system) / 1000, peakRssMb: hwm / 1024 }));
`;

interface Written {
  file: string;
  bytes: number;
  /** Records written, the header included. */
  records: number;
}

// ---------------------------------------------------------------------------------------------------
// The file

/** A small deterministic generator (mulberry32): the same file for the same size, run after run. */
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

const FIRST = ['Anna', 'Bruno', 'Chloé', 'Dmitri', 'Emeka', 'Fatima', 'Günther', 'Hiro', 'Inés', 'Jonas', 'Kofi', 'Lena', 'Mateo', 'Noor'];
const LAST = ['Smith', 'Müller', 'García', 'Okafor', 'Tanaka', 'Rossi', 'Novak', 'Dubois', 'Kowalski', 'Silva', 'Haddad', 'Jensen'];
const CITIES = ['London', 'Zürich', 'São Paulo', 'Lagos', 'Osaka', 'Kraków', 'Montréal', 'Austin', 'Pune', 'Malmö', 'Cork', 'Lyon'];
const STATUSES = ['shipped', 'pending', 'delivered', 'returned', 'cancelled'];
const WORDS = ['pallet', 'left', 'at', 'dock', 'signed', 'by', 'the', 'driver', 'fragile', 'box', 'customer', 'asked', 'for', 'a', 'call'];

/**
 * Writes a CSV of at least `bytes` bytes (ends on a record), 1 MiB at a time; answers what it wrote.
 * The mix: plain cells, quoted cells with commas, newlines and escaped quotes inside, UTF-8 names.
 */
async function writeCsv(file: string, bytes: number): Promise<Written> {
  const random = prng(20261202);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];
  const words = (n: number) => Array.from({ length: n }, () => pick(WORDS)).join(' ');
  const handle = await open(file, 'w');
  let written = 0;
  let records = 1;
  try {
    let chunk = 'id,created_at,customer,city,amount,quantity,status,comment\n';
    for (let i = 1; written < bytes; i++) {
      const time = new Date(Date.UTC(2025, 0, 1) + i * 37_000).toISOString();
      let comment: string;
      if (i % 97 === 0) comment = `"she said ""${pick(WORDS)}"", ${words(3)}"`;
      else if (i % 53 === 0) comment = `"${words(4)}\n${words(3)}, ${words(2)}"`;
      else if (i % 7 === 0) comment = `"${words(3)}, ${words(4)}"`;
      else comment = words(2 + Math.floor(random() * 5));
      chunk += `${i},${time},${pick(FIRST)} ${pick(LAST)},${pick(CITIES)},${(random() * 10_000).toFixed(2)},${1 + Math.floor(random() * 40)},${pick(STATUSES)},${comment}\n`;
      records++;
      if (chunk.length >= MIB) {
        const buffer = Buffer.from(chunk, 'utf8');
        await handle.write(buffer);
        written += buffer.length;
        chunk = '';
      }
    }
    if (chunk) {
      const buffer = Buffer.from(chunk, 'utf8');
      await handle.write(buffer);
      written += buffer.length;
    }
  } finally {
    await handle.close();
  }
  return { file, bytes: written, records };
}

/** Reads the file to its end (into the page cache, for every reader alike); answers MB/s. */
async function readThrough(file: string, bytes: number): Promise<number> {
  const at = performance.now();
  for await (const _chunk of createReadStream(file, { highWaterMark: MIB })) {
    // nothing: the read is the point
  }
  return bytes / MIB / ((performance.now() - at) / 1000);
}

// ---------------------------------------------------------------------------------------------------
// The readers

/** Runs `node ARGS` to its end: its last stdout line parsed as JSON, and its wall clock. */
function runNode<T>(args: string[]): Promise<{ figures: T; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      if (code !== 0) return reject(new InvalidRun(`node child exited ${code}: ${stderr.trim().slice(-800)}`));
      resolve({ figures: JSON.parse(stdout.trim().split('\n').pop()!) as T, ms });
    });
  });
}

interface BaselineFigures {
  records: number;
  ms: number;
  cpuMs: number;
  peakRssMb: number;
}

async function csvParseAlone(input: Written): Promise<BaselineFigures & { wallMs: number }> {
  const { figures, ms } = await runNode<BaselineFigures>(['--input-type=module', '-e', BASELINE_SOURCE, input.file]);
  if (figures.records !== input.records)
    throw new InvalidRun(`csv-parse counted ${figures.records} records in ${input.file}, ${input.records} were written`);
  return { ...figures, wallMs: ms };
}

type ExtractModule = typeof import('../src/readings/extract.js');

interface ReadingFigures {
  ms: number;
  peakRssMb: number;
  rowCount: number;
}

async function readCsv(extract: ExtractModule, input: Written, scratch: string): Promise<ReadingFigures> {
  const work = await mkdtemp(path.join(scratch, 'work-'));
  try {
    const result = await extract.extractReading(input.file, 'csv', work, LIMITS);
    const content = result.content as { row_count?: unknown; header?: unknown };
    if (!Array.isArray(content.header)) throw new InvalidRun(`the reading found no header in ${input.file}: ${JSON.stringify(content)}`);
    if (content.row_count !== input.records - 1)
      throw new InvalidRun(
        `the reading answered row_count ${String(content.row_count)}; csv-parse counted ${input.records} records with the header`,
      );
    return { ms: result.ms, peakRssMb: result.peakRssMb, rowCount: content.row_count };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** dist/ when it is there and not older than any src/ module the reading runs; otherwise why not. */
async function chooseBuild(): Promise<{ from: 'dist' | 'src'; note: string }> {
  const wanted = process.env.BENCH_FROM?.trim() || 'dist';
  if (wanted !== 'src' && wanted !== 'dist') throw new Error(`BENCH_FROM must be src or dist, got "${wanted}"`);
  if (wanted === 'src')
    return { from: 'src', note: 'src/ under tsx (BENCH_FROM=src): the child starts slower and takes more memory than production' };
  for (const module of MODULES) {
    const source = path.join(ROOT, 'src', `${module}.ts`);
    if (!existsSync(source)) continue;
    const built = path.join(ROOT, 'dist', `${module}.js`);
    if (!existsSync(built))
      return { from: 'src', note: `src/ under tsx: ${path.relative(ROOT, built)} is missing (npm run build first to measure production)` };
    if ((await stat(built)).mtimeMs < (await stat(source)).mtimeMs)
      return { from: 'src', note: `src/ under tsx: ${path.relative(ROOT, built)} is older than its source (npm run build first)` };
  }
  return { from: 'dist', note: 'dist/ (compiled, plain node child, as in production)' };
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const mib = envInt('BENCH_CSV_MIB', 1024, 16, 64 * 1024);
  const runs = envInt('BENCH_RUNS', 1, 1, 20);
  const build = await chooseBuild();
  const extract = (await import(
    pathToFileURL(path.join(ROOT, build.from, build.from === 'dist' ? 'readings/extract.js' : 'readings/extract.ts')).href
  )) as ExtractModule;
  const busyBefore = await busyCoresBeforeStart();

  console.log('Stowage readings benchmark (CSV: the sandboxed reading against csv-parse alone)');
  console.log(
    `  machine     : ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}, ${fmt(os.totalmem() / 1024 ** 3, 0)} GiB RAM`,
  );
  console.log(beforeStartLine(busyBefore));
  console.log(`  reading     : ${build.note}; limits ${LIMITS.maxMemoryMb} MB, ${LIMITS.timeoutMs / 60_000} min`);

  const scratch = await mkdtemp(path.join(os.tmpdir(), 'stowage-bench-readings-csv-'));
  onCleanup('remove the scratch folder', () => rm(scratch, { recursive: true, force: true }));
  const fs = await statfs(scratch);
  const free = fs.bavail * fs.bsize;
  const needed = mib * MIB * 1.15 + 256 * MIB;
  console.log(`  disk        : ${fmt(free / 1024 ** 3, 1)} GiB free in ${scratch}, ${fmt(needed / 1024 ** 3, 1)} GiB needed`);
  if (free < needed) throw new Error(`not enough disk in ${scratch} (set TMPDIR elsewhere or lower BENCH_CSV_MIB)`);

  const writeAt = performance.now();
  const big = await writeCsv(path.join(scratch, 'big.csv'), mib * MIB);
  const small = await writeCsv(path.join(scratch, 'small.csv'), (mib / 8) * MIB);
  const writeSeconds = (performance.now() - writeAt) / 1000;
  console.log(
    `  input       : ${sizeLabel(mib)} CSV (${big.bytes.toLocaleString('en')} bytes, ${big.records.toLocaleString('en')} records with the header, 8 columns; 1 in 7 quoted with a comma, 1 in 53 with a newline, 1 in 97 with ""), and a 1/8 one (${fmt(small.bytes / MIB, 0)} MiB, ${small.records.toLocaleString('en')} records); written in ${fmt(writeSeconds, 1)} s`,
  );
  const readBig = await readThrough(big.file, big.bytes);
  const readSmall = await readThrough(small.file, small.bytes);
  console.log(
    `  plain read  : ${fmt(readBig, 0)} MB/s (big), ${fmt(readSmall, 0)} MB/s (1/8) — page cache warm for every reader after this`,
  );
  const idle = await runNode<{ hwm: number }>([
    '-e',
    `console.log(JSON.stringify({ hwm: Number(/^VmHWM:\\s+(\\d+) kB/m.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1]) / 1024 }))`,
  ]);
  console.log(`  idle node   : ${fmt(idle.figures.hwm, 0)} MB peak RSS (for scale)`);
  console.log(`  plan        : ${runs} run(s): csv-parse alone (big), reading (big), reading (1/8), csv-parse alone (1/8)`);
  console.log('');

  const baseBig: (BaselineFigures & { wallMs: number })[] = [];
  const baseSmall: (BaselineFigures & { wallMs: number })[] = [];
  const oursBig: ReadingFigures[] = [];
  const oursSmall: ReadingFigures[] = [];
  const mbps = (bytes: number, ms: number) => bytes / MIB / (ms / 1000);
  console.log('Runs (MB = MiB)');
  for (let i = 1; i <= runs; i++) {
    const b = await csvParseAlone(big);
    baseBig.push(b);
    console.log(
      `  run ${i}: csv-parse alone, big : ${fmt(b.ms / 1000, 2)} s parse (${fmt(mbps(big.bytes, b.ms), 1)} MB/s; CPU ${fmt(b.cpuMs / 1000, 2)} s; process wall ${fmt(b.wallMs / 1000, 2)} s), ${b.records.toLocaleString('en')} records, peak RSS ${fmt(b.peakRssMb, 0)} MB`,
    );
    const o = await readCsv(extract, big, scratch);
    oursBig.push(o);
    console.log(
      `  run ${i}: reading, big         : ${fmt(o.ms / 1000, 2)} s (${fmt(mbps(big.bytes, o.ms), 1)} MB/s, child start included), row_count ${o.rowCount.toLocaleString('en')}, peak RSS ${fmt(o.peakRssMb, 0)} MB`,
    );
    const s = await readCsv(extract, small, scratch);
    oursSmall.push(s);
    console.log(
      `  run ${i}: reading, 1/8         : ${fmt(s.ms / 1000, 2)} s (${fmt(mbps(small.bytes, s.ms), 1)} MB/s), row_count ${s.rowCount.toLocaleString('en')}, peak RSS ${fmt(s.peakRssMb, 0)} MB`,
    );
    const bs = await csvParseAlone(small);
    baseSmall.push(bs);
    console.log(
      `  run ${i}: csv-parse alone, 1/8 : ${fmt(bs.ms / 1000, 2)} s parse (${fmt(mbps(small.bytes, bs.ms), 1)} MB/s), peak RSS ${fmt(bs.peakRssMb, 0)} MB`,
    );
  }

  const theirs = mbps(big.bytes, median(baseBig.map((f) => f.ms)));
  const ours = mbps(big.bytes, median(oursBig.map((f) => f.ms)));
  const ratio = ours / theirs;
  const rssBig = median(oursBig.map((f) => f.peakRssMb));
  const rssSmall = median(oursSmall.map((f) => f.peakRssMb));
  const flat = rssBig - rssSmall <= Math.max(16, 0.1 * rssSmall);
  console.log('');
  console.log(`Results${runs > 1 ? ` (median of ${runs})` : ''}`);
  console.log(`  csv-parse   : ${fmt(theirs, 1)} MB/s on ${sizeLabel(mib)} (parse only, process start excluded)`);
  console.log(`  reading     : ${fmt(ours, 1)} MB/s on ${sizeLabel(mib)} (child start, module load, sniff, sample and count included)`);
  console.log(`  ratio       : ${fmt(ratio, 2)} × csv-parse; target ≥ ${TARGET_RATIO}: ${verdict(ratio >= TARGET_RATIO)}`);
  console.log(
    `  peak RSS    : reading ${fmt(rssBig, 0)} MB at ${sizeLabel(mib)}, ${fmt(rssSmall, 0)} MB at ${fmt(small.bytes / MIB, 0)} MiB (csv-parse alone: ${fmt(median(baseBig.map((f) => f.peakRssMb)), 0)} / ${fmt(median(baseSmall.map((f) => f.peakRssMb)), 0)} MB); flat in size: ${verdict(flat)}`,
  );
  return ratio >= TARGET_RATIO && flat ? 0 : 1;
}

void runBenchmark(main);
