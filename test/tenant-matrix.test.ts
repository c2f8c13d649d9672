/**
 * Tenancy, generated from the route table of /openapi.json (not a hand list): on every route, each
 * id another organisation owns — in the path or in the body — answers exactly what an unknown id
 * answers (same status, code and message, ids aside), in both directions, and changes nothing.
 * test/tenancy-and-scopes.test.ts keeps the hand-written checks of lists, summaries and bulk rows.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { ID_PARAMS, createFixtures, idsFor, type OrgFixtures } from './helpers/fuzz-fixtures.js';
import { type ApiAnswer, type Harness, startStowage } from './helpers/harness.js';
import { fillPath, type JsonSchema, readRoutes, type Route, routeName } from './helpers/openapi-routes.js';
import { assertError } from './helpers/assertions.js';

const UNKNOWN_ID = '0190d7c4-0000-7000-8000-00000000beef';
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/** An answer with every id (request ids included) blanked: what must not differ between a foreign and an unknown id. */
const shape = (a: ApiAnswer) => `${a.status} ${JSON.stringify(a.body).replace(UUID, '<id>')}`;

/** The smallest body the schema accepts (plus the optional field `also`), with `idOf` filling id-like fields. */
function minimalBody(schema: JsonSchema, idOf: (field: string) => string, name = '', also = ''): unknown {
  if (schema.anyOf) return minimalBody(schema.anyOf[0], idOf, name);
  if (schema.enum) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const keys = [...(schema.required ?? []), ...(also && schema.properties?.[also] && !schema.required?.includes(also) ? [also] : [])];
      for (const key of keys) out[key] = minimalBody(schema.properties?.[key] ?? {}, idOf, key);
      return out;
    }
    case 'array':
      return Array.from({ length: Math.max(1, schema.minItems ?? 1) }, () => minimalBody(schema.items ?? {}, idOf, name));
    case 'integer':
    case 'number':
      return schema.minimum ?? 1;
    case 'boolean':
      return true;
    case 'string':
      if (schema.format === 'uuid' || isIdField(name)) return idOf(name);
      if (schema.format === 'date-time') return '2026-01-01T00:00:00Z';
      if (schema.pattern)
        return fc.sample(
          fc
            .stringMatching(new RegExp(schema.pattern))
            .filter((s) => s.length >= (schema.minLength ?? 1) && s.length <= (schema.maxLength ?? 64)),
          { seed: 1, numRuns: 1 },
        )[0];
      return 'x'.repeat(Math.max(1, schema.minLength ?? 1));
    default:
      return null;
  }
}

const isIdField = (name: string) => /(^|_)id$/.test(name) || name === 'ids';
const BODY_REFERENCES: Record<string, string> = {
  data_source_id: 'data_source_id',
  ids: 'data_source_id',
  parent_revision_id: 'revision_id',
  parent_id: 'folder_id',
};

