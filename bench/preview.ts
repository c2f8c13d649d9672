/**
 * `npm run bench:preview`: how long a CAD → GLB preview takes and how much memory its child process
 * reaches, for a small real model and for the largest we can make.
 *
 *   node --import tsx bench/preview.ts
 *
 * Models:
 *   - IGES cube (11 KB, occt-import-js's sample): the fixed cost of a conversion (process start, WASM load).
 *   - STEP assembly (as1-oc-214.stp, 432 KB, CAx-IF sample shipped in occt-import-js, the largest there).
 *   - the same STEP tiled BENCH_STEP_TILES times into one file (default 25: 11.6 MB, 126,000 triangles).
 *   - binary STL, a generated torus of BENCH_STL_TRIANGLES triangles (default 2,000,000: 100 MB).
 *   - ASCII STL, the same torus with BENCH_ASCII_TRIANGLES triangles (default 500,000: about 120 MB).
 * Per model, median of BENCH_RUNS runs (default 3):
 *   - convertToGlb, as the preview job will call it: a child process with the limits, wall clock from
 *     fork to answer, and the child's peak RSS (VmHWM from /proc, or its own maxRSS at the end);
 *   - the baseline, measured in the same run: the same conversion in this process (toGlb + write, no
 *     child), so the ratio is what the isolation costs.
 * BENCH_FROM=dist runs the compiled converter (build first: npm run build), as production does; the
 * default runs the sources under tsx, whose loader adds to the child's start.
 *
 * Environment: BENCH_RUNS, BENCH_STEP_TILES (0 skips it), BENCH_STL_TRIANGLES, BENCH_ASCII_TRIANGLES (0 skips it), BENCH_FROM (src|dist),
 * BENCH_MAX_MEMORY_MB (child limit, default 8192), BENCH_JSON_OUT (figures as JSON).
 * Exit code: 0 when every conversion worked; 1 when one failed (invalid run); 2 on a crash.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { CadFormat } from '../src/cad/formats.js';
import { InvalidRun, MIB, beforeStartLine, busyCoresBeforeStart, envInt, fmt, median, onCleanup, runBenchmark } from './lib.js';

interface Options {
  runs: number;
  stepTiles: number;
  stlTriangles: number;
  asciiTriangles: number;
  from: 'src' | 'dist';
  maxMemoryMb: number;
  jsonOut: string | null;
}

function readOptions(): Options {
  const from = (process.env.BENCH_FROM?.trim() || 'src') as Options['from'];
  if (from !== 'src' && from !== 'dist') throw new Error(`BENCH_FROM must be src or dist, got "${from}"`);
  return {
    runs: envInt('BENCH_RUNS', 3, 1, 100),
    stepTiles: envInt('BENCH_STEP_TILES', 25, 0, 1000),
    stlTriangles: envInt('BENCH_STL_TRIANGLES', 2_000_000, 12, 40_000_000),
    asciiTriangles: envInt('BENCH_ASCII_TRIANGLES', 500_000, 0, 10_000_000),
    from,
    maxMemoryMb: envInt('BENCH_MAX_MEMORY_MB', 8192, 64, 20_000),
    jsonOut: process.env.BENCH_JSON_OUT?.trim() || null,
  };
}

// ---------------------------------------------------------------------------------------------------
// Models

interface Sample {
  label: string;
  file: string;
  format: CadFormat;
}

/** A torus of about `triangles` triangles (2 × rings × segments) in millimetres: its count and its corners. */
function torus(triangles: number): { count: number; corners: () => Generator<number[][]> } {
  const rings = Math.max(3, Math.round(Math.sqrt(triangles / 2)));
  const segments = Math.max(3, Math.round(triangles / 2 / rings));
  const at = (i: number, j: number) => {
    const u = (2 * Math.PI * (i % rings)) / rings;
    const v = (2 * Math.PI * (j % segments)) / segments;
    const r = 100 + 30 * Math.cos(v);
    return [r * Math.cos(u), r * Math.sin(u), 30 * Math.sin(v)];
  };
  return {
    count: 2 * rings * segments,
    *corners() {
      for (let i = 0; i < rings; i++) {
        for (let j = 0; j < segments; j++) {
          yield [at(i, j), at(i + 1, j), at(i + 1, j + 1)];
          yield [at(i, j), at(i + 1, j + 1), at(i, j + 1)];
        }
      }
    },
  };
}

/**
 * A larger STEP than any sample: the DATA section of one repeated `tiles` times, each copy's entity ids
 * moved past the last one's. OpenCascade reads it as that many assemblies in the same place, so the work
 * (parse, shape healing, tessellation) grows with the copies.
 */
