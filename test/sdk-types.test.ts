/**
 * packages/client/src/openapi.ts is generated from the server's OpenAPI document (`npm run
 * sdk:types`): rendered here again from a running server's /openapi.json, the same way, it must be
 * what is committed, or the SDK's types have drifted from the API.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { SDK_TYPES_FILE, firstDifference, renderSdkTypes } from '../scripts/sdk-types.js';
import { type Harness, startStowage } from './helpers/harness.js';
import { firstPassOnly } from './helpers/ci-pass.js';

describe('the SDK types', { skip: firstPassOnly }, () => {
  let h: Harness;
  before(async () => {
    // The configuration scripts/sdk-types.ts generates from: the local driver (its /blob routes are in the document).
    h = await startStowage({}, { storage: 'local', worker: false });
  });
  after(() => h.close());

  it("are what openapi-typescript makes of the server's /openapi.json", async () => {
    const answer = await fetch(`${h.url}/openapi.json`);
    assert.equal(answer.status, 200);
    const fresh = await renderSdkTypes(await answer.json());
    const committed = await readFile(SDK_TYPES_FILE, 'utf8');
    const difference = firstDifference(committed, fresh);
    assert.equal(
      difference,
      null,
      `packages/client/src/openapi.ts has drifted from the server's OpenAPI document (${difference}): run \`npm run sdk:types\` and commit the result`,
    );
  });

  it('would notice a route added, removed or changed', async () => {
    const document = await (await fetch(`${h.url}/openapi.json`)).json();
    const committed = await readFile(SDK_TYPES_FILE, 'utf8');
    document.paths['/api/v1/uploads/summary'].get.summary = 'Changed summary';
    assert.match(firstDifference(committed, await renderSdkTypes(document)) ?? '', /Changed summary/);
    delete document.paths['/api/v1/uploads/summary'];
    assert.notEqual(firstDifference(committed, await renderSdkTypes(document)), null);
  });
});