describe("tenant matrix: every route × another organisation's ids answers like an unknown id", () => {
  let h: Harness;
  let routes: Route[];
  let orgs: { name: string; key: string; own: OrgFixtures; other: OrgFixtures }[];
  before(async () => {
    h = await startStowage(
      { RATE_LIMIT_PER_KEY: '1000000', RATE_LIMIT_PER_ORG: '1000000', STOWAGE_WEBHOOK_ALLOW_PRIVATE: 'true' },
      { worker: false, storage: 'local' },
    );
    routes = (await readRoutes(h.url)).filter((r) => r.authenticated);
    const mine = await createFixtures(h, h.keys.admin, 'mine');
    const theirs = await createFixtures(h, h.keys.otherOrg, 'theirs');
    orgs = [
      { name: 'first org', key: h.keys.admin, own: mine, other: theirs },
      { name: 'second org', key: h.keys.otherOrg, own: theirs, other: mine },
    ];
  });
  after(() => h.close());

  /** Everything each org can see of its fixtures: must be the same after the matrix. */
  const snapshot = async () => {
    const out: string[] = [];
    for (const { key, own } of orgs) {
      for (const route of [
        `/api/v1/parts/${own.part}`,
        `/api/v1/parts/${own.part}/revisions/${own.revision}`,
        `/api/v1/parts/${own.part}/revisions/${own.revision}/datasets?include_inactive=true`,
        `/api/v1/uploads/${own.confirmedUpload}`,
        `/api/v1/uploads/${own.pendingUpload}`,
        `/api/v1/uploads/${own.multipartUpload}`,
        `/api/v1/uploads/${own.multipartUpload}/parts`,
        `/api/v1/jobs/${own.job}`,
        `/api/v1/folders/${own.folder}`,
        `/api/v1/folders/?parent_id=${own.folder}`,
        `/api/v1/files/${own.file}`,
        `/api/v1/files/${own.file}/versions`,
        `/api/v1/files/${own.pendingFile}`,
        `/api/v1/files/?folder_id=${own.folder}`,
        '/api/v1/keys',
        '/api/v1/uploads/summary',
        `/api/v1/webhooks/${own.webhook}`,
        `/api/v1/webhooks/${own.webhook}/deliveries`,
        '/api/v1/policy',
      ]) {
        const answer = await h.api('GET', route, { key });
        out.push(`${route} ${answer.status} ${JSON.stringify(answer.body, (k, v) => (k === 'last_used_at' ? undefined : v))}`);
      }
    }
    return out;
  };

  it('path ids: foreign answers exactly like unknown, both ways, on every route; nothing changes', async () => {
    const before = await snapshot();
    const checked: string[] = [];
    const differences: string[] = [];
    for (const route of routes.filter((r) => r.pathParams.some((p) => (ID_PARAMS as readonly string[]).includes(p)))) {
      for (const { name, key, own, other } of orgs) {
        const body =
          route.body?.kind === 'json'
            ? minimalBody(
                route.body.schema,
                (field) => idsFor(field === 'parent_revision_id' ? 'revision_id' : 'data_source_id', own)[0] ?? UNKNOWN_ID,
              )
            : undefined;
        for (const param of route.pathParams) {
          const ownValue = (p: string) =>
            p === 'data_source_id' && /\/(parts|complete)$/.test(route.template) ? own.multipartUpload : idsFor(p, own)[0];
          const call = (value: string) => {
            const path = fillPath(route.template, (p) => (p === param ? value : ownValue(p)));
            return route.body?.kind === 'form' ? formCall(route.method, path, key) : h.api(route.method, path, { key, body });
          };
          const unknown = await call(UNKNOWN_ID);
          const what = `${routeName(route)} ${param} (${name}'s key)`;
          assertError(unknown, 404, 'not_found', `${what}: an unknown id`);
          for (const foreign of idsFor(param, other)) {
            const answer = await call(foreign);
            checked.push(what);
            if (shape(answer) !== shape(unknown)) differences.push(`${what} with ${foreign}: ${shape(answer)} ≠ unknown ${shape(unknown)}`);
          }
        }
      }
    }
    assert.deepEqual(differences, []);
    const covered = new Set(checked.map((c) => c.split(' ').slice(0, 2).join(' ')));
    console.log(`# tenant matrix: ${checked.length} foreign-id requests on ${covered.size} routes`);
    assert.deepEqual(await snapshot(), before, 'no fixture of either org changed');
  });

  it('body ids: a foreign id in a JSON body answers exactly like an unknown one, on every route that takes one', async () => {
    const before = await snapshot();
    const differences: string[] = [];
    let count = 0;
    for (const route of routes.filter((r) => r.body?.kind === 'json')) {
      const schema = (route.body as { schema: JsonSchema }).schema;
      // Body fields that name a resource (change_request_id is free text; classifications are no resource here).
      const idFields = Object.keys(schema.properties ?? {}).filter((f) => BODY_REFERENCES[f]);
      for (const field of idFields) {
        for (const { name, key, own, other } of orgs) {
          const kind = BODY_REFERENCES[field];
          const path = fillPath(route.template, (p) =>
            p === 'data_source_id' && /\/(parts|complete)$/.test(route.template) ? own.multipartUpload : idsFor(p, own)[0],
          );
          const send = (id: string) =>
            h.api(route.method, path, {
              key,
              body: minimalBody(schema, (f) => (f === field ? id : idsFor('data_source_id', own)[0]), '', field),
            });
          const unknown = await send(UNKNOWN_ID);
          for (const foreign of idsFor(kind, other)) {
            count++;
            const answer = await send(foreign);
            if (shape(answer) !== shape(unknown))
              differences.push(
                `${routeName(route)} body.${field} (${name}'s key) with ${foreign}: ${shape(answer)} ≠ unknown ${shape(unknown)}`,
              );
          }
        }
      }
    }
    assert.ok(count > 0, 'some route takes an id in its body');
    assert.deepEqual(differences, []);
    assert.deepEqual(await snapshot(), before, 'no fixture of either org changed');
  });

  it("tus: HEAD, PATCH and DELETE of another org's tus upload answer as an unknown id, both ways, with tus headers; nothing changes", async () => {
    const tus = { 'tus-resumable': '1.0.0' };
    const call = async (method: string, id: string, key: string) => {
      const headers: Record<string, string> = { ...tus, 'x-api-key': key };
      if (method === 'PATCH') Object.assign(headers, { 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' });
      const response = await fetch(`${h.url}/api/v1/tus/${id}`, { method, headers, body: method === 'PATCH' ? 'x' : undefined });
      const text = await response.text();
      return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null } as ApiAnswer;
    };
    const created: Record<string, string> = {};
    for (const { name, key } of orgs) {
      const answer = await fetch(`${h.url}/api/v1/tus`, {
        method: 'POST',
        headers: {
          ...tus,
          'x-api-key': key,
          'upload-length': '6000000',
          'upload-metadata': `filename ${Buffer.from('m.bin').toString('base64')}`,
        },
      });
      assert.equal(answer.status, 201, name);
      created[name] = answer.headers.get('location')!.split('/').pop()!;
    }
    const differences: string[] = [];
    for (const [i, { name, key }] of orgs.entries()) {
      const foreign = created[orgs[1 - i].name];
      for (const method of ['HEAD', 'PATCH', 'DELETE']) {
        const unknown = await call(method, UNKNOWN_ID, key);
        const answer = await call(method, foreign, key);
        assert.equal(unknown.status, 404, `${method} unknown (${name})`);
        if (shape(answer) !== shape(unknown)) differences.push(`${method} (${name}'s key): ${shape(answer)} ≠ unknown ${shape(unknown)}`);
      }
    }
    assert.deepEqual(differences, []);
    for (const { name, key } of orgs) {
      const own = await call('HEAD', created[name], key);
      assert.equal(own.headers.get('upload-offset'), '0', `${name}'s upload is untouched`);
      assert.equal((await h.api('GET', `/api/v1/uploads/${created[name]}`, { key })).body.status, 'pending');
    }
  });

  async function formCall(method: string, path: string, key: string): Promise<ApiAnswer> {
    const form = new FormData();
    form.append('file', new Blob(['solid x\nendsolid\n']), 'matrix.step');
    const response = await fetch(h.url + path, { method, headers: { 'x-api-key': key }, body: form });
    return { status: response.status, headers: response.headers, body: await response.json() };
  }
});