async function writeTiledStep(source: string, file: string, tiles: number): Promise<void> {
  const text = await readFile(source, 'latin1');
  const start = text.indexOf('DATA;') + 'DATA;'.length;
  const end = text.lastIndexOf('ENDSEC;');
  const data = text.slice(start, end);
  const stride = 10 ** String(Math.max(...[...data.matchAll(/#(\d+)/g)].map((m) => Number(m[1])))).length;
  const copies = Array.from({ length: tiles }, (_, k) => data.replace(/#(\d+)/g, (_m, id: string) => `#${Number(id) + k * stride}`));
  await writeFile(file, `${text.slice(0, start)}${copies.join('')}ENDSEC;\nEND-ISO-10303-21;\n`, 'latin1');
}

async function writeBinaryStl(file: string, triangles: number): Promise<number> {
  const { count, corners } = torus(triangles);
  const out = Buffer.alloc(84 + 50 * count);
  out.write('stowage bench torus', 0, 'latin1');
  out.writeUInt32LE(count, 80);
  let at = 84;
  for (const triangle of corners()) {
    at += 12; // facet normal left zero, as readers ignore it
    for (const corner of triangle) for (const n of corner) at = out.writeFloatLE(n, at);
    at += 2;
  }
  await writeFile(file, out);
  return count;
}

async function writeAsciiStl(file: string, triangles: number): Promise<number> {
  const { count, corners } = torus(triangles);
  const stream = createWriteStream(file);
  let chunk = 'solid torus\n';
  for (const triangle of corners()) {
    chunk += `facet normal 0 0 0\n outer loop\n${triangle.map((p) => `  vertex ${p[0].toFixed(6)} ${p[1].toFixed(6)} ${p[2].toFixed(6)}\n`).join('')} endloop\nendfacet\n`;
    if (chunk.length < MIB) continue;
    const flushed = stream.write(chunk);
    chunk = '';
    if (!flushed) await once(stream, 'drain');
  }
  stream.end(`${chunk}endsolid torus\n`);
  await once(stream, 'finish');
  return count;
}

// ---------------------------------------------------------------------------------------------------
// Measurements

interface Figures {
  label: string;
  format: CadFormat;
  fileBytes: number;
  triangles: number;
  glbBytes: number;
  childMs: number[];
  childPeakRssMb: number[];
  inProcessMs: number[];
}

async function main(): Promise<number> {
  const options = readOptions();
  const busyBefore = await busyCoresBeforeStart();
  const root = path.resolve(import.meta.dirname, '..');
  const modules = options.from === 'dist' ? path.join(root, 'dist', 'cad') : path.join(root, 'src', 'cad');
  const ext = options.from === 'dist' ? 'js' : 'ts';
  const { convertToGlb } = (await import(
    pathToFileURL(path.join(modules, `convert.${ext}`)).href
  )) as typeof import('../src/cad/convert.js');
  const { toGlb } = (await import(pathToFileURL(path.join(modules, `to-glb.${ext}`)).href)) as typeof import('../src/cad/to-glb.js');

  const cpuModel = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log('Stowage preview benchmark (CAD → GLB in a child process)');
  console.log(
    `  machine     : ${os.cpus().length} CPUs (${cpuModel}), Node ${process.version}, ${fmt(os.totalmem() / 1024 ** 3, 0)} GiB RAM`,
  );
  console.log(beforeStartLine(busyBefore));
  console.log(
    `  converter   : ${options.from === 'dist' ? 'dist/ (compiled, as in production)' : 'src/ under tsx (the child loads tsx too)'}; limits ${options.maxMemoryMb} MB, 10 min`,
  );
  console.log(`  plan        : ${options.runs} runs of each model, child conversion then in-process baseline`);

  const scratch = await mkdtemp(path.join(os.tmpdir(), 'stowage-bench-preview-'));
  onCleanup('remove the scratch folder', () => rm(scratch, { recursive: true, force: true }));
  const samplesDir = path.join(path.dirname(createRequire(import.meta.url).resolve('occt-import-js/package.json')), 'test', 'testfiles');
  const samples: Sample[] = [
    { label: 'IGES cube (sample)', file: path.join(samplesDir, 'cube-10x10mm', 'Cube 10x10.igs'), format: 'iges' },
    { label: 'STEP as1-oc-214 (sample)', file: path.join(samplesDir, 'cax-if', 'as1-oc-214.stp'), format: 'step' },
  ];
  let made = performance.now();
  if (options.stepTiles > 1) {
    const tiled = path.join(scratch, 'as1-oc-214-tiled.stp');
    await writeTiledStep(samples[1].file, tiled, options.stepTiles);
    samples.push({ label: `STEP as1-oc-214 ×${options.stepTiles} (built)`, file: tiled, format: 'step' });
  }
  const binary = path.join(scratch, 'torus-binary.stl');
  const binaryCount = await writeBinaryStl(binary, options.stlTriangles);
  samples.push({ label: `binary STL torus ${fmt(binaryCount / 1e6, 2)} M tri`, file: binary, format: 'stl' });
  if (options.asciiTriangles > 0) {
    const ascii = path.join(scratch, 'torus-ascii.stl');
    const asciiCount = await writeAsciiStl(ascii, options.asciiTriangles);
    samples.push({ label: `ASCII STL torus ${fmt(asciiCount / 1e6, 2)} M tri`, file: ascii, format: 'stl' });
  }
  console.log(`  generated   : the tiled STEP and the STL models in ${fmt((performance.now() - made) / 1000, 1)} s under ${scratch}`);
  console.log('');

  const limits = { timeoutMs: 600_000, maxMemoryMb: options.maxMemoryMb };
  const all: Figures[] = [];
  console.log('Runs');
  for (const sample of samples) {
    const figures: Figures = {
      label: sample.label,
      format: sample.format,
      fileBytes: (await stat(sample.file)).size,
      triangles: 0,
      glbBytes: 0,
      childMs: [],
      childPeakRssMb: [],
      inProcessMs: [],
    };
    for (let run = 1; run <= options.runs; run++) {
      const output = path.join(scratch, `out-${run}.glb`);
      let result;
      try {
        result = await convertToGlb(sample.file, sample.format, output, limits);
      } catch (error) {
        throw new InvalidRun(
          `${sample.label}: ${error instanceof Error ? `${error.name} ${(error as { reason?: string }).reason ?? ''} ${error.message}` : String(error)}`,
        );
      }
      await rm(output, { force: true });
      made = performance.now();
      const inProcess = await toGlb(await readFile(sample.file), sample.format);
      await writeFile(output, inProcess.glb);
      const inProcessMs = performance.now() - made;
      await rm(output, { force: true });
      if (inProcess.triangles !== result.triangles)
        throw new InvalidRun(`${sample.label}: ${result.triangles} triangles in the child, ${inProcess.triangles} in process`);
      figures.triangles = result.triangles;
      figures.glbBytes = result.bytes;
      figures.childMs.push(result.ms);
      figures.childPeakRssMb.push(result.peakRssMb);
      figures.inProcessMs.push(inProcessMs);
      console.log(
        `  ${sample.label.padEnd(30)} run ${run}/${options.runs}: child ${fmt(result.ms, 0).padStart(6)} ms, peak RSS ${fmt(result.peakRssMb, 0).padStart(5)} MiB; in process ${fmt(inProcessMs, 0).padStart(6)} ms`,
      );
    }
    all.push(figures);
  }
  console.log('');

  console.log(`Medians of ${options.runs} runs (MB = 10^6 bytes for files; RSS in MiB)`);
  console.log(
    `  ${'model'.padEnd(30)} ${'file'.padStart(9)} ${'triangles'.padStart(10)} ${'GLB'.padStart(9)} ${'child ms'.padStart(9)} ${'peak RSS'.padStart(9)} ${'in-proc ms'.padStart(10)} ${'ratio'.padStart(6)}`,
  );
  for (const f of all) {
    const childMs = median(f.childMs);
    const inMs = median(f.inProcessMs);
    console.log(
      `  ${f.label.padEnd(30)} ${`${fmt(f.fileBytes / 1e6, 2)} MB`.padStart(9)} ${String(f.triangles).padStart(10)} ${`${fmt(f.glbBytes / 1e6, 2)} MB`.padStart(9)} ${fmt(childMs, 0).padStart(9)} ${`${fmt(median(f.childPeakRssMb), 0)} MiB`.padStart(9)} ${fmt(inMs, 0).padStart(10)} ${`${fmt(childMs / inMs, 2)}×`.padStart(6)}`,
    );
  }
  console.log(
    '  ratio = child conversion / the same conversion in this process: the price of the isolation (process start, module and WASM load).',
  );
  console.log('  The in-process figure runs in a warm process (modules, and after the first run OpenCascade, already loaded).');

  if (options.jsonOut) {
    await writeFile(
      options.jsonOut,
      `${JSON.stringify({ when: new Date().toISOString(), machine: { cpus: os.cpus().length, model: cpuModel, node: process.version }, options, models: all }, null, 2)}\n`,
    );
  }
  return 0;
}

await runBenchmark(main);
