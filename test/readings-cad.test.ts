/**
 * Readings of 3D models over real HTTP: the preview job reads the mesh it makes, so a confirmed model
 * gets a reading of kind `cad` ({bbox, triangle_count, unit}) decided with its preview, by the same
 * job; a re-run of either step starts both over; a file the converter refuses fails its reading, never
 * its upload.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Document, NodeIO } from '@gltf-transform/core';
import { eventually, type Harness, startStowage } from './helpers/harness.js';
import { uploadConfirmed } from './helpers/uploads.js';

const SAMPLES = path.join(path.dirname(createRequire(import.meta.url).resolve('occt-import-js/package.json')), 'test', 'testfiles');
const IGES_CUBE = path.join(SAMPLES, 'cube-10x10mm', 'Cube 10x10.igs');

/** An ASCII STL of a box from `at` to `at + size`: 12 triangles. */
function boxStl(at: [number, number, number], size: [number, number, number]): string {
  const corner = (i: number) => [0, 1, 2].map((k) => at[k] + ((i >> k) & 1) * size[k]);
  // Two triangles per face, as corner numbers (bit 0: x, bit 1: y, bit 2: z).
  const faces = [
    [0, 3, 1, 0, 2, 3],
    [4, 5, 7, 4, 7, 6],
    [0, 1, 5, 0, 5, 4],
    [2, 7, 3, 2, 6, 7],
    [0, 4, 6, 0, 6, 2],
    [1, 3, 7, 1, 7, 5],
  ];
  const facets = faces.flatMap((f) => [f.slice(0, 3), f.slice(3)]);
  const body = facets
    .map(
      (t) =>
        `  facet normal 0 0 0\n    outer loop\n${t.map((i) => `      vertex ${corner(i).join(' ')}\n`).join('')}    endloop\n  endfacet\n`,
    )
    .join('');
  return `solid box\n${body}endsolid box\n`;
}

/** A GLB of one triangle in a node moved by (5, 0, 0) and scaled by 2. */
async function movedTriangleGlb(): Promise<Buffer> {
  const document = new Document();
  const buffer = document.createBuffer();
  const position = document
    .createAccessor()
    .setType('VEC3')
    .setArray(new Float32Array([0, 0, 0, 1, 0, 0, 0, 1, 0]))
    .setBuffer(buffer);
  const mesh = document.createMesh('tri').addPrimitive(document.createPrimitive().setAttribute('POSITION', position));
  const node = document.createNode('moved').setMesh(mesh).setTranslation([5, 0, 0]).setScale([2, 2, 2]);
  document.getRoot().setDefaultScene(document.createScene('s').addChild(node));
  return Buffer.from(await new NodeIO().writeBinary(document));
}

