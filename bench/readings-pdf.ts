/**
 * `npm run bench:readings-pdf`: how fast the PDF extractor reads text and how much memory its process
 * reaches, against poppler's `pdftotext` on the same file, measured in the same run.
 *
 *   node --import tsx bench/readings-pdf.ts
 *
 * Input: a text PDF of BENCH_PAGES pages (default 200; 55 lines of about 90 characters a page, Helvetica,
 * compressed content streams), written by hand (test/helpers/pdf-fixture.ts), plus a 1-page one.
 * Per run (BENCH_RUNS, default 3), each in a child process of its own, so its peak RSS is its own:
 *   - extractPdf, as the reading job's sandboxed child calls it: the child first loads pdfjs-dist and
 *     @napi-rs/canvas (timed apart: a child pays it once per file), then reads the big PDF (text of every
 *     page + the page-1 thumbnail), then the 1-page PDF (now mostly the thumbnail); peak RSS is the
 *     child's maxRSS, its loader included (an idle child started the same way is measured too, for scale);
 *   - the baseline: `pdftotext` (poppler-utils, GPL, used here only as a yardstick) on the big PDF, wall
 *     clock and peak RSS from /usr/bin/time when there is one. Skipped, with a line saying so, when absent.
 * Target: at least 100 pages/s per core for the text (big PDF, modules loaded), counted as pages per
 * CPU-second of the child so that a busy machine's waiting does not count (its wall clock is shown too).
 *
 * By default the child runs the compiled extractor (dist/, build first: npm run build) with plain node, as
 * production does. BENCH_FROM=src runs src/ under tsx instead, as the tests do: tsx also transforms
 * pdfjs-dist, which about halves its speed and triples the child's RSS (≈ 450 MB), so it is no measure
 * of production.
 *
 * Environment: BENCH_PAGES, BENCH_RUNS, BENCH_FROM (src|dist).
 * Exit code: 0 when the target is met; 1 when it is not or a run is invalid; 2 on a crash.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { loremPages, makeTextPdf } from '../test/helpers/pdf-fixture.js';
import { InvalidRun, beforeStartLine, busyCoresBeforeStart, envInt, fmt, median, onCleanup, runBenchmark, verdict } from './lib.js';

const TARGET_PAGES_PER_SECOND = 100;
const ROOT = path.resolve(import.meta.dirname, '..');

interface ChildFigures {
  importMs: number;
  bigMs: number;
  bigCpuMs: number;
  smallMs: number;
  pages: number;
  textBytes: number;
  thumbnail: boolean;
  maxRssMb: number;
}

/**
 * The child, as an ES module run with `node -e` (under tsx for src/, plain node for dist/, as production
 * runs): load the modules, read the big PDF, then the small one, and print the figures as JSON.
 * Arguments: BIG SMALL WORKDIR EXTRACTOR_URL.
 */
const CHILD_SOURCE = `
import { stat } from 'node:fs/promises';
import path from 'node:path';
const [big, small, work, extractorUrl] = process.argv.slice(1);
let at = performance.now();
await import('pdfjs-dist/legacy/build/pdf.mjs');
await import('@napi-rs/canvas');
const { extractPdf } = await import(extractorUrl);
const importMs = performance.now() - at;
const cpuAt = process.cpuUsage();
at = performance.now();
const result = await extractPdf(big, path.join(work, 'big'));
const bigMs = performance.now() - at;
const cpu = process.cpuUsage(cpuAt);
at = performance.now();
const smallResult = await extractPdf(small, path.join(work, 'small'));
const smallMs = performance.now() - at;
if (!smallResult.thumbnail) throw new Error('no thumbnail for the 1-page PDF: ' + smallResult.content.thumbnail_error);
console.log(JSON.stringify({
  importMs, bigMs, bigCpuMs: (cpu.user + cpu.system) / 1000, smallMs,
  pages: result.content.pages, textBytes: result.textPath ? (await stat(result.textPath)).size : 0,
  thumbnail: Boolean(result.thumbnail), maxRssMb: process.resourceUsage().maxRSS / 1024,
}));
`;

