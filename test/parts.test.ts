import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { SEARCH_COUNT_CAP } from '../src/db/list-counts.js';
import { assertError, assertInvalid, assertScopesEnforced } from './helpers/assertions.js';
import { type ApiAnswer, type Harness, startStowage } from './helpers/harness.js';

const UNKNOWN_ID = '0190d7c4-0000-7000-8000-000000000000';
const PART_FIELDS = [
  'attributes',
  'base_uom',
  'classification_id',
  'created_at',
  'default_currency',
  'description',
  'id',
  'lead_time_days',
  'make_or_buy',
  'org_id',
  'part_number',
  'procurement_type',
  'updated_at',
];

describe('parts (GET/POST /api/v1/parts/, GET/PATCH/DELETE /api/v1/parts/{part_id})', () => {
  let h: Harness;
  let key: string;
  let reader: string;
  const api = (method: string, route: string, body?: unknown, k = key) => h.api(method, route, { key: k, body });
  const create = async (body: Record<string, unknown>, k = key) => {
    const answer = await api('POST', '/api/v1/parts/', body, k);
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    return answer.body;
  };

  before(async () => {
    h = await startStowage({ RATE_LIMIT_ENABLED: 'false' }, { worker: false });
    key = await h.createKey(h.orgId, ['parts:read', 'parts:write']);
    reader = await h.createKey(h.orgId, ['parts:read']);
  });
  after(() => h.close());

  it('creates a part (201) with the reference fields, defaults base_uom to EA and reads it back', async () => {
    const part = await create({ part_number: 'BRACKET-001' });
    assert.deepEqual(Object.keys(part).sort(), PART_FIELDS);
    assert.equal(part.part_number, 'BRACKET-001');
    assert.equal(part.base_uom, 'EA');
    assert.deepEqual(part.attributes, {});
    assert.equal(part.org_id, h.orgId);
    for (const field of ['classification_id', 'default_currency', 'description', 'lead_time_days', 'make_or_buy', 'procurement_type']) {
      assert.equal(part[field], null, field);
    }
    assert.match(part.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.match(part.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/, 'a UUIDv7');

    const full = await create({
      part_number: 'SHAFT-002',
      description: 'Drive shaft',
      classification_id: UNKNOWN_ID,
      make_or_buy: 'buy',
      procurement_type: 'external',
      base_uom: 'KG',
      default_currency: 'EUR',
      lead_time_days: 0,
      attributes: { material: 'steel', tolerances: { od: 0.01 } },
    });
    const got = await api('GET', `/api/v1/parts/${full.id}`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, full);
    assert.equal(got.body.lead_time_days, 0, 'zero stays zero');
    assert.equal(got.body.make_or_buy, 'buy');
    assert.deepEqual(got.body.attributes, { material: 'steel', tolerances: { od: 0.01 } });
  });

  it('keeps part_number unique per org: 409 in the same org, fine in another', async () => {
    await create({ part_number: 'DUP-1' });
    const again = await api('POST', '/api/v1/parts/', { part_number: 'DUP-1', description: 'second' });
    assertError(again, 409, 'conflict', 'duplicate part number');
    assert.deepEqual(again.body.error.details, { part_number: 'DUP-1' });
    assertError(
      await api('POST', '/api/v1/parts/', { part_number: '  DUP-1 ' }),
      409,
      'conflict',
      'surrounding blanks are not a new number',
    );
    const theirs = await api('POST', '/api/v1/parts/', { part_number: 'DUP-1' }, h.keys.otherOrg);
    assert.equal(theirs.status, 201);
    assert.equal(theirs.body.org_id, h.otherOrgId);
  });

  it('validates enumerations, currency, lead time and the body shape (422 naming the field)', async () => {
    const post = (body: unknown) => api('POST', '/api/v1/parts/', body);
    assertInvalid(await post({}), 'body.part_number');
    assertInvalid(await post({ part_number: '   ' }), 'body.part_number');
    assertInvalid(await post({ part_number: 'X', make_or_buy: 'borrow' }), 'body.make_or_buy');
    assertInvalid(await post({ part_number: 'X', procurement_type: 'inhouse' }), 'body.procurement_type');
    for (const currency of ['eur', 'EURO', 'E1R', '']) {
      assertInvalid(await post({ part_number: 'X', default_currency: currency }), 'body.default_currency', currency);
    }
    assertInvalid(await post({ part_number: 'X', lead_time_days: -1 }), 'body.lead_time_days');
    assertInvalid(await post({ part_number: 'X', lead_time_days: 1.5 }), 'body.lead_time_days');
    assertInvalid(await post({ part_number: 'X', classification_id: 'not-a-uuid' }), 'body.classification_id');
    assertInvalid(await post({ part_number: 'X', attributes: ['a'] }), 'body.attributes');
    assertInvalid(await post({ part_number: 'X', colour: 'red' }), 'body.colour');
    assertInvalid(await post({ part_number: 'X', base_uom: '' }), 'body.base_uom');
    // A JSON body arrives typed: the wrong type is refused, not converted.
    assertInvalid(await post({ part_number: 123 }), 'body.part_number');
    assertInvalid(await post({ part_number: 'X', lead_time_days: '7' }), 'body.lead_time_days');
    assertInvalid(await post({ part_number: 'X', make_or_buy: ['make'] }), 'body.make_or_buy');
    const nothing = await api('GET', '/api/v1/parts/?q=X&limit=200');
    assert.equal(
      nothing.body.data.filter((p: { part_number: string }) => ['X', '123'].includes(p.part_number)).length,
      0,
      'nothing was created',
    );
    // Query strings are text: their numbers still arrive as numbers.
    assert.equal((await api('GET', '/api/v1/parts/?limit=2&offset=0')).status, 200);
  });

  it('lists with q on part_number and description (case-insensitive), classification_id, limit/offset and count', async () => {
    const classification = '0190d7c4-1111-7000-8000-000000000001';
    const a = await create({ part_number: 'LIST-Widget-1', description: 'small' });
    const b = await create({ part_number: 'LIST-2', description: 'A large WIDGET housing', classification_id: classification });
    const c = await create({ part_number: 'LIST-3', description: '100% cotton_rag', classification_id: classification });
    await create({ part_number: 'LIST-widget-theirs' }, h.keys.otherOrg);

    const ids = (answer: ApiAnswer) => answer.body.data.map((p: { id: string }) => p.id);
    const widget = await api('GET', '/api/v1/parts/?q=wIdGeT');
    assert.equal(widget.status, 200);
    assert.deepEqual(ids(widget), [b.id, a.id], 'both fields match, newest first, only our org');
    assert.equal(widget.body.count, 2);
    assert.deepEqual(ids(await api('GET', '/api/v1/parts/?q=100%25')), [c.id], '% is literal');
    assert.deepEqual(ids(await api('GET', '/api/v1/parts/?q=n_r')), [c.id], '_ is literal');
    assert.deepEqual(ids(await api('GET', '/api/v1/parts/?q=x_y')), []);
    assert.deepEqual(ids(await api('GET', `/api/v1/parts/?classification_id=${classification}`)), [c.id, b.id]);
    assert.deepEqual(ids(await api('GET', `/api/v1/parts/?classification_id=${classification}&q=widget`)), [b.id]);

    const page = await api('GET', '/api/v1/parts/?q=LIST-&limit=1&offset=1');
    assert.equal(page.body.count, 3);
    assert.deepEqual(ids(page), [b.id]);
    const all = await api('GET', '/api/v1/parts/');
    assert.ok(all.body.data.length <= 50);
    assert.equal(all.body.count, all.body.data.length);
    assert.ok(all.body.data.every((p: { org_id: string }) => p.org_id === h.orgId));

    assertInvalid(await api('GET', '/api/v1/parts/?limit=0'), 'querystring.limit');
    assertInvalid(await api('GET', '/api/v1/parts/?limit=201'), 'querystring.limit');
    assertInvalid(await api('GET', '/api/v1/parts/?offset=-1'), 'querystring.offset');
    assertInvalid(await api('GET', '/api/v1/parts/?classification_id=nope'), 'querystring.classification_id');
  });

  it('PATCH changes only the fields sent, null clears, attributes are replaced, part_number is not updatable', async () => {
    const part = await create({
      part_number: 'PATCH-1',
      description: 'old',
      lead_time_days: 5,
      make_or_buy: 'make',
      attributes: { a: 1, b: 2 },
    });
    const patched = await api('PATCH', `/api/v1/parts/${part.id}`, {
      description: null,
      procurement_type: 'both',
      default_currency: 'USD',
      attributes: { c: 3 },
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.description, null);
    assert.equal(patched.body.procurement_type, 'both');
    assert.equal(patched.body.default_currency, 'USD');
    assert.equal(patched.body.lead_time_days, 5, 'untouched');
    assert.equal(patched.body.make_or_buy, 'make', 'untouched');
    assert.deepEqual(patched.body.attributes, { c: 3 });
    assert.equal(patched.body.created_at, part.created_at);
    assert.ok(patched.body.updated_at >= part.updated_at);
    assert.deepEqual((await api('GET', `/api/v1/parts/${part.id}`)).body, patched.body);

    const empty = await api('PATCH', `/api/v1/parts/${part.id}`, {});
    assert.equal(empty.status, 200);
    assert.deepEqual(empty.body, patched.body);

    assertInvalid(await api('PATCH', `/api/v1/parts/${part.id}`, { part_number: 'OTHER' }), 'body.part_number');
    assertInvalid(await api('PATCH', `/api/v1/parts/${part.id}`, { make_or_buy: 'rent' }), 'body.make_or_buy');
    assertInvalid(await api('PATCH', `/api/v1/parts/${part.id}`, { default_currency: 'usd' }), 'body.default_currency');
    assertInvalid(await api('PATCH', `/api/v1/parts/${part.id}`, { lead_time_days: -3 }), 'body.lead_time_days');
    assertInvalid(await api('PATCH', `/api/v1/parts/${part.id}`, { base_uom: null }), 'body.base_uom');
    assertError(await api('PATCH', `/api/v1/parts/${UNKNOWN_ID}`, { description: 'x' }), 404, 'not_found', 'unknown part');
  });

  it('DELETE answers {message}, removes revisions and dataset links, and keeps the uploads', async () => {
    const part = await create({ part_number: 'DELETE-1' });
    const revision = await api('POST', `/api/v1/parts/${part.id}/revisions`, { revision_code: 'A' });
    assert.equal(revision.status, 201);
    const child = await api('POST', `/api/v1/parts/${part.id}/revisions`, { revision_code: 'B', parent_revision_id: revision.body.id });
    assert.equal(child.status, 201, 'a whole lineage goes with the part');
    const upload = await h.api('POST', '/api/v1/uploads/presign', { body: { name: 'bracket.step' } });
    const linked = await api('POST', `/api/v1/parts/${part.id}/revisions/${revision.body.id}/datasets`, {
      data_source_id: upload.body.data_source_id,
    });
    assert.equal(linked.status, 201);

    const deleted = await api('DELETE', `/api/v1/parts/${part.id}`);
    assert.equal(deleted.status, 200);
    assert.deepEqual(Object.keys(deleted.body), ['message']);
    assert.equal(typeof deleted.body.message, 'string');
    assertError(await api('GET', `/api/v1/parts/${part.id}`), 404, 'not_found', 'deleted part');
    assertError(await api('DELETE', `/api/v1/parts/${part.id}`), 404, 'not_found', 'deleted twice');
    const db = h.runtime.database.db;
    assert.equal((await db.selectFrom('part_revisions').select('id').where('part_id', '=', part.id).execute()).length, 0);
    assert.equal((await db.selectFrom('dataset_links').select('id').where('id', '=', linked.body.id).execute()).length, 0);
    const kept = await h.api('GET', `/api/v1/uploads/${upload.body.data_source_id}`);
    assert.equal(kept.status, 200, 'the upload is kept');
  });

  it("answers 404 for unknown, malformed and another org's part ids on every route, and changes nothing", async () => {
    const theirs = await create({ part_number: 'THEIRS-1', description: 'globex' }, h.keys.otherOrg);
    for (const id of [UNKNOWN_ID, 'not-a-uuid', theirs.id]) {
      assertError(await api('GET', `/api/v1/parts/${id}`), 404, 'not_found', `GET ${id}`);
      assertError(await api('PATCH', `/api/v1/parts/${id}`, { description: 'mine now' }), 404, 'not_found', `PATCH ${id}`);
      assertError(await api('DELETE', `/api/v1/parts/${id}`), 404, 'not_found', `DELETE ${id}`);
    }
    const still = await api('GET', `/api/v1/parts/${theirs.id}`, undefined, h.keys.otherOrg);
    assert.deepEqual(still.body, theirs);
    const listed = await api('GET', '/api/v1/parts/?q=THEIRS');
    assert.equal(listed.body.count, 0);
  });

  it('needs a key (401), parts:read to read and parts:write to write (403)', async () => {
    const part = await create({ part_number: 'SCOPE-1' });
    const routes: [string, string, unknown?][] = [
      ['GET', '/api/v1/parts/'],
      ['GET', `/api/v1/parts/${part.id}`],
      ['POST', '/api/v1/parts/', { part_number: 'SCOPE-2' }],
      ['PATCH', `/api/v1/parts/${part.id}`, { description: 'x' }],
      ['DELETE', `/api/v1/parts/${part.id}`],
    ];
    await assertScopesEnforced((m, r, b, k) => api(m, r, b, k as string), routes, { unscoped: h.keys.writer, reader });
    const admin = await api('GET', `/api/v1/parts/${part.id}`, undefined, h.keys.admin);
    assert.equal(admin.status, 200, 'admin implies parts:read');
    assert.equal((await api('GET', `/api/v1/parts/${part.id}`)).body.description, null, 'nothing changed');
  });

  it('replays a create with the same Idempotency-Key instead of answering 409', async () => {
    const headers = { 'idempotency-key': 'create-part-once' };
    const first = await h.api('POST', '/api/v1/parts/', { key, body: { part_number: 'IDEM-1' }, headers });
    const second = await h.api('POST', '/api/v1/parts/', { key, body: { part_number: 'IDEM-1' }, headers });
    assert.equal(first.status, 201);
    assert.equal(second.status, 201);
    assert.equal(second.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(second.body, first.body);
  });

  it('documents every parts, revisions and datasets route in /openapi.json with request and response schemas', async () => {
    const spec = (await h.api('GET', '/openapi.json', { key: null })).body;
    const base = '/api/v1/parts';
    const rev = `${base}/{part_id}/revisions/{revision_id}`;
    const expected: [string, string, number][] = [
      ['get', `${base}/`, 200],
      ['post', `${base}/`, 201],
      ['get', `${base}/{part_id}`, 200],
      ['patch', `${base}/{part_id}`, 200],
      ['delete', `${base}/{part_id}`, 200],
      ['get', `${base}/{part_id}/revisions`, 200],
      ['post', `${base}/{part_id}/revisions`, 201],
      ['get', rev, 200],
      ['patch', rev, 200],
      ['delete', rev, 200],
      ['get', `${rev}/datasets`, 200],
      ['post', `${rev}/datasets`, 201],
      ['patch', `${rev}/datasets/{dataset_link_id}`, 200],
      ['delete', `${rev}/datasets/{dataset_link_id}`, 200],
      ['post', `${rev}/datasets/upload`, 201],
      ['get', `${base}/{part_id}/preview-url`, 200],
      ['get', `${base}/datasets/{data_source_id}/preview-url`, 200],
    ];
    for (const [method, path, status] of expected) {
      const operation = spec.paths[path]?.[method];
      assert.ok(operation, `${method.toUpperCase()} ${path} is documented`);
      assert.ok(
        operation.responses[String(status)]?.content?.['application/json']?.schema,
        `${method} ${path} answers ${status} with a schema`,
      );
      assert.ok(operation.responses['401'] && operation.responses['403'], `${method} ${path} documents its error rows`);
      assert.ok(operation.responses['422'], `${method} ${path} documents 422, as every reference endpoint does`);
      for (const parameter of operation.parameters ?? []) {
        if (parameter.in === 'query') assert.notEqual(parameter.required, true, `${method} ${path}: query ${parameter.name} is optional`);
      }
      if (path.includes('{part_id}')) assert.ok(operation.responses['404'], `${method} ${path} documents 404`);
      if (method === 'post' || method === 'patch') assert.ok(operation.requestBody, `${method} ${path} has a request schema`);
    }
    const upload = spec.paths[`${rev}/datasets/upload`].post;
    assert.ok(upload.requestBody.content['multipart/form-data'].schema.properties.file, 'the upload form names its file field');
    assert.deepEqual(
      upload.parameters
        .filter((p: { in: string }) => p.in === 'query')
        .map((p: { name: string }) => p.name)
        .sort(),
      ['is_primary', 'role'],
    );
    for (const name of ['PartPublic', 'PartRevisionPublic', 'DatasetLinkPublic']) {
      assert.ok(spec.components.schemas[name], `${name} is a shared component`);
    }
    assert.deepEqual(Object.keys(spec.components.schemas.PartPublic.properties).sort(), PART_FIELDS);
    const docs = await fetch(`${h.url}/docs/`, { redirect: 'follow' });
    assert.equal(docs.status, 200);
  });

  it('counts a q search exactly up to 1,000 matches, and past that says 1,000 with count_capped', async () => {
    const sql = new pg.Client({ connectionString: h.databaseUrl });
    await sql.connect();
    try {
      const add = (prefix: string, n: number) =>
        sql.query(`INSERT INTO parts (id, org_id, part_number) SELECT gen_random_uuid(), $1, $2 || i FROM generate_series(1, $3::int) i`, [
          h.orgId,
          prefix,
          n,
        ]);
      await add('CAPEXACT-', SEARCH_COUNT_CAP);
      await add('CAPOVER-', SEARCH_COUNT_CAP + 1);
      const exact = await api('GET', '/api/v1/parts/?q=capexact-&limit=2');
      assert.equal(exact.status, 200, JSON.stringify(exact.body));
      assert.equal(exact.body.count, SEARCH_COUNT_CAP, 'exactly the cap is counted exactly');
      assert.equal(exact.body.count_capped, undefined);
      const over = await api('GET', '/api/v1/parts/?q=capover-&limit=2');
      assert.equal(over.body.count, SEARCH_COUNT_CAP);
      assert.equal(over.body.count_capped, true);
      assert.equal(over.body.data.length, 2);
      assert.equal(typeof over.body.next_cursor, 'string', 'a capped search still pages on');
      const all = await api('GET', '/api/v1/parts/?limit=1');
      assert.equal(all.body.count_capped, undefined, 'a list without q counts exactly');
    } finally {
      await sql.end();
    }
  });
});
