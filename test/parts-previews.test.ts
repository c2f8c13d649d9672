/**
 * 3D previews end to end: real CAD files uploaded to a part's revision, converted to GLB by the
 * preview job, served through GET /api/v1/parts/{part_id}/preview-url and
 * GET /api/v1/parts/datasets/{data_source_id}/preview-url.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NodeIO } from '@gltf-transform/core';
import { runSweep } from '../src/modules/sweeper/sweep-job.js';
import { postForm } from './helpers/forms.js';
import { type Harness, eventually, startStowage } from './helpers/harness.js';
import { presign, sha256, uploadConfirmed } from './helpers/uploads.js';

const SAMPLES = path.join(path.dirname(createRequire(import.meta.url).resolve('occt-import-js/package.json')), 'test', 'testfiles');
const STEP_SAMPLE = path.join(SAMPLES, 'cax-if', 'as1_pe_203.stp');
const IGES_SAMPLE = path.join(SAMPLES, 'cube-10x10mm', 'Cube 10x10.igs');

/** An ASCII STL of a unit cube: 12 triangles, as a CAD tool would export it. */
function cubeStl(): string {
  const v = (x: number, y: number, z: number) => `      vertex ${x} ${y} ${z}\n`;
  const faces: [number, number, number][][] = [
    [
      [0, 0, 0],
      [1, 1, 0],
      [1, 0, 0],
    ],
    [
      [0, 0, 0],
      [0, 1, 0],
      [1, 1, 0],
    ],
    [
      [0, 0, 1],
      [1, 0, 1],
      [1, 1, 1],
    ],
    [
      [0, 0, 1],
      [1, 1, 1],
      [0, 1, 1],
    ],
    [
      [0, 0, 0],
      [1, 0, 0],
      [1, 0, 1],
    ],
    [
      [0, 0, 0],
      [1, 0, 1],
      [0, 0, 1],
    ],
    [
      [0, 1, 0],
      [1, 1, 1],
      [1, 1, 0],
    ],
    [
      [0, 1, 0],
      [0, 1, 1],
      [1, 1, 1],
    ],
    [
      [0, 0, 0],
      [0, 0, 1],
      [0, 1, 1],
    ],
    [
      [0, 0, 0],
      [0, 1, 1],
      [0, 1, 0],
    ],
    [
      [1, 0, 0],
      [1, 1, 0],
      [1, 1, 1],
    ],
    [
      [1, 0, 0],
      [1, 1, 1],
      [1, 0, 1],
    ],
  ];
  const body = faces
    .map((f) => `  facet normal 0 0 0\n    outer loop\n${f.map((p) => v(...p)).join('')}    endloop\n  endfacet\n`)
    .join('');
  return `solid cube\n${body}endsolid cube\n`;
}

