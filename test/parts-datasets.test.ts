import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertError, assertInvalid, assertScopesEnforced } from './helpers/assertions.js';
import { type Harness, startStowage } from './helpers/harness.js';
import { sha256 } from './helpers/uploads.js';
import { postForm } from './helpers/forms.js';

const UNKNOWN_ID = '0190d7c4-0000-7000-8000-000000000000';
const LIMIT = 4 * 1024 * 1024;
const LINK_FIELDS = [
  'attributes',
  'content_type',
  'created_at',
  'data_source_id',
  'filename',
  'id',
  'is_active',
  'is_primary',
  'part_revision_id',
  'role',
  'size_bytes',
];

interface Link {
  id: string;
  data_source_id: string;
  filename: string;
  role: string;
  is_primary: boolean;
  is_active: boolean;
  size_bytes: number | null;
  content_type: string | null;
  attributes: Record<string, unknown>;
}

describe('datasets (/api/v1/parts/{part_id}/revisions/{revision_id}/datasets…)', () => {
  let h: Harness;
  let key: string;
  let reader: string;
  let serial = 0;
  const api = (method: string, route: string, body?: unknown, k = key) => h.api(method, route, { key: k, body });

  /** A fresh part with one revision: each test works on its own. */
  async function revision(k = key) {
    const part = await api('POST', '/api/v1/parts/', { part_number: `DS-${++serial}` }, k);
    assert.equal(part.status, 201, JSON.stringify(part.body));
    const rev = await api('POST', `/api/v1/parts/${part.body.id}/revisions`, { revision_code: 'A' }, k);
    assert.equal(rev.status, 201, JSON.stringify(rev.body));
    const base = `/api/v1/parts/${part.body.id}/revisions/${rev.body.id}/datasets`;
    return { partId: part.body.id as string, revisionId: rev.body.id as string, base };
  }

  /** A confirmed upload through the simple streamed upload. */
  async function confirmedUpload(name: string, bytes: Buffer | string = `bytes of ${name}`, uploadKey = h.keys.writer): Promise<string> {
    const form = new FormData();
    form.append('file', new Blob([typeof bytes === 'string' ? bytes : new Uint8Array(bytes)]), name);
    const response = await fetch(`${h.url}/api/v1/uploads`, { method: 'POST', headers: { 'x-api-key': uploadKey }, body: form });
    const body = await response.json();
    assert.equal(response.status, 201, JSON.stringify(body));
    return body.id;
  }

  async function pendingUpload(name: string, uploadKey = h.keys.writer): Promise<string> {
    const answer = await h.api('POST', '/api/v1/uploads/presign', { key: uploadKey, body: { name, size_bytes: 10 } });
    assert.equal(answer.status, 200);
    return answer.body.data_source_id;
  }

  async function attach(base: string, body: Record<string, unknown>, k = key): Promise<Link> {
    const answer = await api('POST', base, body, k);
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    return answer.body;
  }

  async function links(base: string, includeInactive = false): Promise<Link[]> {
    const answer = await api('GET', `${base}?limit=200${includeInactive ? '&include_inactive=true' : ''}`);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.count, answer.body.data.length);
    return answer.body.data;
  }

  /** The invariant, read from the table itself: exactly one primary among active links whenever there is any. */
  async function assertOnePrimary(revisionId: string, expected?: string) {
    const rows = await h.runtime.database.db
      .selectFrom('dataset_links')
      .select(['id', 'is_primary', 'is_active'])
      .where('part_revision_id', '=', revisionId)
      .execute();
    const active = rows.filter((r) => r.is_active);
    const primaries = rows.filter((r) => r.is_primary);
    assert.equal(primaries.length, active.length ? 1 : 0, `primaries: ${JSON.stringify(rows)}`);
    if (primaries.length) assert.ok(primaries[0].is_active, 'the primary is active');
    if (expected) assert.equal(primaries[0]?.id, expected, 'the expected link is primary');
  }

  /** The one-shot upload: multipart/form-data, chunked, so the server cannot know the size up front. */
  const uploadOneShot = (base: string, filename: string, bytes: Buffer, query = '', k = key, field = 'file') =>
    postForm(h, { bytes, filename, field, key: k, route: `${base}/upload${query}` });

  const uploadCount = async () => (await h.api('GET', '/api/v1/uploads/summary', { key: h.keys.admin })).body.total_count;

  before(async () => {
    h = await startStowage({ RATE_LIMIT_ENABLED: 'false', STOWAGE_SIMPLE_UPLOAD_MAX_BYTES: String(LIMIT) }, { worker: false });
    key = await h.createKey(h.orgId, ['parts:read', 'parts:write']);
    reader = await h.createKey(h.orgId, ['parts:read']);
  });
  after(() => h.close());

  it('attaches an upload (201): the first link is primary, the role defaults from the extension', async () => {
    const { revisionId, base } = await revision();
    const bytes = 'ISO-10303-21; a bracket';
    const uploadId = await confirmedUpload('bracket.STEP', bytes);
    const first = await attach(base, { data_source_id: uploadId, is_primary: false, attributes: { source: 'cad' } });
    assert.deepEqual(Object.keys(first).sort(), LINK_FIELDS);
    assert.equal(first.data_source_id, uploadId);
    assert.equal(first.filename, 'bracket.STEP');
    assert.equal(first.role, 'cad_3d');
    assert.equal(first.is_primary, true, 'the first link is primary even when asked otherwise');
    assert.equal(first.is_active, true);
    assert.equal(first.size_bytes, Buffer.byteLength(bytes));
    assert.deepEqual(first.attributes, { source: 'cad' });
    assert.equal((first as unknown as { part_revision_id: string }).part_revision_id, revisionId);

    const drawing = await attach(base, { data_source_id: await confirmedUpload('bracket drawing.pdf', '%PDF-1.4\n%') });
    assert.equal(drawing.role, 'drawing_2d');
    assert.equal(drawing.is_primary, false, 'a later link is not primary unless asked');
    assert.equal(drawing.content_type, 'application/pdf', 'sniffed from the bytes');
    const notes = await attach(base, { data_source_id: await confirmedUpload('notes.txt') });
    assert.equal(notes.role, 'other');
    const spec = await attach(base, { data_source_id: await confirmedUpload('spec.dxf'), role: 'spec' });
    assert.equal(spec.role, 'spec', 'an explicit role wins');
    for (const [name, role] of [
      ['a.igs', 'cad_3d'],
      ['b.stl', 'cad_3d'],
      ['c.dwg', 'drawing_2d'],
      ['d.glb', 'cad_3d'],
      ['e', 'other'],
      ['f.prt.3', 'cad_3d'],
    ]) {
      const link = await attach(base, { data_source_id: await pendingUpload(name) });
      assert.equal(link.role, role, name);
    }
    await assertOnePrimary(revisionId, first.id);
    const listed = await links(base);
    assert.equal(listed.length, 10);
    assert.deepEqual(listed[listed.length - 1], first, 'newest first');
  });

  it('attaches a pending upload (size null); refuses cancelled (409), foreign or unknown uploads (404), doubles (409)', async () => {
    const { revisionId, base } = await revision();
    const pending = await attach(base, { data_source_id: await pendingUpload('later.step') });
    assert.equal(pending.size_bytes, null);
    assert.equal(pending.is_primary, true);

    const cancelledId = await pendingUpload('cancelled.step');
    assert.equal((await h.api('POST', `/api/v1/uploads/${cancelledId}/cancel`)).status, 200);
    const cancelled = await api('POST', base, { data_source_id: cancelledId });
    assertError(cancelled, 409, 'conflict', 'cancelled upload');

    const theirs = await pendingUpload('theirs.step', h.keys.otherOrg);
    for (const id of [theirs, UNKNOWN_ID, 'not-a-uuid']) {
      assertError(await api('POST', base, { data_source_id: id }), 404, 'not_found', `upload ${id}`);
    }
    const again = await api('POST', base, { data_source_id: pending.data_source_id });
    assertError(again, 409, 'conflict', 'already attached');
    assert.equal(again.body.error.details.dataset_link_id, pending.id);

    for (const [body, path] of [
      [{}, 'body.data_source_id'],
      [{ data_source_id: pending.data_source_id, role: 'Not A Role' }, 'body.role'],
      [{ data_source_id: pending.data_source_id, is_primary: 'maybe' }, 'body.is_primary'],
      [{ data_source_id: pending.data_source_id, attributes: 3 }, 'body.attributes'],
      [{ data_source_id: pending.data_source_id, colour: 'red' }, 'body.colour'],
    ] as const) {
      const answer = await api('POST', base, body);
      assertError(answer, 422, 'validation_error', path);
      assert.ok(
        answer.body.error.details.some((d: { path: string }) => d.path === path),
        JSON.stringify(answer.body.error.details),
      );
    }
    assert.equal((await links(base, true)).length, 1, 'nothing else was linked');
    await assertOnePrimary(revisionId, pending.id);
  });

  it('promoting demotes the others; demoting the sole primary is 409, with or without other links', async () => {
    const { revisionId, base } = await revision();
    const a = await attach(base, { data_source_id: await pendingUpload('a.step') });
    const b = await attach(base, { data_source_id: await pendingUpload('b.step') });
    const c = await attach(base, { data_source_id: await pendingUpload('c.step'), is_primary: true });
    assert.equal(c.is_primary, true, 'attach with is_primary promotes');
    await assertOnePrimary(revisionId, c.id);

    const promoted = await api('PATCH', `${base}/${a.id}`, { is_primary: true });
    assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
    assert.equal(promoted.body.is_primary, true);
    await assertOnePrimary(revisionId, a.id);
    const same = await api('PATCH', `${base}/${a.id}`, { is_primary: true });
    assert.equal(same.status, 200, 'promoting the primary is a no-op');
    await assertOnePrimary(revisionId, a.id);

    const demoted = await api('PATCH', `${base}/${a.id}`, { is_primary: false });
    assertError(demoted, 409, 'conflict', 'demoting the primary while other links exist');
    await assertOnePrimary(revisionId, a.id);
    assert.equal(
      (await api('PATCH', `${base}/${b.id}`, { is_primary: false })).body.is_primary,
      false,
      'demoting a non-primary is a no-op',
    );
    await assertOnePrimary(revisionId, a.id);

    await api('DELETE', `${base}/${b.id}`);
    await api('DELETE', `${base}/${c.id}`);
    const sole = await api('PATCH', `${base}/${a.id}`, { is_primary: false });
    assertError(sole, 409, 'conflict', 'demoting the only link');
    await assertOnePrimary(revisionId, a.id);
  });

  it('20 concurrent promotions on one revision leave exactly one primary', async () => {
    const { revisionId, base } = await revision();
    const all: Link[] = [];
    for (let i = 0; i < 20; i++) all.push(await attach(base, { data_source_id: await pendingUpload(`part-${i}.step`) }));
    const answers = await Promise.all(all.map((link) => api('PATCH', `${base}/${link.id}`, { is_primary: true })));
    for (const answer of answers) assert.equal(answer.status, 200, JSON.stringify(answer.body));
    await assertOnePrimary(revisionId);
    const primaries = (await links(base)).filter((l) => l.is_primary);
    assert.equal(primaries.length, 1);

    // Promotions racing attaches, detaches and demotions keep the invariant too.
    const mixed = await Promise.all([
      ...all.slice(0, 8).map((link) => api('PATCH', `${base}/${link.id}`, { is_primary: true })),
      ...all.slice(8, 12).map((link) => api('DELETE', `${base}/${link.id}`)),
      ...all.slice(12, 16).map((link) => api('PATCH', `${base}/${link.id}`, { is_primary: false })),
      ...[0, 1, 2, 3].map(async (i) => api('POST', base, { data_source_id: await pendingUpload(`late-${i}.step`), is_primary: true })),
    ]);
    mixed.forEach((answer, i) => {
      // A demotion that meets the current primary is refused; every other change goes through.
      const allowed = i >= 12 && i < 16 ? [200, 409] : [200, 201];
      assert.ok(allowed.includes(answer.status), JSON.stringify(answer.body));
    });
    await assertOnePrimary(revisionId);
  });

  it('the database itself refuses a second primary (unique partial index)', async () => {
    const { revisionId, base } = await revision();
    await attach(base, { data_source_id: await pendingUpload('one.step') });
    const two = await attach(base, { data_source_id: await pendingUpload('two.step') });
    await assert.rejects(
      h.runtime.database.db.updateTable('dataset_links').set({ is_primary: true }).where('id', '=', two.id).execute(),
      (error: { code?: string }) => error.code === '23505',
    );
    await assert.rejects(
      h.runtime.database.db
        .updateTable('dataset_links')
        .set({ is_active: false })
        .where('part_revision_id', '=', revisionId)
        .where('is_primary', '=', true)
        .execute(),
      (error: { code?: string }) => error.code === '23514',
      'an inactive link cannot be primary',
    );
  });

  it('the same filename supersedes the older active link; a superseded primary hands over', async () => {
    const { revisionId, base } = await revision();
    const v1 = await attach(base, { data_source_id: await confirmedUpload('housing.step', 'v1') });
    const drawing = await attach(base, { data_source_id: await confirmedUpload('housing.pdf', '%PDF-1.4 v1') });
    const v2 = await attach(base, { data_source_id: await confirmedUpload('housing.step', 'v2 bytes') });
    assert.equal(v2.is_active, true);
    assert.equal(v2.is_primary, true, 'the primary was superseded: the newest remaining active link (the new one) takes over');
    let active = await links(base);
    assert.deepEqual(
      active.map((l) => l.id),
      [v2.id, drawing.id],
      'only active links are listed by default',
    );
    const history = await links(base, true);
    assert.deepEqual(
      history.map((l) => l.id),
      [v2.id, drawing.id, v1.id],
    );
    assert.deepEqual({ active: history[2].is_active, primary: history[2].is_primary }, { active: false, primary: false });
    await assertOnePrimary(revisionId, v2.id);

    // A new version that asks not to be primary: the newest remaining link (the drawing) takes over.
    const v3 = await attach(base, { data_source_id: await confirmedUpload('housing.step', 'v3'), is_primary: false });
    assert.equal(v3.is_primary, false);
    await assertOnePrimary(revisionId, drawing.id);
    // A non-primary superseded: the primary stays where it is.
    const v4 = await attach(base, { data_source_id: await confirmedUpload('housing.step', 'v4') });
    assert.equal(v4.is_primary, false);
    await assertOnePrimary(revisionId, drawing.id);
    active = await links(base);
    assert.deepEqual(
      active.map((l) => l.id),
      [v4.id, drawing.id],
    );

    const inactive = await api('PATCH', `${base}/${v1.id}`, { is_primary: true });
    assertError(inactive, 409, 'conflict', 'a superseded link cannot be promoted');
    const otherName = await attach(base, { data_source_id: await confirmedUpload('HOUSING.step', 'case differs') });
    assert.equal(otherName.is_active, true);
    assert.equal((await links(base)).length, 3, 'filenames compare exactly');
  });

  it('detaching the primary promotes the newest remaining active link; the upload is kept', async () => {
    const { revisionId, base } = await revision();
    const a = await attach(base, { data_source_id: await pendingUpload('a.step') });
    const b = await attach(base, { data_source_id: await pendingUpload('b.step') });
    const c = await attach(base, { data_source_id: await pendingUpload('c.step') });
    await api('PATCH', `${base}/${b.id}`, { is_primary: true });

    const detached = await api('DELETE', `${base}/${b.id}`);
    assert.equal(detached.status, 200);
    assert.deepEqual(Object.keys(detached.body), ['message']);
    await assertOnePrimary(revisionId, c.id);
    assert.equal((await h.api('GET', `/api/v1/uploads/${b.data_source_id}`)).status, 200, 'the upload is kept');
    assertError(await api('DELETE', `${base}/${b.id}`), 404, 'not_found', 'detached twice');

    assert.equal((await api('DELETE', `${base}/${a.id}`)).status, 200, 'detaching a non-primary');
    await assertOnePrimary(revisionId, c.id);
    assert.equal((await api('DELETE', `${base}/${c.id}`)).status, 200, 'detaching the last one');
    await assertOnePrimary(revisionId);
    assert.deepEqual(await links(base), []);
    const fresh = await attach(base, { data_source_id: a.data_source_id });
    assert.equal(fresh.is_primary, true, 'a detached upload can be attached again, and is first again');
  });

  it('PATCH filename renames the underlying upload; a clash with another active link is 409', async () => {
    const { base } = await revision();
    const a = await attach(base, { data_source_id: await confirmedUpload('a.step') });
    const b = await attach(base, { data_source_id: await confirmedUpload('b.step') });
    const renamed = await api('PATCH', `${base}/${a.id}`, { filename: ' bracket-final.step ' });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    assert.equal(renamed.body.filename, 'bracket-final.step');
    assert.equal(renamed.body.is_primary, true);
    assert.equal((await h.api('GET', `/api/v1/uploads/${a.data_source_id}`)).body.name, 'bracket-final.step');

    const clash = await api('PATCH', `${base}/${b.id}`, { filename: 'bracket-final.step' });
    assertError(clash, 409, 'conflict', 'name of another active link');
    assert.equal((await h.api('GET', `/api/v1/uploads/${b.data_source_id}`)).body.name, 'b.step', 'unchanged');
    const both = await api('PATCH', `${base}/${b.id}`, { filename: 'b2.step', is_primary: true });
    assert.equal(both.status, 200);
    assert.deepEqual([both.body.filename, both.body.is_primary], ['b2.step', true]);

    for (const [body, path] of [
      [{ filename: 'dir/x.step' }, 'body.filename'],
      [{ filename: '   ' }, 'body.filename'],
      [{ filename: '' }, 'body.filename'],
      [{ role: 'cad_3d' }, 'body.role'],
      [{ is_primary: 'x' }, 'body.is_primary'],
    ] as const) {
      const answer = await api('PATCH', `${base}/${b.id}`, body);
      assertError(answer, 422, 'validation_error', JSON.stringify(body));
      assert.ok(
        answer.body.error.details.some((d: { path: string }) => d.path === path),
        JSON.stringify(answer.body.error.details),
      );
    }
  });

  it('one-shot upload: streamed to storage, confirmed, linked (201), role from the extension or the query', async () => {
    const { revisionId, base } = await revision();
    const bytes = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    const answer = await uploadOneShot(base, 'gearbox.stp', bytes);
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    const link: Link = answer.body;
    assert.deepEqual(Object.keys(link).sort(), LINK_FIELDS);
    assert.equal(link.filename, 'gearbox.stp');
    assert.equal(link.role, 'cad_3d');
    assert.equal(link.is_primary, true);
    assert.equal(link.size_bytes, bytes.length);
    const upload = (await h.api('GET', `/api/v1/uploads/${link.data_source_id}`)).body;
    assert.equal(upload.status, 'confirmed');
    assert.equal(upload.sha256, sha256(bytes), 'hashed on the way');
    const url = (await h.api('GET', `/api/v1/uploads/${link.data_source_id}/download-url`)).body.url;
    assert.ok(Buffer.from(await (await fetch(url)).arrayBuffer()).equals(bytes));

    const drawing = await uploadOneShot(base, 'gearbox.pdf', Buffer.from('%PDF-1.4\n%%EOF'), '?is_primary=true');
    assert.equal(drawing.status, 201, JSON.stringify(drawing.body));
    assert.equal(drawing.body.role, 'drawing_2d');
    assert.equal(drawing.body.is_primary, true);
    await assertOnePrimary(revisionId, drawing.body.id);
    const spec = await uploadOneShot(base, 'gearbox.pdf', Buffer.from('%PDF-1.4\nrev 2'), '?role=spec&is_primary=false');
    assert.equal(spec.status, 201);
    assert.equal(spec.body.role, 'spec');
    assert.equal(spec.body.is_primary, false);
    await assertOnePrimary(revisionId, link.id);
    const history = await links(base, true);
    assert.equal(history.find((l) => l.id === drawing.body.id)?.is_active, false, 'the same filename superseded the first pdf');

    // The JSON form of the same upload (fetch + FormData) works too.
    const form = new FormData();
    form.append('file', new Blob(['solid cube\nendsolid cube\n']), 'cube.stl');
    const viaFetch = await fetch(`${h.url}${base}/upload`, { method: 'POST', headers: { 'x-api-key': key }, body: form });
    assert.equal(viaFetch.status, 201);
    assert.equal((await viaFetch.json()).role, 'cad_3d');
  });

  it('one-shot upload refusals: 404 before any byte is stored, 413 over the limit, 400 for a body that is no form, 422, 401/403', async () => {
    const { partId, base } = await revision();
    const theirs = await revision(h.keys.otherOrg);
    const before = await uploadCount();
    for (const target of [
      theirs.base,
      `/api/v1/parts/${partId}/revisions/${UNKNOWN_ID}/datasets`,
      `/api/v1/parts/bad/revisions/${UNKNOWN_ID}/datasets`,
    ]) {
      const answer = await uploadOneShot(target, 'x.step', Buffer.alloc(256 * 1024, 1));
      assertError(answer, 404, 'not_found', target);
    }
    const tooLarge = await uploadOneShot(base, 'huge.step', Buffer.alloc(LIMIT + 1, 1));
    assertError(tooLarge, 413, 'payload_too_large');
    const wrongField = await uploadOneShot(base, 'x.step', Buffer.from('x'), '', key, 'document');
    assertInvalid(wrongField, 'body.file');
    const badRole = await uploadOneShot(base, 'x.step', Buffer.from('x'), '?role=Bad%20Role');
    assertInvalid(badRole, 'querystring.role');
    assertError(await uploadOneShot(base, 'x.step', Buffer.from('x'), '', reader), 403, 'insufficient_scope', 'a reader');
    assertError(
      await uploadOneShot(base, 'x.step', Buffer.from('x'), '', h.keys.writer),
      403,
      'insufficient_scope',
      'uploads:write is not parts:write',
    );
    assertError(await uploadOneShot(base, 'x.step', Buffer.from('x'), '', 'stw_000000000000_nope'), 401, 'invalid_api_key');
    // The wrong kind of request body is the request's fault, whatever it holds: 400.
    const json = await api('POST', `${base}/upload`, { name: 'x.step' });
    assertError(json, 400, 'bad_request', 'a JSON body');
    const text = await fetch(`${h.url}${base}/upload`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'text/plain' },
      body: 'x',
    });
    assertError({ status: text.status, headers: text.headers, body: await text.json() }, 400, 'bad_request', 'a text/plain body');
    assert.equal(await uploadCount(), before, 'no upload was kept by any refusal');
    assert.deepEqual(await links(base, true), []);
  });

  it("answers 404 for another org's (or unknown, or mismatched) part, revision and link ids on every route", async () => {
    const mine = await revision();
    const other = await revision();
    const theirs = await revision(h.keys.otherOrg);
    const myLink = await attach(mine.base, { data_source_id: await pendingUpload('mine.step') });
    const theirLink = await attach(theirs.base, { data_source_id: await pendingUpload('theirs.step', h.keys.otherOrg) }, h.keys.otherOrg);
    const myUpload = await pendingUpload('spare.step');

    const revisionBases = [
      theirs.base,
      `/api/v1/parts/${mine.partId}/revisions/${UNKNOWN_ID}/datasets`,
      `/api/v1/parts/${UNKNOWN_ID}/revisions/${mine.revisionId}/datasets`,
      `/api/v1/parts/${other.partId}/revisions/${mine.revisionId}/datasets`,
      `/api/v1/parts/bad/revisions/bad/datasets`,
    ];
    for (const base of revisionBases) {
      assertError(await api('GET', base), 404, 'not_found', `GET ${base}`);
      assertError(await api('POST', base, { data_source_id: myUpload }), 404, 'not_found', `POST ${base}`);
      assertError(await api('PATCH', `${base}/${myLink.id}`, { is_primary: true }), 404, 'not_found', `PATCH ${base}`);
      assertError(await api('DELETE', `${base}/${myLink.id}`), 404, 'not_found', `DELETE ${base}`);
    }
    for (const linkId of [theirLink.id, UNKNOWN_ID, 'bad']) {
      assertError(await api('PATCH', `${mine.base}/${linkId}`, { filename: 'stolen.step' }), 404, 'not_found', `PATCH link ${linkId}`);
      assertError(await api('DELETE', `${mine.base}/${linkId}`), 404, 'not_found', `DELETE link ${linkId}`);
    }
    // A link of another revision of the same org is not reachable under this one either.
    const otherLink = await attach(other.base, { data_source_id: await pendingUpload('other.step') });
    assertError(await api('PATCH', `${mine.base}/${otherLink.id}`, { is_primary: true }), 404, 'not_found', 'link of another revision');
    assertError(await api('POST', mine.base, { data_source_id: theirLink.data_source_id }), 404, 'not_found', "another org's upload");

    const theirView = (await api('GET', theirs.base, undefined, h.keys.otherOrg)).body.data;
    assert.deepEqual(theirView, [theirLink], "the other org's link is untouched");
    assert.deepEqual(await links(mine.base), [myLink]);
  });

  it('needs a key (401), parts:read to read and parts:write to write (403)', async () => {
    const { base } = await revision();
    const link = await attach(base, { data_source_id: await pendingUpload('scoped.step') });
    const uploadId = await pendingUpload('other.step');
    const routes: [string, string, unknown?][] = [
      ['GET', base],
      ['POST', base, { data_source_id: uploadId }],
      ['PATCH', `${base}/${link.id}`, { filename: 'x.step' }],
      ['DELETE', `${base}/${link.id}`],
    ];
    await assertScopesEnforced((m, r, b, k) => api(m, r, b, k as string), routes, { unscoped: h.keys.writer, reader });
    assert.deepEqual(await links(base), [link], 'nothing changed');
    const admin = await api('GET', base, undefined, h.keys.admin);
    assert.equal(admin.status, 200, 'admin implies parts:read');
  });
});
