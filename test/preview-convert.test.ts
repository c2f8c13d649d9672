/**
 * The CAD → GLB preview converter on real files: OpenCascade's own sample models (shipped in the
 * occt-import-js package), STL and glTF made here, and broken input. Every conversion runs in its real
 * child process with its real limits; the GLBs are read back with glTF Transform. No database.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { Document, NodeIO } from '@gltf-transform/core';
import { convertToGlb, PreviewError, type PreviewFailure, type PreviewLimits } from '../src/cad/convert.js';
import { cadFormatOf } from '../src/cad/formats.js';
import { readStl } from '../src/cad/stl.js';

const SAMPLES = path.join(path.dirname(createRequire(import.meta.url).resolve('occt-import-js/package.json')), 'test', 'testfiles');
const STEP_SAMPLE = path.join(SAMPLES, 'cax-if', 'as1_pe_203.stp'); // an assembly of 18 coloured parts, 136 KB
const LARGER_STEP_SAMPLE = path.join(SAMPLES, 'cax-if', 'as1-oc-214.stp'); // the largest sample, 432 KB
const IGES_SAMPLE = path.join(SAMPLES, 'cube-10x10mm', 'Cube 10x10.igs');
const BREP_SAMPLE = path.join(SAMPLES, 'cax-if-brep', 'as1_pe_203.brep');
const LIMITS: PreviewLimits = { timeoutMs: 60_000, maxMemoryMb: 2048 };

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'stowage-preview-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const io = new NodeIO();
let counter = 0;
const fresh = (name: string) => path.join(dir, `${++counter}-${name}`);

/** Converts and reads the GLB back: the figures the converter reports must be the file's. */
async function convertAndRead(input: string, format: Parameters<typeof convertToGlb>[1], limits = LIMITS) {
  const output = fresh('out.glb');
  const result = await convertToGlb(input, format, output, limits);
  const glb = await readFile(output);
  assert.equal(result.bytes, glb.length);
  const document = await io.readBinary(new Uint8Array(glb));
  const meshes = document.getRoot().listMeshes();
  let triangles = 0;
  for (const mesh of meshes) {
    for (const primitive of mesh.listPrimitives()) {
      triangles += (primitive.getIndices()?.getCount() ?? primitive.getAttribute('POSITION')!.getCount()) / 3;
    }
  }
  assert.ok(meshes.length >= 1, 'at least one mesh');
  assert.ok(triangles >= 1, 'at least one triangle');
  assert.equal(result.meshes, meshes.length);
  assert.equal(result.triangles, triangles);
  assert.ok(result.ms > 0 && result.peakRssMb > 0, `timings reported: ${JSON.stringify(result)}`);
  return { result, document, glb };
}

async function assertFails(promise: Promise<unknown>, reasons: PreviewFailure[], message?: RegExp): Promise<PreviewError> {
  const error = await promise.then(
    () => assert.fail(`expected a PreviewError (${reasons.join(' or ')}), the conversion succeeded`),
    (error: unknown) => error,
  );
  assert.ok(error instanceof PreviewError, `expected a PreviewError, got ${String(error)}`);
  assert.ok(reasons.includes(error.reason), `reason ${error.reason} (${error.message}), expected ${reasons.join(' or ')}`);
  if (message) assert.match(error.message, message);
  return error;
}

// ---------------------------------------------------------------------------------------------------
// Formats

test('cadFormatOf knows the CAD extensions, in any case, and nothing else', () => {
  const cases: [string, ReturnType<typeof cadFormatOf>][] = [
    ['part.step', 'step'],
    ['PART.STP', 'step'],
    ['a/b/c.Iges', 'iges'],
    ['c.igs', 'iges'],
    ['x.brep', 'brep'],
    ['x.BRP', 'brep'],
    ['bracket.stl', 'stl'],
    ['scene.gltf', 'gltf'],
    ['scene.GLB', 'glb'],
    ['dir.step/readme', null],
    ['.step', null],
    ['model.step.zip', null],
    ['notes.txt', null],
    ['noextension', null],
    ['C:\\models\\Part.Stp', 'step'],
    ['constructor', null],
    ['x.constructor', null],
  ];
  for (const [name, format] of cases) assert.equal(cadFormatOf(name), format, name);
});

// ---------------------------------------------------------------------------------------------------
// OpenCascade formats