describe('3D previews of CAD datasets', () => {
  let h: Harness;
  let key: string;
  let serial = 0;
  const api = (method: string, route: string, body?: unknown, k = key) => h.api(method, route, { key: k, body });

  before(async () => {
    h = await startStowage({ STOWAGE_PREVIEW_TIMEOUT_SECONDS: '60' });
    key = await h.createKey(h.orgId, ['parts:read', 'parts:write', 'uploads:read', 'uploads:write']);
  });
  after(() => h.close());

  async function partWithRevision() {
    const part = await api('POST', '/api/v1/parts', { part_number: `PV-${++serial}` });
    assert.equal(part.status, 201, JSON.stringify(part.body));
    const revision = await api('POST', `/api/v1/parts/${part.body.id}/revisions`, { revision_code: 'A' });
    assert.equal(revision.status, 201, JSON.stringify(revision.body));
    return { partId: part.body.id as string, datasets: `/api/v1/parts/${part.body.id}/revisions/${revision.body.id}/datasets` };
  }

  /** The one-shot dataset upload: answers the link. */
  async function uploadDataset(datasets: string, name: string, bytes: Buffer | string) {
    const form = new FormData();
    form.append('file', new Blob([typeof bytes === 'string' ? bytes : new Uint8Array(bytes)]), name);
    const response = await fetch(`${h.url}${datasets}/upload`, { method: 'POST', headers: { 'x-api-key': key }, body: form });
    const body = await response.json();
    assert.equal(response.status, 201, JSON.stringify(body));
    return body as { id: string; data_source_id: string; is_primary: boolean };
  }

  /** Polls a preview-url route until it leaves `pending`. */
  function settled(route: string) {
    return eventually(
      async () => {
        const answer = await api('GET', route);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        return answer.body.status === 'pending' ? undefined : answer.body;
      },
      `${route} to settle`,
      60_000,
    );
  }

  /** Downloads the GLB a preview URL names and parses it: answers its mesh and triangle counts. */
  async function fetchGlb(url: string) {
    const response = await fetch(url);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'model/gltf-binary');
    const document = await new NodeIO().readBinary(new Uint8Array(await response.arrayBuffer()));
    const meshes = document.getRoot().listMeshes();
    let triangles = 0;
    for (const mesh of meshes) {
      for (const primitive of mesh.listPrimitives())
        triangles += (primitive.getIndices()?.getCount() ?? primitive.getAttribute('POSITION')!.getCount()) / 3;
    }
    return { meshes: meshes.length, triangles };
  }

  it("a part's STEP model becomes a GLB preview reachable from the part", async () => {
    const { partId, datasets } = await partWithRevision();
    const link = await uploadDataset(datasets, 'bracket.step', await readFile(STEP_SAMPLE));
    assert.equal(link.is_primary, true);
    const preview = await settled(`/api/v1/parts/${partId}/preview-url`);
    assert.equal(preview.status, 'ok', JSON.stringify(preview));
    assert.equal(preview.data_source_id, link.data_source_id);
    const glb = await fetchGlb(preview.url);
    assert.ok(glb.meshes >= 1 && glb.triangles > 100, `meshes ${glb.meshes}, triangles ${glb.triangles}`);

    const same = await api('GET', `/api/v1/parts/datasets/${link.data_source_id}/preview-url`);
    assert.equal(same.status, 200);
    assert.deepEqual({ ...same.body, url: null }, { ...preview, url: null }, 'both routes answer the same payload');
  });

  it('an IGES model and a generated STL reach ok, and the GLBs parse', async () => {
    const { datasets } = await partWithRevision();
    const iges = await uploadDataset(datasets, 'Cube 10x10.igs', await readFile(IGES_SAMPLE));
    const stl = await uploadDataset(datasets, 'cube.stl', cubeStl());
    for (const [link, minTriangles] of [
      [iges, 12],
      [stl, 12],
    ] as const) {
      const preview = await settled(`/api/v1/parts/datasets/${link.data_source_id}/preview-url`);
      assert.equal(preview.status, 'ok', JSON.stringify(preview));
      const glb = await fetchGlb(preview.url);
      assert.ok(glb.triangles >= minTriangles, `triangles ${glb.triangles}`);
    }
  });

  it('a malformed STEP ends failed while the server keeps answering and converting', async () => {
    const { partId, datasets } = await partWithRevision();
    const broken = await uploadDataset(datasets, 'broken.step', 'ISO-10303-21;\nHEADER;\nthis is not a model\n');
    const preview = await settled(`/api/v1/parts/${partId}/preview-url`);
    assert.deepEqual(preview, { data_source_id: broken.data_source_id, status: 'failed', url: null, reason: 'unreadable' });
    assert.equal((await fetch(`${h.url}/healthz`)).status, 200);

    const good = await uploadDataset((await partWithRevision()).datasets, 'after.stl', cubeStl());
    assert.equal((await settled(`/api/v1/parts/datasets/${good.data_source_id}/preview-url`)).status, 'ok');
  });

  it('no_dataset without a revision, without a primary link, or when the primary is not a 3D model', async () => {
    const bare = await api('POST', '/api/v1/parts', { part_number: `PV-${++serial}` });
    assert.deepEqual((await api('GET', `/api/v1/parts/${bare.body.id}/preview-url`)).body, {
      data_source_id: null,
      status: 'no_dataset',
      url: null,
      reason: null,
    });

    const { partId } = await partWithRevision();
    assert.deepEqual((await api('GET', `/api/v1/parts/${partId}/preview-url`)).body, {
      data_source_id: null,
      status: 'no_dataset',
      url: null,
      reason: null,
    });

    const drawing = await partWithRevision();
    const pdf = await uploadDataset(drawing.datasets, 'A-100.pdf', '%PDF-1.4\n%drawing\n');
    assert.deepEqual((await api('GET', `/api/v1/parts/${drawing.partId}/preview-url`)).body, {
      data_source_id: null,
      status: 'no_dataset',
      url: null,
      reason: null,
    });
    assert.deepEqual((await api('GET', `/api/v1/parts/datasets/${pdf.data_source_id}/preview-url`)).body, {
      data_source_id: pdf.data_source_id,
      status: 'no_dataset',
      url: null,
      reason: null,
    });
  });

  it('a primary drawing does not hide the 3D model beside it; a CAD format we cannot convert is failed', async () => {
    const { partId, datasets } = await partWithRevision();
    const drawing = await uploadDataset(datasets, 'A-200.pdf', '%PDF-1.4\n%drawing\n');
    assert.equal(drawing.is_primary, true);
    const model = await uploadDataset(datasets, 'A-200.stl', cubeStl());
    const preview = await settled(`/api/v1/parts/${partId}/preview-url`);
    assert.equal(preview.status, 'ok', JSON.stringify(preview));
    assert.equal(preview.data_source_id, model.data_source_id);

    const native = await partWithRevision();
    const part = await uploadDataset(native.datasets, 'housing.sldprt', 'native SolidWorks bytes');
    assert.deepEqual((await api('GET', `/api/v1/parts/${native.partId}/preview-url`)).body, {
      data_source_id: part.data_source_id,
      status: 'failed',
      url: null,
      reason: 'unsupported',
    });
  });

  it('the newest revision decides, and an upload still waiting for its bytes is pending', async () => {
    const { partId, datasets } = await partWithRevision();
    await uploadDataset(datasets, 'old.stl', cubeStl());
    const presigned = await api('POST', '/api/v1/uploads/presign', { name: 'new.step', size_bytes: 100 });
    assert.equal(presigned.status, 200);
    const next = await api('POST', `/api/v1/parts/${partId}/revisions`, { revision_code: 'B' });
    assert.equal(next.status, 201);
    const attached = await api('POST', `/api/v1/parts/${partId}/revisions/${next.body.id}/datasets`, {
      data_source_id: presigned.body.data_source_id,
    });
    assert.equal(attached.status, 201, JSON.stringify(attached.body));
    assert.deepEqual((await api('GET', `/api/v1/parts/${partId}/preview-url`)).body, {
      data_source_id: presigned.body.data_source_id,
      status: 'pending',
      url: null,
      reason: null,
    });
  });

  it('the GLB survives the sweeper, which takes blobs no row knows for orphans', async () => {
    const { datasets } = await partWithRevision();
    const link = await uploadDataset(datasets, 'kept.stl', cubeStl());
    const before = await settled(`/api/v1/parts/datasets/${link.data_source_id}/preview-url`);
    assert.equal(before.status, 'ok');
    // The sweep of this harness, with no grace: anything unknown to both tables would go now.
    await runSweep({
      ...h.runtime,
      db: h.runtime.database.db,
      log: h.runtime.logger,
      config: { ...h.config, sweeper: { ...h.config.sweeper, graceSeconds: 0 } },
    });
    const after = await api('GET', `/api/v1/parts/datasets/${link.data_source_id}/preview-url`);
    assert.equal(after.body.status, 'ok');
    assert.equal((await fetch(after.body.url)).status, 200);
  });

  it('a confirmed model without a preview (confirmed before previews existed) gets one on first request', async () => {
    const { datasets } = await partWithRevision();
    const link = await uploadDataset(datasets, 'legacy.stl', cubeStl());
    const route = `/api/v1/parts/datasets/${link.data_source_id}/preview-url`;
    assert.equal((await settled(route)).status, 'ok');
    await h.runtime.database.db.deleteFrom('previews').where('upload_id', '=', link.data_source_id).execute();

    const first = await api('GET', route);
    assert.deepEqual(
      first.body,
      { data_source_id: link.data_source_id, status: 'pending', url: null, reason: null },
      'started, not no_dataset or failed',
    );
    const preview = await settled(route);
    assert.equal(preview.status, 'ok', JSON.stringify(preview));
    assert.ok((await fetchGlb(preview.url)).triangles >= 12);
  });

  it('every way an upload becomes confirmed starts exactly one preview, and only for a 3D model', async () => {
    // Distinct bytes per path: a shared sha256 would make every later upload a deduplicated one.
    const model = (n: number) => cubeStl().replace('solid cube', `solid cube${n}`);
    const viaConfirmJob = await uploadConfirmed(h, 'job.stl', model(1));
    const streamed = await postForm(h, { bytes: Buffer.from(model(2)), filename: 'streamed.stl', key });
    assert.equal(streamed.status, 201, JSON.stringify(streamed.body));
    const presignedTwin = await presign(h, { name: 'twin.stl', sha256: sha256(model(1)) });
    assert.equal(presignedTwin.deduplicated, true, 'the same bytes declared again are a deduplicated upload');
    const multipartTwin = await api('POST', '/api/v1/uploads/multipart', {
      name: 'twin-mp.stl',
      size_bytes: Buffer.byteLength(model(2)),
      sha256: sha256(model(2)),
    });
    assert.equal(multipartTwin.body.deduplicated, true, JSON.stringify(multipartTwin.body));
    const { datasets } = await partWithRevision();
    const linked = await uploadDataset(datasets, 'linked.stl', model(3));
    const notAModel = await postForm(h, { bytes: Buffer.from('just text'), filename: 'notes.txt', key });

    const ids = [
      viaConfirmJob.id,
      streamed.body.id,
      presignedTwin.data_source_id,
      multipartTwin.body.data_source_id,
      linked.data_source_id,
    ];
    // Before anyone asks for it: the preview-url route would start a missing preview itself.
    const started = await h.runtime.database.db
      .selectFrom('previews')
      .select('upload_id')
      .where('upload_id', 'in', [...ids, notAModel.body.id])
      .execute();
    assert.deepEqual(started.map((p) => p.upload_id).sort(), [...ids].sort(), 'each confirmation started its preview in the same commit');
    for (const id of ids) {
      const preview = await settled(`/api/v1/parts/datasets/${id}/preview-url`);
      assert.equal(preview.status, 'ok', `${id}: ${JSON.stringify(preview)}`);
    }
    const jobs = await h.runtime.database.db
      .selectFrom('jobs')
      .select(['subject_id'])
      .where('kind', '=', 'preview')
      .where('subject_id', 'in', [...ids, notAModel.body.id])
      .execute();
    assert.deepEqual(jobs.map((j) => j.subject_id).sort(), [...ids].sort(), 'one preview job per confirmed model, none for the text file');
  });

  it('another org sees 404 on both routes; a key without parts:read gets 403', async () => {
    const { partId, datasets } = await partWithRevision();
    const link = await uploadDataset(datasets, 'mine.stl', cubeStl());
    for (const route of [`/api/v1/parts/${partId}/preview-url`, `/api/v1/parts/datasets/${link.data_source_id}/preview-url`]) {
      const foreign = await api('GET', route, undefined, h.keys.otherOrg);
      assert.equal(foreign.status, 404, `${route}: ${JSON.stringify(foreign.body)}`);
      assert.equal(foreign.body.error.code, 'not_found');
      const uploadsOnly = await h.createKey(h.orgId, ['uploads:read']);
      const refused = await api('GET', route, undefined, uploadsOnly);
      assert.equal(refused.status, 403);
      assert.equal(refused.body.error.code, 'insufficient_scope');
    }
    for (const route of [
      '/api/v1/parts/not-a-uuid/preview-url',
      '/api/v1/parts/datasets/0190d7c4-0000-7000-8000-000000000000/preview-url',
    ]) {
      assert.equal((await api('GET', route)).status, 404, route);
    }
  });
});
