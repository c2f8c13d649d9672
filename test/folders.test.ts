import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { newId } from '../src/ids.js';
import { assertError, assertInvalid, assertScopesEnforced } from './helpers/assertions.js';
import { type ApiAnswer, type Harness, startStowage } from './helpers/harness.js';

const UNKNOWN_ID = '0190d7c4-0000-7000-8000-00000000f01d';
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const FOLDER_FIELDS = ['created_at', 'id', 'name', 'parent_id', 'path', 'updated_at'];

/** What must not differ between another org's id and an unknown one: everything but the ids. */
const shape = (a: ApiAnswer) => `${a.status} ${JSON.stringify(a.body).replace(UUID, '<id>')}`;

describe('folders (POST/GET /api/v1/folders/, GET/PATCH/DELETE /api/v1/folders/{folder_id})', () => {
  let h: Harness;
  let sql: pg.Client;
  let key: string;
  let reader: string;
  let unscoped: string;
  const api = (method: string, route: string, body?: unknown, k = key) => h.api(method, route, { key: k, body });
  const create = async (name: string, parentId?: string | null, k = key) => {
    const answer = await api('POST', '/api/v1/folders/', parentId === undefined ? { name } : { name, parent_id: parentId }, k);
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    return answer.body;
  };
  const get = async (id: string) => {
    const answer = await api('GET', `/api/v1/folders/${id}`);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body;
  };
  /** A file row put in a folder by hand: the files API is not what is tested here. */
  const insertFile = async (folderId: string, trashed = false) => {
    const id = newId();
    await sql.query(
      `INSERT INTO files (id, org_id, folder_id, status, filename, label, deleted_at) VALUES ($1, $2, $3, 'pending', 'a.txt', 'a.txt', $4)`,
      [id, h.orgId, folderId, trashed ? new Date() : null],
    );
    return id;
  };

  before(async () => {
    h = await startStowage({ RATE_LIMIT_ENABLED: 'false' }, { worker: false, storage: 'local' });
    sql = new pg.Client({ connectionString: h.databaseUrl });
    await sql.connect();
    key = await h.createKey(h.orgId, ['files:read', 'files:write']);
    reader = await h.createKey(h.orgId, ['files:read']);
    unscoped = await h.createKey(h.orgId, ['uploads:read', 'uploads:write', 'parts:read', 'parts:write']);
  });
  after(async () => {
    await sql?.end();
    await h?.close();
  });

  it('creates nested folders (201), each answering its path from the root, and reads them back', async () => {
    const projects = await create('projects');
    assert.deepEqual(Object.keys(projects).sort(), FOLDER_FIELDS);
    assert.equal(projects.parent_id, null);
    assert.equal(projects.path, '/projects');
    assert.match(projects.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/, 'a UUIDv7');
    assert.match(projects.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    const rocket = await create('  rocket ', projects.id);
    assert.equal(rocket.name, 'rocket', 'surrounding blanks dropped');
    const drawings = await create('drawings', rocket.id);
    assert.equal(drawings.parent_id, rocket.id);
    assert.equal(drawings.path, '/projects/rocket/drawings');
    assert.deepEqual(await get(drawings.id), drawings);
    const explicitRoot = await create('explicit-root', null);
    assert.equal(explicitRoot.path, '/explicit-root');
  });

  it('lists the root without parent_id and one level with it, by name then id, paged with the total count', async () => {
    const parent = await create('listing');
    for (const name of ['delta', 'alpha', 'charlie', 'bravo', 'echo']) await create(name, parent.id);
    await create('grandchild', (await api('GET', `/api/v1/folders/?parent_id=${parent.id}&limit=1`)).body.data[0].id);
    const page = await api('GET', `/api/v1/folders/?parent_id=${parent.id}&limit=2&offset=1`);
    assert.equal(page.status, 200);
    assert.equal(page.body.count, 5, 'children only, not the grandchild');
    assert.deepEqual(
      page.body.data.map((f: { name: string }) => f.name),
      ['bravo', 'charlie'],
    );
    assert.deepEqual(
      page.body.data.map((f: { path: string }) => f.path),
      ['/listing/bravo', '/listing/charlie'],
    );
    const root = await api('GET', '/api/v1/folders/?limit=200');
    assert.equal(root.status, 200);
    assert.ok(root.body.data.length > 0);
    assert.ok(
      root.body.data.every(
        (f: { parent_id: string | null; path: string; name: string }) => f.parent_id === null && f.path === `/${f.name}`,
      ),
    );
    assert.equal(root.body.count, root.body.data.length);
    const names = root.body.data.map((f: { name: string }) => f.name);
    assert.deepEqual(names, [...names].sort(), 'by name');
    assertError(await api('GET', `/api/v1/folders/?parent_id=${UNKNOWN_ID}`), 404, 'not_found', 'unknown parent_id');
    assertInvalid(await api('GET', '/api/v1/folders/?parent_id=nope'), 'querystring.parent_id');
    assertInvalid(await api('GET', '/api/v1/folders/?limit=201'), 'querystring.limit');
  });

  it('refuses names a path could not hold, and says the limits (422 naming body.name)', async () => {
    for (const name of ['', '   ', 'a/b', '/', 'back\\slash', 'tab\there', 'nul\u0000', '.', '..', 'x'.repeat(256)]) {
      assertInvalid(await api('POST', '/api/v1/folders/', { name }), 'body.name', JSON.stringify(name));
    }
    const long = await create('é'.repeat(255));
    assert.equal(long.name.length, 255, '255 characters, however many bytes');
    assertInvalid(await api('PATCH', `/api/v1/folders/${long.id}`, { name: 'a/b' }), 'body.name');
    assertInvalid(await api('POST', '/api/v1/folders/', { name: 'x', extra: 1 }), 'body.extra');
    assertInvalid(await api('POST', '/api/v1/folders/', { name: 'x', parent_id: 'not-a-uuid' }), 'body.parent_id');
  });

  it('keeps names unique among siblings (409 naming the folder that holds it), not across parents', async () => {
    const a = await create('unique-a');
    const b = await create('unique-b');
    const first = await create('same', a.id);
    await create('same', b.id);
    const again = await api('POST', '/api/v1/folders/', { name: 'same', parent_id: a.id });
    assertError(again, 409, 'conflict', 'same name, same parent');
    assert.deepEqual(again.body.error.details, { existing_folder_id: first.id, name: 'same', parent_id: a.id });
    const atRoot = await api('POST', '/api/v1/folders/', { name: 'unique-a' });
    assertError(atRoot, 409, 'conflict', 'same name at the root');
    assert.equal(atRoot.body.error.details.existing_folder_id, a.id);
    assert.equal(atRoot.body.error.details.parent_id, null);

    const other = await create('other', a.id);
    const rename = await api('PATCH', `/api/v1/folders/${other.id}`, { name: 'same' });
    assertError(rename, 409, 'conflict', 'rename onto a sibling');
    assert.equal(rename.body.error.details.existing_folder_id, first.id);
    const movedOnto = await api('PATCH', `/api/v1/folders/${first.id}`, { parent_id: b.id });
    assertError(movedOnto, 409, 'conflict', 'move next to a folder of the same name');
    assert.equal((await get(first.id)).parent_id, a.id, 'nothing moved');
    assert.equal((await get(other.id)).name, 'other', 'nothing renamed');
  });

  it('of 8 concurrent creates of one name, exactly one answers 201 and the others 409 naming it', async () => {
    const parent = await create('race');
    for (const parentId of [parent.id, null]) {
      const name = `contested-${parentId ? 'child' : 'root'}`;
      const answers = await Promise.all(
        Array.from({ length: 8 }, () => api('POST', '/api/v1/folders/', parentId ? { name, parent_id: parentId } : { name })),
      );
      const created = answers.filter((a) => a.status === 201);
      assert.equal(created.length, 1, JSON.stringify(answers.map((a) => a.status)));
      for (const loser of answers.filter((a) => a.status !== 201)) {
        assertError(loser, 409, 'conflict', 'a losing create');
        assert.equal(loser.body.error.details.existing_folder_id, created[0].body.id);
      }
      const { rows } = await sql.query('SELECT count(*)::int AS n FROM folders WHERE org_id = $1 AND name = $2', [h.orgId, name]);
      assert.equal(rows[0].n, 1);
    }
  });

  it('renames and moves (with everything inside), parent_id null moving to the root', async () => {
    const docs = await create('docs');
    const old = await create('old', docs.id);
    const deep = await create('deep', old.id);
    const renamed = await api('PATCH', `/api/v1/folders/${old.id}`, { name: 'archive' });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    assert.equal(renamed.body.path, '/docs/archive');
    assert.ok(renamed.body.updated_at > old.updated_at, 'updated_at moves on');
    assert.equal((await get(deep.id)).path, '/docs/archive/deep', 'a child follows its parent');

    const target = await create('target');
    const moved = await api('PATCH', `/api/v1/folders/${old.id}`, { parent_id: target.id, name: 'archive-2026' });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    assert.equal(moved.body.parent_id, target.id);
    assert.equal(moved.body.path, '/target/archive-2026');
    assert.equal((await get(deep.id)).path, '/target/archive-2026/deep');

    const toRoot = await api('PATCH', `/api/v1/folders/${old.id}`, { parent_id: null });
    assert.equal(toRoot.status, 200, JSON.stringify(toRoot.body));
    assert.equal(toRoot.body.parent_id, null);
    assert.equal(toRoot.body.path, '/archive-2026');

    const unchanged = await api('PATCH', `/api/v1/folders/${deep.id}`, {});
    assert.deepEqual(unchanged.body, await get(deep.id), 'an empty PATCH changes nothing');
    assertError(await api('PATCH', `/api/v1/folders/${deep.id}`, { parent_id: UNKNOWN_ID }), 404, 'not_found', 'unknown parent');
  });

  it('refuses a move into the folder itself or into a folder inside it (422 naming body.parent_id)', async () => {
    const top = await create('cycle-top');
    const middle = await create('middle', top.id);
    const bottom = await create('bottom', middle.id);
    assertInvalid(await api('PATCH', `/api/v1/folders/${top.id}`, { parent_id: top.id }), 'body.parent_id', 'into itself');
    assertInvalid(await api('PATCH', `/api/v1/folders/${top.id}`, { parent_id: middle.id }), 'body.parent_id', 'into its child');
    assertInvalid(await api('PATCH', `/api/v1/folders/${top.id}`, { parent_id: bottom.id }), 'body.parent_id', 'into its grandchild');
    assert.equal((await get(bottom.id)).path, '/cycle-top/middle/bottom', 'nothing moved');
    const down = await api('PATCH', `/api/v1/folders/${bottom.id}`, { parent_id: top.id });
    assert.equal(down.status, 200, 'moving up the own branch is fine');
  });

  it('of two concurrent moves A into B and B into A, never both succeed (no cycle is ever made)', async () => {
    const rounds = 12;
    for (let round = 0; round < rounds; round++) {
      const a = await create(`swap-a-${round}`);
      const b = await create(`swap-b-${round}`);
      const [ab, ba] = await Promise.all([
        api('PATCH', `/api/v1/folders/${a.id}`, { parent_id: b.id }),
        api('PATCH', `/api/v1/folders/${b.id}`, { parent_id: a.id }),
      ]);
      assert.deepEqual([ab.status, ba.status].sort(), [200, 422], `round ${round}: ${JSON.stringify([ab.body, ba.body])}`);
      const loser = ab.status === 422 ? ab : ba;
      assertInvalid(loser, 'body.parent_id');
      const { rows } = await sql.query('SELECT id, parent_id FROM folders WHERE id = ANY($1)', [[a.id, b.id]]);
      assert.equal(rows.filter((r) => r.parent_id === null).length, 1, `round ${round}: one of the two stays at the root`);
    }
  });

  it('nests at most 64 deep, on create and on move (422)', async () => {
    let parent = await create('depth-1');
    for (let depth = 2; depth <= 64; depth++) parent = await create(`depth-${depth}`, parent.id);
    assert.equal(parent.path.split('/').length - 1, 64);
    const tooDeep = await api('POST', '/api/v1/folders/', { name: 'depth-65', parent_id: parent.id });
    assertInvalid(tooDeep, 'body.parent_id', 'a 65th level');
    assert.match(tooDeep.body.error.details[0].message, /64/);
    // A folder with one child spans two levels: it fits under depth 62, not under depth 63.
    const pair = await create('pair');
    await create('inner', pair.id);
    const at63 = await get(parent.parent_id);
    assertInvalid(await api('PATCH', `/api/v1/folders/${pair.id}`, { parent_id: at63.id }), 'body.parent_id', 'levels 64 and 65');
    assert.equal((await get(pair.id)).parent_id, null, 'nothing moved');
    const moved = await api('PATCH', `/api/v1/folders/${pair.id}`, { parent_id: at63.parent_id });
    assert.equal(moved.status, 200, `levels 63 and 64: ${JSON.stringify(moved.body)}`);
    assert.equal(moved.body.path.split('/').length - 1, 63);
  });

  it('deletes only an empty folder: a child folder, a file and a trashed file each keep it (409 saying what it holds)', async () => {
    const box = await create('box');
    const child = await create('child', box.id);
    const withChild = await api('DELETE', `/api/v1/folders/${box.id}`);
    assertError(withChild, 409, 'conflict', 'a child folder');
    assert.deepEqual(withChild.body.error.details, { folders: 1, files: 0, trashed_files: 0 });
    assert.match(withChild.body.error.message, /\/box is not empty: it holds 1 folder/);

    const fileId = await insertFile(child.id);
    const withFile = await api('DELETE', `/api/v1/folders/${child.id}`);
    assertError(withFile, 409, 'conflict', 'a file');
    assert.deepEqual(withFile.body.error.details, { folders: 0, files: 1, trashed_files: 0 });

    await sql.query('UPDATE files SET deleted_at = now() WHERE id = $1', [fileId]);
    await insertFile(child.id, true);
    const withTrash = await api('DELETE', `/api/v1/folders/${child.id}`);
    assertError(withTrash, 409, 'conflict', 'files in the trash');
    assert.deepEqual(withTrash.body.error.details, { folders: 0, files: 0, trashed_files: 2 });
    assert.match(withTrash.body.error.message, /2 files in the trash/);
    assert.equal((await get(child.id)).id, child.id, 'still there');

    await sql.query('DELETE FROM files WHERE folder_id = $1', [child.id]);
    const deleted = await api('DELETE', `/api/v1/folders/${child.id}`);
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    assert.equal(deleted.body.message, 'folder /box/child deleted');
    assertError(await api('GET', `/api/v1/folders/${child.id}`), 404, 'not_found', 'deleted');
    assertError(await api('DELETE', `/api/v1/folders/${child.id}`), 404, 'not_found', 'deleted twice');
    assert.equal((await api('DELETE', `/api/v1/folders/${box.id}`)).status, 200, 'empty now');
  });

  /** Runs `hold` in a transaction of its own and commits it once `waiters` requests of the service wait on its locks. */
  const whileHolding = async <T>(hold: (client: pg.Client) => Promise<unknown>, waiters: number, requests: () => Promise<T>) => {
    const holder = new pg.Client({ connectionString: h.databaseUrl });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await hold(holder);
      const answers = requests();
      for (let waited = 0; ; waited += 20) {
        const { rows } = await sql.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        );
        if (rows[0].n >= waiters) break;
        if (waited > 10_000) throw new Error(`only ${rows[0].n} of ${waiters} requests came to wait on the lock`);
        await new Promise((r) => setTimeout(r, 20));
      }
      await holder.query('COMMIT');
      return await answers;
    } finally {
      await holder.end();
    }
  };

  it('a create or move into a folder being deleted finds no folder (404); a delete waiting on a create sees it (409)', async () => {
    const doomed = await create('doomed');
    const wanderer = await create('wanderer');
    // The delete commits while both writes wait on the folder's row: their foreign key finds it gone.
    const [created, moved] = await whileHolding(
      (client) => client.query('DELETE FROM folders WHERE id = $1', [doomed.id]),
      2,
      () =>
        Promise.all([
          api('POST', '/api/v1/folders/', { name: 'late', parent_id: doomed.id }),
          api('PATCH', `/api/v1/folders/${wanderer.id}`, { parent_id: doomed.id }),
        ]),
    );
    assertError(created, 404, 'not_found', 'create into a folder deleted meanwhile');
    assertError(moved, 404, 'not_found', 'move into a folder deleted meanwhile');
    assert.equal((await get(wanderer.id)).parent_id, null, 'nothing moved');

    // A child is being added while the delete comes: the delete waits for it, then counts it.
    const box = await create('busy');
    const deleted = await whileHolding(
      (client) =>
        client.query("INSERT INTO folders (id, org_id, parent_id, name) VALUES ($1, $2, $3, 'arriving')", [newId(), h.orgId, box.id]),
      1,
      () => api('DELETE', `/api/v1/folders/${box.id}`),
    );
    assertError(deleted, 409, 'conflict', 'a child committed while the delete waited');
    assert.equal(deleted.body.error.details.folders, 1);
  });

  it('needs files:read to read and files:write for the rest (admin may do all)', async () => {
    const folder = await create('scoped');
    await assertScopesEnforced(
      (method, route, body, k) => h.api(method, route, { key: k, body }),
      [
        ['GET', '/api/v1/folders/'],
        ['GET', `/api/v1/folders/${folder.id}`],
        ['POST', '/api/v1/folders/', { name: 'nope' }],
        ['PATCH', `/api/v1/folders/${folder.id}`, { name: 'nope' }],
        ['DELETE', `/api/v1/folders/${folder.id}`],
      ],
      { unscoped, reader },
    );
    const byAdmin = await create('by-admin', folder.id, h.keys.admin);
    assert.equal(byAdmin.path, '/scoped/by-admin');
    assert.equal((await get(folder.id)).name, 'scoped', 'refused writes changed nothing');
  });

  it("answers another org's folder exactly like an unknown one, in the path, the body and the query, and changes nothing", async () => {
    const theirs = await create('theirs', null, h.keys.otherOrg);
    const theirChild = await create('their-child', theirs.id, h.keys.otherOrg);
    const mine = await create('mine');
    const calls: [string, (id: string) => [string, string, unknown?]][] = [
      ['getFolder', (id) => ['GET', `/api/v1/folders/${id}`]],
      ['updateFolder', (id) => ['PATCH', `/api/v1/folders/${id}`, { name: 'taken-over' }]],
      ['updateFolder move', (id) => ['PATCH', `/api/v1/folders/${id}`, { parent_id: mine.id }]],
      ['deleteFolder', (id) => ['DELETE', `/api/v1/folders/${id}`]],
      ['createFolder parent_id', (id) => ['POST', '/api/v1/folders/', { name: 'intruder', parent_id: id }]],
      ['updateFolder parent_id', (id) => ['PATCH', `/api/v1/folders/${mine.id}`, { parent_id: id }]],
      ['listFolders parent_id', (id) => ['GET', `/api/v1/folders/?parent_id=${id}`]],
    ];
    for (const [what, call] of calls) {
      for (const foreign of [theirs.id, theirChild.id]) {
        const unknown = await api(...call(UNKNOWN_ID));
        assertError(unknown, 404, 'not_found', `${what}: unknown`);
        assert.equal(shape(await api(...call(foreign))), shape(unknown), `${what}: foreign like unknown`);
      }
    }
    assertError(await api('GET', '/api/v1/folders/not-a-uuid'), 404, 'not_found', 'a malformed id');
    const unchanged = await h.api('GET', `/api/v1/folders/${theirChild.id}`, { key: h.keys.otherOrg });
    assert.equal(unchanged.body.path, '/theirs/their-child');
    assert.equal((await h.api('GET', `/api/v1/folders/?parent_id=${theirs.id}`, { key: h.keys.otherOrg })).body.count, 1);
    assert.equal((await get(mine.id)).parent_id, null);
    // Names are unique per org: the other org's root name is free here.
    assert.equal((await create('theirs')).path, '/theirs');
    const roots = await api('GET', '/api/v1/folders/?limit=200');
    assert.ok(!roots.body.data.some((f: { id: string }) => f.id === theirs.id), "another org's folder is not listed");
  });

  it('counts each level from its counter (list_counts), equal to a real count after creates, moves, renames, deletes and SQL', async () => {
    /** Every level of this org: the root and each folder, the API's count against a count of the rows. */
    const assertCountsTrue = async (when: string) => {
      const { rows } = await sql.query('SELECT id FROM folders WHERE org_id = $1', [h.orgId]);
      for (const parent of [null, ...rows.map((r) => r.id as string)]) {
        const real = await sql.query('SELECT count(*)::int AS n FROM folders WHERE org_id = $1 AND parent_id IS NOT DISTINCT FROM $2', [
          h.orgId,
          parent,
        ]);
        const listed = await api('GET', `/api/v1/folders/?limit=1${parent ? `&parent_id=${parent}` : ''}`);
        assert.equal(listed.status, 200, JSON.stringify(listed.body));
        assert.equal(listed.body.count, real.rows[0].n, `count of ${parent ?? 'the root'} ${when}`);
      }
      // The level's own counter, not a count(*): a counter row exists for a non-empty level.
      const counters = await sql.query(
        `SELECT count(*)::int AS n FROM list_counts WHERE org_id = $1 AND list = 'folders' AND scope = '00000000-0000-0000-0000-000000000000'`,
        [h.orgId],
      );
      assert.ok(counters.rows[0].n >= 1, `the root's counter ${when}`);
    };
    const top = await create('counted-top');
    const kids = await Promise.all(['k1', 'k2', 'k3', 'k4'].map((name) => create(name, top.id)));
    await assertCountsTrue('after creates');
    const moved = await api('PATCH', `/api/v1/folders/${kids[0].id}`, { parent_id: null });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    const movedDown = await api('PATCH', `/api/v1/folders/${kids[1].id}`, { parent_id: kids[2].id, name: 'k2-renamed' });
    assert.equal(movedDown.status, 200, JSON.stringify(movedDown.body));
    assert.equal((await api('PATCH', `/api/v1/folders/${kids[3].id}`, { name: 'k4-renamed' })).status, 200);
    await assertCountsTrue('after moves and renames');
    assert.equal((await api('DELETE', `/api/v1/folders/${kids[0].id}`)).status, 200);
    assert.equal((await api('DELETE', `/api/v1/folders/${kids[3].id}`)).status, 200);
    await assertCountsTrue('after deletes');
    // SQL by hand: a bulk insert in one statement, a bulk move, a rolled-back insert.
    await sql.query(
      `INSERT INTO folders (id, org_id, parent_id, name) SELECT gen_random_uuid(), $1, $2, 'bulk-' || i FROM generate_series(1, 30) i`,
      [h.orgId, top.id],
    );
    await sql.query(`UPDATE folders SET parent_id = $2 WHERE org_id = $1 AND name LIKE 'bulk-1%'`, [h.orgId, kids[2].id]);
    await sql.query('BEGIN');
    await sql.query(`INSERT INTO folders (id, org_id, parent_id, name) VALUES (gen_random_uuid(), $1, NULL, 'rolled-back')`, [h.orgId]);
    await sql.query('ROLLBACK');
    await sql.query(`DELETE FROM folders WHERE org_id = $1 AND name LIKE 'bulk-2%'`, [h.orgId]);
    await assertCountsTrue('after bulk SQL and a rollback');
  });
});