test('a real STEP assembly becomes a GLB with its parts, colours and a Y-up, metre root', async () => {
  const { result, document } = await convertAndRead(STEP_SAMPLE, 'step');
  assert.equal(result.meshes, 18);
  const root = document.getRoot().getDefaultScene()!.listChildren()[0];
  assert.deepEqual(root.getScale(), [0.001, 0.001, 0.001]);
  assert.ok(Math.abs(root.getRotation()[0] + Math.SQRT1_2) < 1e-9, 'turned −90° about X');
  const colours = new Set(
    document
      .getRoot()
      .listMaterials()
      .map((m) => m.getBaseColorFactor().join(',')),
  );
  assert.ok(colours.size > 1, `the sample's part colours are kept (${[...colours].join(' | ')})`);
});

test('a real IGES cube becomes a GLB of 12 triangles', async () => {
  const { result } = await convertAndRead(IGES_SAMPLE, 'iges');
  assert.equal(result.triangles, 12);
});

test('a real BREP becomes a GLB', async () => {
  const { result } = await convertAndRead(BREP_SAMPLE, 'brep');
  assert.equal(result.meshes, 18);
});

// ---------------------------------------------------------------------------------------------------
// STL

/** A cube of side `size` as 12 triangles, [x, y, z] × 3 each. */
function cubeTriangles(size = 10): number[][][] {
  const v = (x: number, y: number, z: number) => [x * size, y * size, z * size];
  const quads = [
    [v(0, 0, 0), v(0, 1, 0), v(1, 1, 0), v(1, 0, 0)],
    [v(0, 0, 1), v(1, 0, 1), v(1, 1, 1), v(0, 1, 1)],
    [v(0, 0, 0), v(1, 0, 0), v(1, 0, 1), v(0, 0, 1)],
    [v(0, 1, 0), v(0, 1, 1), v(1, 1, 1), v(1, 1, 0)],
    [v(0, 0, 0), v(0, 0, 1), v(0, 1, 1), v(0, 1, 0)],
    [v(1, 0, 0), v(1, 1, 0), v(1, 1, 1), v(1, 0, 1)],
  ];
  return quads.flatMap(([a, b, c, d]) => [
    [a, b, c],
    [a, c, d],
  ]);
}

function asciiStl(triangles: number[][][], { end = true, upper = false } = {}): string {
  const facets = triangles.map(
    (t) =>
      `  facet normal 0 0 0\n    outer loop\n${t.map((p) => `      vertex ${p.map((n) => n.toExponential(6)).join(' ')}\n`).join('')}    endloop\n  endfacet\n`,
  );
  const text = `solid cube\n${facets.join('')}${end ? 'endsolid cube\n' : ''}`;
  return upper ? text.toUpperCase() : text;
}

/** The ASCII cube up to the end of its nth vertex line, as a file cut short would be. */
function asciiCutAfterVertex(triangles: number[][][], n: number): string {
  const lines = asciiStl(triangles).split('\n');
  let seen = 0;
  const cut = lines.findIndex((line) => line.trim().startsWith('vertex') && ++seen === n);
  return `${lines.slice(0, cut + 1).join('\n')}\n`;
}

function binaryStl(triangles: number[][][], header = 'binary cube'): Buffer {
  const out = Buffer.alloc(84 + 50 * triangles.length);
  out.write(header, 0, 'latin1');
  out.writeUInt32LE(triangles.length, 80);
  triangles.forEach((t, i) => t.flat().forEach((n, k) => out.writeFloatLE(n, 84 + i * 50 + 12 + k * 4)));
  return out;
}

test('an ASCII STL cube becomes a GLB of 12 triangles', async () => {
  const input = fresh('cube-ascii.stl');
  await writeFile(input, asciiStl(cubeTriangles()));
  const { result, document } = await convertAndRead(input, 'stl');
  assert.equal(result.triangles, 12);
  const position = document.getRoot().listMeshes()[0].listPrimitives()[0].getAttribute('POSITION')!;
  assert.deepEqual(position.getMax([0, 0, 0]), [10, 10, 10]);
});

test('a binary STL cube, header starting with "solid", becomes a GLB of 12 triangles', async () => {
  const input = fresh('cube-binary.stl');
  await writeFile(input, binaryStl(cubeTriangles(), 'solid but binary, as many exporters write it'));
  const { result } = await convertAndRead(input, 'stl');
  assert.equal(result.triangles, 12);
});