describe('readings of 3D models', () => {
  let h: Harness;
  const api = (method: string, route: string, body?: unknown, key = h.keys.admin) => h.api(method, route, { key, body });

  before(async () => {
    h = await startStowage({ STOWAGE_PREVIEW_TIMEOUT_SECONDS: '60' });
  });
  after(() => h?.close());

  async function readingOf(uploadId: string) {
    const listed = await api('GET', `/api/v1/readings?data_source_id=${uploadId}`);
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.equal(listed.body.count, 1, JSON.stringify(listed.body));
    return listed.body.data[0];
  }

  async function settledReading(uploadId: string) {
    return eventually(
      async () => {
        const reading = await readingOf(uploadId);
        return reading.status === 'pending' ? undefined : reading;
      },
      `the reading of ${uploadId}`,
      60_000,
    );
  }

  it('an STL box gets a ready cad reading with its triangles and bounding box, decided with its preview', async () => {
    const upload = await uploadConfirmed(h, 'box.stl', boxStl([-5, 2, 0], [20, 10, 4]));
    const reading = await settledReading(upload.id);
    assert.equal(reading.kind, 'cad');
    assert.equal(reading.status, 'ready', JSON.stringify(reading));
    assert.equal(reading.error, null);
    assert.deepEqual(reading.content, {
      bbox: { min: [-5, 2, 0], max: [15, 12, 4] },
      triangle_count: 12,
      unit: null,
      meshes: 1,
      format: 'stl',
    });
    const preview = await api('GET', `/api/v1/parts/datasets/${upload.id}/preview-url`);
    assert.equal(preview.status, 200, JSON.stringify(preview.body));
    assert.equal(preview.body.status, 'ok', 'the reading is decided in the transaction of the preview');
  });

  it('an IGES model is read in millimetres, a GLB in metres through its node transforms', async () => {
    const iges = await uploadConfirmed(h, 'cube.igs', await readFile(IGES_CUBE));
    const cube = await settledReading(iges.id);
    assert.equal(cube.status, 'ready', JSON.stringify(cube));
    assert.equal(cube.content.unit, 'mm');
    assert.equal(cube.content.format, 'iges');
    assert.ok(cube.content.triangle_count >= 12, JSON.stringify(cube.content));
    const { min, max } = cube.content.bbox as { min: number[]; max: number[] };
    for (let k = 0; k < 3; k++) assert.ok(Math.abs(max[k] - min[k] - 10) < 1e-3, `a 10 mm cube: ${JSON.stringify(cube.content.bbox)}`);

    const glb = await uploadConfirmed(h, 'tri.glb', await movedTriangleGlb());
    const triangle = await settledReading(glb.id);
    assert.equal(triangle.status, 'ready', JSON.stringify(triangle));
    assert.deepEqual(triangle.content, {
      bbox: { min: [5, 0, 0], max: [7, 2, 0] },
      triangle_count: 1,
      unit: 'm',
      meshes: 1,
      format: 'glb',
    });
  });

  it('a broken STEP fails its reading with a reason; the upload stays confirmed', async () => {
    const upload = await uploadConfirmed(h, 'broken.step', 'ISO-10303-21;\nHEADER;\nthis is not a model\n');
    const reading = await settledReading(upload.id);
    assert.equal(reading.kind, 'cad');
    assert.equal(reading.status, 'failed', JSON.stringify(reading));
    assert.equal(reading.content, null);
    assert.equal(reading.error.reason, 'malformed');
    assert.match(reading.error.message, /STEP/);
    assert.equal((await api('GET', `/api/v1/uploads/${upload.id}`)).body.status, 'confirmed');
    const preview = await api('GET', `/api/v1/parts/datasets/${upload.id}/preview-url`);
    assert.equal(preview.body.status, 'failed');
    assert.equal(preview.body.reason, 'unreadable');
  });

  it('GENERATE_PREVIEW and PROCESS_DOCUMENT re-run the one job of both steps: the reading goes pending, then ready again', async () => {
    const upload = await uploadConfirmed(h, 'again.stl', boxStl([0, 0, 0], [1, 2, 3]));
    const first = await settledReading(upload.id);
    assert.equal(first.status, 'ready', JSON.stringify(first));

    for (const event of ['GENERATE_PREVIEW', 'PROCESS_DOCUMENT']) {
      const triggered = await api('POST', `/api/v1/uploads/${upload.id}/events`, { event });
      assert.equal(triggered.status, 202, `${event}: ${JSON.stringify(triggered.body)}`);
      const jobId = triggered.body.job_id as string;
      const now = await readingOf(upload.id);
      assert.equal(now.id, first.id, 'the same reading, started over');
      if (now.status !== 'pending') {
        // Only a job that already ended may have decided it again.
        assert.notEqual((await api('GET', `/api/v1/jobs/${jobId}`)).body.status, 'queued');
      }
      const job = await eventually(
        async () => {
          const answer = await api('GET', `/api/v1/jobs/${jobId}`);
          return ['succeeded', 'failed'].includes(answer.body.status) ? answer.body : undefined;
        },
        `the ${event} job`,
        60_000,
      );
      assert.equal(job.kind, 'preview');
      assert.equal(job.status, 'succeeded', JSON.stringify(job));
      const again = await settledReading(upload.id);
      assert.equal(again.status, 'ready');
      assert.deepEqual(again.content.bbox, { min: [0, 0, 0], max: [1, 2, 3] });
      assert.ok(again.updated_at > first.updated_at);
    }
  });

  it('another org sees none of it', async () => {
    const upload = await uploadConfirmed(h, 'mine.stl', boxStl([0, 0, 0], [1, 1, 1]));
    const reading = await settledReading(upload.id);
    const other = h.keys.otherOrg;
    assert.equal((await api('GET', `/api/v1/readings/${reading.id}`, undefined, other)).status, 404);
    assert.equal((await api('GET', `/api/v1/readings?data_source_id=${upload.id}`, undefined, other)).status, 404);
    assert.equal((await api('POST', `/api/v1/uploads/${upload.id}/events`, { event: 'GENERATE_PREVIEW' }, other)).status, 404);
    assert.equal((await api('POST', `/api/v1/uploads/${upload.id}/events`, { event: 'PROCESS_DOCUMENT' }, other)).status, 404);
    const theirs = (await api('GET', '/api/v1/readings?kind=cad', undefined, other)).body;
    assert.equal(theirs.count, 0);
  });
});
