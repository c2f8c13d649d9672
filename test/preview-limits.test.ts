/**
 * The preview limits of the configuration (STOWAGE_PREVIEW_TIMEOUT_SECONDS, STOWAGE_PREVIEW_MAX_MEMORY_MB)
 * reach the converter: a model past either fails its preview with that reason, seen through the API.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, it } from 'node:test';
import { type Harness, eventually, startStowage } from './helpers/harness.js';

const SAMPLES = path.join(path.dirname(createRequire(import.meta.url).resolve('occt-import-js/package.json')), 'test', 'testfiles');
// Measured here: about 3 s and a 157 MB peak to convert (a Node process with OpenCascade loaded is ~115 MB),
// in the .ts child (src/cad/convert-child.ts). The built child of dist/ starts ~40 MB smaller and peaks
// at ~120 MB for this model, under the setting's floor of 128 MB: so this file keeps the .ts child
// even under `npm test` (see childScriptBeside in src/sandbox/run-child.ts).
const LARGER_STEP_SAMPLE = path.join(SAMPLES, 'cax-if', 'as1-oc-214.stp');
delete process.env.STOWAGE_CHILD_SCRIPTS_FROM;

/** Uploads the model, waits for its preview to leave pending; answers it and the failure reason recorded. */
async function previewOf(h: Harness, name: string, bytes: Buffer) {
  const key = await h.createKey(h.orgId, ['uploads:read', 'uploads:write', 'parts:read']);
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(bytes)]), name);
  const uploaded = await fetch(`${h.url}/api/v1/uploads`, { method: 'POST', headers: { 'x-api-key': key }, body: form });
  assert.equal(uploaded.status, 201);
  const { id } = await uploaded.json();
  const preview = await eventually(
    async () => {
      const answer = await h.api('GET', `/api/v1/parts/datasets/${id}/preview-url`, { key });
      return answer.body.status === 'pending' ? undefined : answer.body;
    },
    'the preview to settle',
    60_000,
  );
  const metrics = await (await fetch(`${h.url}/metrics`)).text();
  return { preview, metrics };
}

async function withServer(env: Record<string, string>, run: (h: Harness) => Promise<void>) {
  const h = await startStowage(env, { storage: 'local' });
  try {
    await run(h);
  } finally {
    await h.close();
  }
}

describe('preview limits from the configuration', () => {
  it('STOWAGE_PREVIEW_TIMEOUT_SECONDS: a conversion running past it fails with timeout', () =>
    withServer({ STOWAGE_PREVIEW_TIMEOUT_SECONDS: '1' }, async (h) => {
      const { preview, metrics } = await previewOf(h, 'slow.step', await readFile(LARGER_STEP_SAMPLE));
      assert.equal(preview.status, 'failed');
      assert.equal(preview.url, null);
      assert.match(metrics, /stowage_previews_total\{result="timeout"\} 1/);
      const row = await h.runtime.database.db
        .selectFrom('previews')
        .select('failure_reason')
        .where('upload_id', '=', preview.data_source_id)
        .executeTakeFirstOrThrow();
      assert.equal(row.failure_reason, 'timeout');
    }));

  it('STOWAGE_PREVIEW_MAX_MEMORY_MB: a conversion growing past it fails with memory_limit', () =>
    withServer({ STOWAGE_PREVIEW_MAX_MEMORY_MB: '128', STOWAGE_PREVIEW_TIMEOUT_SECONDS: '60' }, async (h) => {
      const { preview, metrics } = await previewOf(h, 'big.step', await readFile(LARGER_STEP_SAMPLE));
      assert.equal(preview.status, 'failed');
      assert.match(metrics, /stowage_previews_total\{result="memory_limit"\} 1/);
      const row = await h.runtime.database.db
        .selectFrom('previews')
        .select('failure_reason')
        .where('upload_id', '=', preview.data_source_id)
        .executeTakeFirstOrThrow();
      assert.equal(row.failure_reason, 'memory_limit');
    }));
});