test('the STL reader refuses truncated and foreign bytes, and calls an empty STL empty', () => {
  const cube = cubeTriangles();
  const failures: [string, Uint8Array, PreviewFailure, RegExp][] = [
    ['ASCII cut mid-facet', Buffer.from(asciiCutAfterVertex(cube, 8)), 'unreadable', /8 vertices do not make whole triangles/],
    [
      'ASCII cut mid-number',
      Buffer.from(`${asciiCutAfterVertex(cube, 7)}      vertex 1.0`),
      'unreadable',
      /vertex 8 does not have three numbers/,
    ],
    ['ASCII cut after a facet', Buffer.from(asciiStl(cube, { end: false })), 'unreadable', /endsolid/],
    ['binary cut short', binaryStl(cube).subarray(0, 84 + 50 * 5 + 7), 'unreadable', /not an STL/],
    ['a text file', Buffer.from('just some notes, not a model\n'.repeat(10)), 'unreadable', /not an STL/],
    [
      'ASCII with a word for a number',
      Buffer.from('solid x\nfacet normal 0 0 1\nouter loop\nvertex 1 2 three\n'),
      'unreadable',
      /three numbers/,
    ],
    [
      'binary with NaN',
      (() => {
        const b = binaryStl(cube);
        b.writeFloatLE(NaN, 84 + 12);
        return b;
      })(),
      'unreadable',
      /finite/,
    ],
    ['binary with no triangles', binaryStl([]), 'empty_model', /no triangles/],
    ['ASCII with no facets', Buffer.from('solid empty\nendsolid empty\n'), 'empty_model', /no triangles/],
  ];
  for (const [what, bytes, reason, message] of failures) {
    assert.throws(
      () => readStl(bytes),
      (error: unknown) => error instanceof PreviewError && error.reason === reason && message.test(error.message),
      what,
    );
  }
  assert.equal(readStl(Buffer.from(asciiStl(cube, { upper: true }))).meshes[0].positions.length, 12 * 9, 'keywords in capitals');
});

// ---------------------------------------------------------------------------------------------------
// glTF

async function triangleDocument(): Promise<Document> {
  const document = new Document();
  const buffer = document.createBuffer();
  const position = document
    .createAccessor()
    .setType('VEC3')
    .setArray(new Float32Array([0, 0, 0, 1, 0, 0, 0, 1, 0]))
    .setBuffer(buffer);
  const mesh = document.createMesh('triangle').addPrimitive(document.createPrimitive().setAttribute('POSITION', position));
  document.getRoot().setDefaultScene(document.createScene().addChild(document.createNode('triangle').setMesh(mesh)));
  return document;
}

test('a GLB passes through byte for byte', async () => {
  const input = fresh('in.glb');
  const original = await io.writeBinary(await triangleDocument());
  await writeFile(input, original);
  const { glb, result } = await convertAndRead(input, 'glb');
  assert.deepEqual(new Uint8Array(glb), original);
  assert.equal(result.triangles, 1);
});

test('a .gltf with embedded data becomes a GLB; one pointing at files outside it is refused unread', async () => {
  const { json, resources } = await io.writeJSON(await triangleDocument());
  const [[name, bytes]] = Object.entries(resources);
  const embedded = {
    ...json,
    buffers: json.buffers!.map((b) =>
      b.uri === name ? { ...b, uri: `data:application/octet-stream;base64,${Buffer.from(bytes).toString('base64')}` } : b,
    ),
  };
  const input = fresh('in.gltf');
  await writeFile(input, JSON.stringify(embedded));
  const { result } = await convertAndRead(input, 'gltf');
  assert.equal(result.triangles, 1);

  const outside = { ...json, buffers: json.buffers!.map((b) => ({ ...b, uri: '../../../../etc/passwd' })) };
  const refused = fresh('outside.gltf');
  await writeFile(refused, JSON.stringify(outside));
  await assertFails(convertToGlb(refused, 'gltf', fresh('out.glb'), LIMITS), ['unsupported'], /outside itself/);
});

// ---------------------------------------------------------------------------------------------------
// Broken input, limits, isolation

test("a text file named .step is unreadable, with OpenCascade's reason, and leaves no output", async () => {
  const input = fresh('notes.step');
  await writeFile(input, 'These are meeting notes, not a STEP file.\nSecond line.\n');
  const output = fresh('out.glb');
  await assertFails(convertToGlb(input, 'step', output, LIMITS), ['unreadable'], /STEP.*Line \d+/);
  await assert.rejects(stat(output), { code: 'ENOENT' });
});

test('a truncated STEP fails cleanly, and the next conversion works', async () => {
  const whole = await readFile(STEP_SAMPLE);
  const input = fresh('truncated.stp');
  await writeFile(input, whole.subarray(0, Math.floor(whole.length / 2)));
  await assertFails(convertToGlb(input, 'step', fresh('out.glb'), LIMITS), ['unreadable', 'empty_model']);
  const { result } = await convertAndRead(IGES_SAMPLE, 'iges');
  assert.equal(result.triangles, 12);
});

