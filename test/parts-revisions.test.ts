import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertError, assertInvalid, assertScopesEnforced } from './helpers/assertions.js';
import { type Harness, startStowage } from './helpers/harness.js';

const UNKNOWN_ID = '0190d7c4-0000-7000-8000-000000000000';
const REVISION_FIELDS = [
  'attributes',
  'change_request_id',
  'created_at',
  'id',
  'parent_revision_id',
  'part_id',
  'revision_code',
  'updated_at',
];

describe('revisions (/api/v1/parts/{part_id}/revisions…)', () => {
  let h: Harness;
  let key: string;
  let reader: string;
  const api = (method: string, route: string, body?: unknown, k = key) => h.api(method, route, { key: k, body });
  const newPart = async (partNumber: string, k = key) => {
    const answer = await api('POST', '/api/v1/parts/', { part_number: partNumber }, k);
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    return answer.body as { id: string };
  };
  const newRevision = async (partId: string, body: Record<string, unknown>, k = key) => {
    const answer = await api('POST', `/api/v1/parts/${partId}/revisions`, body, k);
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    return answer.body;
  };

  before(async () => {
    h = await startStowage({ RATE_LIMIT_ENABLED: 'false' }, { worker: false });
    key = await h.createKey(h.orgId, ['parts:read', 'parts:write']);
    reader = await h.createKey(h.orgId, ['parts:read']);
  });
  after(() => h.close());

  it('creates a revision (201), keeps change_request_id and attributes, and reads it back', async () => {
    const part = await newPart('REV-1');
    const revision = await newRevision(part.id, {
      revision_code: 'A',
      change_request_id: 'ECR-2026-0042',
      attributes: { status: 'released' },
    });
    assert.deepEqual(Object.keys(revision).sort(), REVISION_FIELDS);
    assert.equal(revision.part_id, part.id);
    assert.equal(revision.revision_code, 'A');
    assert.equal(revision.parent_revision_id, null);
    assert.equal(revision.change_request_id, 'ECR-2026-0042');
    assert.deepEqual(revision.attributes, { status: 'released' });
    const got = await api('GET', `/api/v1/parts/${part.id}/revisions/${revision.id}`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, revision);
    const bare = await newRevision(part.id, { revision_code: 'B' });
    assert.deepEqual(bare.attributes, {});
    assert.equal(bare.change_request_id, null);
  });

  it('keeps revision_code unique per part (409), not across parts', async () => {
    const one = await newPart('REV-UNIQ-1');
    const two = await newPart('REV-UNIQ-2');
    await newRevision(one.id, { revision_code: '01' });
    const again = await api('POST', `/api/v1/parts/${one.id}/revisions`, { revision_code: '01' });
    assertError(again, 409, 'conflict', 'duplicate revision code');
    assert.deepEqual(again.body.error.details, { revision_code: '01' });
    await newRevision(two.id, { revision_code: '01' });
    assertInvalid(await api('POST', `/api/v1/parts/${one.id}/revisions`, {}), 'body.revision_code');
    assertInvalid(await api('POST', `/api/v1/parts/${one.id}/revisions`, { revision_code: ' ' }), 'body.revision_code');
    assertInvalid(await api('POST', `/api/v1/parts/${one.id}/revisions`, { revision_code: 'C', status: 'x' }), 'body.status');
    assertInvalid(await api('POST', `/api/v1/parts/${one.id}/revisions`, { revision_code: 'C', attributes: 'x' }), 'body.attributes');
  });

  it('records lineage: the parent must be a revision of the same part (422 otherwise)', async () => {
    const part = await newPart('LINEAGE-1');
    const other = await newPart('LINEAGE-2');
    const a = await newRevision(part.id, { revision_code: 'A' });
    const b = await newRevision(part.id, { revision_code: 'B', parent_revision_id: a.id });
    assert.equal(b.parent_revision_id, a.id);
    const c = await newRevision(part.id, { revision_code: 'C', parent_revision_id: b.id });
    assert.equal(c.parent_revision_id, b.id);
    const foreignPart = await newPart('LINEAGE-THEIRS', h.keys.otherOrg);
    const foreign = await newRevision(foreignPart.id, { revision_code: 'A' }, h.keys.otherOrg);
    const elsewhere = await newRevision(other.id, { revision_code: 'A' });

    for (const [what, parent] of [
      ['another part', elsewhere.id],
      ['unknown', UNKNOWN_ID],
      ["another org's", foreign.id],
    ]) {
      assertInvalid(
        await api('POST', `/api/v1/parts/${part.id}/revisions`, { revision_code: 'X', parent_revision_id: parent }),
        'body.parent_revision_id',
        what,
      );
    }
    assertInvalid(
      await api('POST', `/api/v1/parts/${part.id}/revisions`, { revision_code: 'X', parent_revision_id: 'nope' }),
      'body.parent_revision_id',
      'malformed',
    );
    const none = await newRevision(part.id, { revision_code: 'D', parent_revision_id: null });
    assert.equal(none.parent_revision_id, null);
    const list = await api('GET', `/api/v1/parts/${part.id}/revisions`);
    assert.equal(list.body.count, 4, 'no X was created');
  });

  it('lists newest first with count, limit and offset', async () => {
    const part = await newPart('REV-LIST');
    const made = [];
    for (const code of ['A', 'B', 'C']) made.push(await newRevision(part.id, { revision_code: code }));
    const list = await api('GET', `/api/v1/parts/${part.id}/revisions`);
    assert.equal(list.status, 200);
    assert.equal(list.body.count, 3);
    assert.deepEqual(
      list.body.data.map((r: { revision_code: string }) => r.revision_code),
      ['C', 'B', 'A'],
    );
    const page = await api('GET', `/api/v1/parts/${part.id}/revisions?limit=1&offset=1`);
    assert.equal(typeof page.body.next_cursor, 'string');
    assert.deepEqual(page.body, { count: 3, data: [made[1]], next_cursor: page.body.next_cursor });
    assertInvalid(await api('GET', `/api/v1/parts/${part.id}/revisions?limit=500`), 'querystring.limit');
    const empty = await newPart('REV-LIST-EMPTY');
    assert.deepEqual((await api('GET', `/api/v1/parts/${empty.id}/revisions`)).body, { count: 0, data: [], next_cursor: null });
  });

  it('PATCH merges attributes at the top level; null removes a key', async () => {
    const part = await newPart('REV-PATCH');
    const revision = await newRevision(part.id, { revision_code: 'A', attributes: { a: 1, b: { x: 1, y: 2 }, c: 'keep' } });
    const patched = await api('PATCH', `/api/v1/parts/${part.id}/revisions/${revision.id}`, {
      attributes: { a: null, b: { x: 9 }, d: [1, 2], missing: null },
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.deepEqual(
      patched.body.attributes,
      { b: { x: 9 }, c: 'keep', d: [1, 2] },
      'top-level keys replace; nested objects are not merged',
    );
    assert.equal(patched.body.revision_code, 'A');
    assert.ok(patched.body.updated_at >= revision.updated_at);
    assert.deepEqual((await api('GET', `/api/v1/parts/${part.id}/revisions/${revision.id}`)).body, patched.body);
    const noop = await api('PATCH', `/api/v1/parts/${part.id}/revisions/${revision.id}`, {});
    assert.deepEqual(noop.body, patched.body);
    assertInvalid(await api('PATCH', `/api/v1/parts/${part.id}/revisions/${revision.id}`, { revision_code: 'Z' }), 'body.revision_code');
    assertInvalid(await api('PATCH', `/api/v1/parts/${part.id}/revisions/${revision.id}`, { attributes: [1] }), 'body.attributes');
  });

  it('DELETE answers {message}; a revision others name as parent is 409 until they are gone', async () => {
    const part = await newPart('REV-DELETE');
    const a = await newRevision(part.id, { revision_code: 'A' });
    const b = await newRevision(part.id, { revision_code: 'B', parent_revision_id: a.id });
    const upload = await h.api('POST', '/api/v1/uploads/presign', { body: { name: 'a.step' } });
    await api('POST', `/api/v1/parts/${part.id}/revisions/${a.id}/datasets`, { data_source_id: upload.body.data_source_id });

    const refused = await api('DELETE', `/api/v1/parts/${part.id}/revisions/${a.id}`);
    assertError(refused, 409, 'conflict', 'parent of B');
    assert.deepEqual(refused.body.error.details, { child_revision_ids: [b.id] });
    assert.equal((await api('GET', `/api/v1/parts/${part.id}/revisions/${a.id}`)).status, 200, 'still there');

    const gone = await api('DELETE', `/api/v1/parts/${part.id}/revisions/${b.id}`);
    assert.equal(gone.status, 200);
    assert.deepEqual(Object.keys(gone.body), ['message']);
    const parent = await api('DELETE', `/api/v1/parts/${part.id}/revisions/${a.id}`);
    assert.equal(parent.status, 200, JSON.stringify(parent.body));
    assertError(await api('GET', `/api/v1/parts/${part.id}/revisions/${a.id}`), 404, 'not_found', 'deleted');
    assertError(await api('DELETE', `/api/v1/parts/${part.id}/revisions/${a.id}`), 404, 'not_found', 'deleted twice');
    const db = h.runtime.database.db;
    assert.equal(
      (await db.selectFrom('dataset_links').select('id').where('part_revision_id', '=', a.id).execute()).length,
      0,
      'links went',
    );
    assert.equal((await h.api('GET', `/api/v1/uploads/${upload.body.data_source_id}`)).status, 200, 'the upload stayed');
  });

  it('a new child and the deletion of its parent never both succeed', async () => {
    const part = await newPart('REV-RACE');
    for (let round = 0; round < 5; round++) {
      const parent = await newRevision(part.id, { revision_code: `P${round}` });
      const [child, removal] = await Promise.all([
        api('POST', `/api/v1/parts/${part.id}/revisions`, { revision_code: `C${round}`, parent_revision_id: parent.id }),
        api('DELETE', `/api/v1/parts/${part.id}/revisions/${parent.id}`),
      ]);
      if (child.status === 201) assertError(removal, 409, 'conflict', 'the child came first');
      else {
        assert.equal(removal.status, 200, JSON.stringify(removal.body));
        assertInvalid(child, 'body.parent_revision_id', 'the deletion came first');
      }
    }
  });

  it("answers 404 for unknown, malformed, mismatched and another org's ids on every route", async () => {
    const part = await newPart('REV-404');
    const mine = await newRevision(part.id, { revision_code: 'A' });
    const otherPart = await newPart('REV-404-OTHER');
    const theirPart = await newPart('REV-404-THEIRS', h.keys.otherOrg);
    const theirs = await newRevision(theirPart.id, { revision_code: 'A', attributes: { v: 1 } }, h.keys.otherOrg);

    for (const partId of [UNKNOWN_ID, 'bad', theirPart.id]) {
      assertError(await api('GET', `/api/v1/parts/${partId}/revisions`), 404, 'not_found', `list under ${partId}`);
      assertError(
        await api('POST', `/api/v1/parts/${partId}/revisions`, { revision_code: 'Z' }),
        404,
        'not_found',
        `create under ${partId}`,
      );
    }
    const pairs: [string, string][] = [
      [part.id, UNKNOWN_ID],
      [part.id, 'bad'],
      ['bad', mine.id],
      [otherPart.id, mine.id],
      [theirPart.id, theirs.id],
      [part.id, theirs.id],
    ];
    for (const [partId, revisionId] of pairs) {
      const route = `/api/v1/parts/${partId}/revisions/${revisionId}`;
      assertError(await api('GET', route), 404, 'not_found', `GET ${route}`);
      assertError(await api('PATCH', route, { attributes: { v: 2 } }), 404, 'not_found', `PATCH ${route}`);
      assertError(await api('DELETE', route), 404, 'not_found', `DELETE ${route}`);
    }
    const still = await api('GET', `/api/v1/parts/${theirPart.id}/revisions/${theirs.id}`, undefined, h.keys.otherOrg);
    assert.deepEqual(still.body, theirs, "the other org's revision is untouched");
    const missing = await api('GET', `/api/v1/parts/${UNKNOWN_ID}/revisions/${mine.id}`);
    assert.match(missing.body.error.message, /part/);
  });

  it('needs a key (401), parts:read to read and parts:write to write (403)', async () => {
    const part = await newPart('REV-SCOPE');
    const revision = await newRevision(part.id, { revision_code: 'A' });
    const routes: [string, string, unknown?][] = [
      ['GET', `/api/v1/parts/${part.id}/revisions`],
      ['GET', `/api/v1/parts/${part.id}/revisions/${revision.id}`],
      ['POST', `/api/v1/parts/${part.id}/revisions`, { revision_code: 'B' }],
      ['PATCH', `/api/v1/parts/${part.id}/revisions/${revision.id}`, { attributes: { a: 1 } }],
      ['DELETE', `/api/v1/parts/${part.id}/revisions/${revision.id}`],
    ];
    await assertScopesEnforced((m, r, b, k) => api(m, r, b, k as string), routes, { unscoped: h.keys.writer, reader });
    assert.equal((await api('GET', `/api/v1/parts/${part.id}/revisions`)).body.count, 1);
  });
});