/** Runs a command to its end: its stdout, and its wall clock from spawn to exit. */
function run(command: string, args: string[]): Promise<{ stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      if (code === 0) resolve({ stdout, stderr, ms });
      else reject(new InvalidRun(`${path.basename(command)} ${args.slice(-3).join(' ')} exited ${code}: ${stderr.trim().slice(-500)}`));
    });
  });
}

function which(command: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

async function main(): Promise<number> {
  const pages = envInt('BENCH_PAGES', 200, 1, 100_000);
  const from = process.env.BENCH_FROM?.trim() || 'dist';
  if (from !== 'src' && from !== 'dist') throw new Error(`BENCH_FROM must be src or dist, got "${from}"`);
  const extractor = path.join(ROOT, from === 'dist' ? 'dist/readings/extractors/pdf.js' : 'src/readings/extractors/pdf.ts');
  if (!existsSync(extractor)) throw new Error(`${extractor} is missing${from === 'dist' ? ' (npm run build first)' : ''}`);
  if (from === 'dist') {
    const source = (await stat(path.join(ROOT, 'src/readings/extractors/pdf.ts'))).mtimeMs;
    if ((await stat(extractor)).mtimeMs < source) throw new Error(`${extractor} is older than its source (npm run build first)`);
  }
  const loader = from === 'dist' ? [] : ['--import', 'tsx'];
  const runs = envInt('BENCH_RUNS', 3, 1, 50);
  const busyBefore = await busyCoresBeforeStart();
  const pdftotext = which('pdftotext');
  const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

  console.log('Stowage readings benchmark (PDF text and thumbnail, pdfjs-dist in a child process)');
  console.log(
    `  machine     : ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}, ${fmt(os.totalmem() / 1024 ** 3, 0)} GiB RAM`,
  );
  console.log(beforeStartLine(busyBefore));

  const scratch = await mkdtemp(path.join(os.tmpdir(), 'stowage-bench-readings-pdf-'));
  onCleanup('remove the scratch folder', () => rm(scratch, { recursive: true, force: true }));
  const big = path.join(scratch, `text-${pages}.pdf`);
  const small = path.join(scratch, 'text-1.pdf');
  const lorem = loremPages(pages);
  await writeFile(big, makeTextPdf({ pages: lorem, title: 'Stowage benchmark document', author: 'bench', compress: true }));
  await writeFile(small, makeTextPdf({ pages: lorem.slice(0, 1), title: 'one page', compress: true }));
  const bigBytes = (await stat(big)).size;
  console.log(
    `  input       : ${pages} pages, ${fmt(bigBytes / 1024, 0)} KiB (${fmt(bigBytes / pages / 1024, 1)} KiB/page); and a 1-page PDF`,
  );
  console.log(
    `  baseline    : ${pdftotext ? `${pdftotext} (poppler-utils)${timeBin ? '' : ', no /usr/bin/time: its RSS is not measured'}` : 'pdftotext not found (apt-get install poppler-utils): comparison skipped'}`,
  );
  console.log(
    `  extractor   : ${from === 'dist' ? 'dist/ (compiled, plain node, as in production)' : 'src/ under tsx, as tests run (tsx also transforms pdfjs-dist: slower, much more RSS than production)'}`,
  );
  console.log(`  plan        : ${runs} runs: extractPdf child, then pdftotext`);
  console.log('');

  const idle = await run(process.execPath, [...loader, '-e', 'console.log(process.resourceUsage().maxRSS / 1024)']);
  const idleRssMb = Number(idle.stdout.trim());

  const ours: (ChildFigures & { wallMs: number })[] = [];
  const theirs: { ms: number; rssMb: number }[] = [];
  console.log('Runs');
  for (let i = 1; i <= runs; i++) {
    const work = await mkdtemp(path.join(scratch, 'work-'));
    await Promise.all(['big', 'small'].map((name) => mkdir(path.join(work, name))));
    const child = await run(process.execPath, [
      ...loader,
      '--input-type=module',
      '-e',
      CHILD_SOURCE,
      big,
      small,
      work,
      pathToFileURL(extractor).href,
    ]);
    const figures = JSON.parse(child.stdout.trim().split('\n').pop()!) as ChildFigures;
    if (figures.pages !== pages) throw new InvalidRun(`extractPdf answered ${figures.pages} pages, the file has ${pages}`);
    if (!figures.thumbnail) throw new InvalidRun('extractPdf made no thumbnail for the big PDF');
    ours.push({ ...figures, wallMs: child.ms });
    let line = `  run ${i}: extractPdf ${fmt(figures.bigMs, 0)} ms (${fmt((pages / figures.bigMs) * 1000, 0)} pages/s, CPU ${fmt(figures.bigCpuMs, 0)} ms), load ${fmt(figures.importMs, 0)} ms, 1-page ${fmt(figures.smallMs, 0)} ms, peak RSS ${fmt(figures.maxRssMb, 0)} MB, child wall ${fmt(child.ms, 0)} ms`;
    await rm(work, { recursive: true, force: true });

    if (pdftotext) {
      const out = path.join(scratch, 'pdftotext.txt');
      const measured = timeBin ? await run(timeBin, ['-f', 'STOWAGE_RSS_KB=%M', pdftotext, big, out]) : await run(pdftotext, [big, out]);
      const rssKb = Number(/STOWAGE_RSS_KB=(\d+)/.exec(measured.stderr)?.[1] ?? NaN);
      const text = await readFile(out, 'utf8');
      if (!text.includes(lorem[pages - 1][0])) throw new InvalidRun('pdftotext did not find the last page');
      theirs.push({ ms: measured.ms, rssMb: rssKb / 1024 });
      line += ` | pdftotext ${fmt(measured.ms, 0)} ms (${fmt((pages / measured.ms) * 1000, 0)} pages/s), peak RSS ${fmt(rssKb / 1024, 0)} MB`;
    }
    console.log(line);
  }

  const bigMs = median(ours.map((f) => f.bigMs));
  const pagesPerSecond = (pages / bigMs) * 1000;
  const pagesPerCpuSecond = (pages / median(ours.map((f) => f.bigCpuMs))) * 1000;
  const withLoad = (pages / median(ours.map((f) => f.bigMs + f.importMs))) * 1000;
  console.log('');
  console.log(`Results (median of ${runs})`);
  console.log(
    `  extractPdf  : ${fmt(pagesPerSecond, 0)} pages/s (${fmt(pagesPerCpuSecond, 0)} per CPU-second; ${fmt(withLoad, 0)} pages/s counting the module load), text ${fmt(median(ours.map((f) => f.textBytes)) / 1024, 0)} KiB`,
  );
  console.log(
    `  fixed costs : module load ${fmt(median(ours.map((f) => f.importMs)), 0)} ms, 1-page PDF (mostly the thumbnail) ${fmt(median(ours.map((f) => f.smallMs)), 0)} ms, child wall ${fmt(median(ours.map((f) => f.wallMs)), 0)} ms`,
  );
  console.log(
    `  peak RSS    : ${fmt(median(ours.map((f) => f.maxRssMb)), 0)} MB (an idle ${from === 'dist' ? 'node' : 'tsx'} child: ${fmt(idleRssMb, 0)} MB)`,
  );
  if (theirs.length) {
    const theirsMs = median(theirs.map((f) => f.ms));
    const theirsPerSecond = (pages / theirsMs) * 1000;
    console.log(
      `  pdftotext   : ${fmt(theirsPerSecond, 0)} pages/s (process wall, start included), peak RSS ${fmt(median(theirs.map((f) => f.rssMb)), 0)} MB`,
    );
    console.log(`  ratio       : pdftotext is ${fmt(theirsPerSecond / pagesPerSecond, 1)}× faster than extractPdf`);
  } else console.log('  pdftotext   : not measured');
  // Per core: pages per CPU-second of the child (GC threads included), which waiting for a busy machine's cores does not lower.
  const ok = pagesPerCpuSecond >= TARGET_PAGES_PER_SECOND;
  console.log(
    `  target      : ≥ ${TARGET_PAGES_PER_SECOND} pages/s per core (pages per CPU-second): ${fmt(pagesPerCpuSecond, 0)}, ${verdict(ok)}`,
  );
  return ok ? 0 : 1;
}

void runBenchmark(main);