test('a GLB that is not one, and a glTF that is not JSON, are unreadable', async () => {
  const glb = fresh('fake.glb');
  await writeFile(glb, 'glTF but not really');
  await assertFails(convertToGlb(glb, 'glb', fresh('out.glb'), LIMITS), ['unreadable']);
  const gltf = fresh('fake.gltf');
  await writeFile(gltf, '{"asset": {"version": "2.0"}, "meshes": [');
  await assertFails(convertToGlb(gltf, 'gltf', fresh('out.glb'), LIMITS), ['unreadable'], /JSON/);
});

test('past the time limit the child is killed: timeout', async () => {
  const started = Date.now();
  await assertFails(convertToGlb(STEP_SAMPLE, 'step', fresh('out.glb'), { timeoutMs: 30, maxMemoryMb: 2048 }), ['timeout']);
  assert.ok(Date.now() - started < 5_000, 'killed, not waited for');
});

test('past the memory limit the child is killed: memory_limit, with the peak it reached', async () => {
  // 40 MB is below what a Node process needs to start, so the first samples already pass it.
  const error = await assertFails(convertToGlb(STEP_SAMPLE, 'step', fresh('out.glb'), { timeoutMs: 60_000, maxMemoryMb: 40 }), [
    'memory_limit',
  ]);
  assert.ok(error.peakRssMb! > 40, `peak ${error.peakRssMb} MB reported`);
});

test("the memory limit counts OpenCascade's WASM heap, which the V8 heap cap does not see", async () => {
  // Calibrated in this run: the IGES cube needs a Node process with OpenCascade loaded; the larger STEP
  // sample grows the WASM heap by some 40 MB beyond that (peaks are the kernel's high-water marks, the
  // same from run to run within a few MB). A limit halfway is passed only by that growth, with the V8
  // heap cap at the same figure nowhere near reached (the JavaScript side of this model is a few MB).
  const loaded = (await convertAndRead(IGES_SAMPLE, 'iges')).result.peakRssMb;
  const grown = (await convertAndRead(LARGER_STEP_SAMPLE, 'step')).result.peakRssMb;
  assert.ok(grown - loaded > 25, `the larger STEP sample grows the process by ${Math.round(grown - loaded)} MB`);
  const limit = Math.round((loaded + grown) / 2);
  const error = await assertFails(
    convertToGlb(LARGER_STEP_SAMPLE, 'step', fresh('out.glb'), { timeoutMs: 60_000, maxMemoryMb: limit }),
    ['memory_limit'],
    /was stopped/,
  );
  assert.ok(error.peakRssMb! > limit);
});

test('a large parent does not count against its child', async () => {
  // A forked child's kernel maxRSS starts at the parent's resident size; a service holding more than
  // the limit must still convert. 400 MB made resident here, a 300 MB limit for a ~100 MB child.
  const ballast = Buffer.alloc(400 * 1024 * 1024, 1);
  const { result } = await convertAndRead(IGES_SAMPLE, 'iges', { timeoutMs: 60_000, maxMemoryMb: 300 });
  assert.ok(result.peakRssMb < 300, `child peak ${Math.round(result.peakRssMb)} MB`);
  assert.equal(ballast[ballast.length - 1], 1);
});

test('an aborted conversion is stopped', async () => {
  const controller = new AbortController();
  const conversion = convertToGlb(STEP_SAMPLE, 'step', fresh('out.glb'), LIMITS, { signal: controller.signal });
  setTimeout(() => controller.abort(), 50);
  await assertFails(conversion, ['aborted']);
});

test('a parent started with -e code does not pass that code on to the child', async () => {
  // process.execArgv holds `-e <code>`: handed to the child whole, the child would run the parent's code,
  // which forks again. The guard turns such a regression into a failed conversion instead of a fork storm.
  const code = `
    if (process.env.PREVIEW_E_GUARD) process.exit(0);
    process.env.PREVIEW_E_GUARD = '1';
    const { convertToGlb } = await import(${JSON.stringify(new URL('../src/cad/convert.ts', import.meta.url).href)});
    const result = await convertToGlb(${JSON.stringify(IGES_SAMPLE)}, 'iges', ${JSON.stringify(fresh('e.glb'))}, { timeoutMs: 30000, maxMemoryMb: 2048 });
    console.log(JSON.stringify(result));`;
  // The .ts child, even under `npm test`: it is the one that is given the parent's loader flags.
  const env = { ...process.env };
  delete env.STOWAGE_CHILD_SCRIPTS_FROM;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    timeout: 60_000,
    env,
  });
  assert.equal(JSON.parse(stdout).triangles, 12);
});

test("a missing input is the caller's error, not a verdict on a file", async () => {
  await assert.rejects(
    convertToGlb(path.join(dir, 'nope.step'), 'step', fresh('out.glb'), LIMITS),
    (error: unknown) => !(error instanceof PreviewError) && (error as NodeJS.ErrnoException).code === 'ENOENT',
  );
});
