/**
 * `stowage files verify ID` as users run it (the built CLI on the service's database and blobs): a
 * file made over HTTP verifies; a version row changed in SQL, a prev_cid re-pointed, a tip moved, a
 * version removed and bytes changed on disk are each named as the first break, with exit code 1.
 */
import assert from 'node:assert/strict';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { verifyFile } from '../src/modules/files/verify.js';
import { type CliResult, runCli } from './helpers/cli.js';
import { sendFileContent } from './helpers/files.js';
import { type Harness, startStowage } from './helpers/harness.js';

interface Version {
  ver: number;
  cid: string;
  prev_cid: string | null;
  note: string | null;
  upload_id: string;
}

/** A file of three versions made over HTTP: content, an edit that keeps it, then new content. */
async function fileOfThreeVersions(h: Harness, key: string): Promise<string> {
  const api = (method: string, route: string, body?: unknown) => h.api(method, route, { key, body });
  const sendContent = async (id: string, bytes: string) => {
    const sent = await sendFileContent(h, key, id, bytes, 'text/plain');
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    return sent.body;
  };
  const created = await api('POST', '/api/v1/files', { filename: 'plan.txt', content_type: 'text/plain', size: 11 });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const v1 = await sendContent(created.body.id, 'first draft');
  const v2 = await api('PUT', `/api/v1/files/${v1.id}`, {
    expect_tip: v1.cid,
    note: 'reviewed',
    properties: { status: { stage: 'review' } },
  });
  assert.equal(v2.status, 200, JSON.stringify(v2.body));
  const re = await api('POST', `/api/v1/files/${v1.id}/reupload`, { expect_tip: v2.body.cid, content_type: 'text/plain', size: 12 });
  assert.equal(re.status, 200, JSON.stringify(re.body));
  const v3 = await sendContent(v1.id, 'second draft');
  assert.equal(v3.ver, 3);
  return v1.id;
}

function verifyEnv(h: Harness): Record<string, string> {
  return { ...h.storageEnv, DATABASE_URL: h.databaseUrl, STOWAGE_DATA_DIR: h.dataDir };
}

async function versionsOf(h: Harness, fileId: string): Promise<Version[]> {
  const { rows } =
    await sql<Version>`SELECT ver, cid, prev_cid, note, upload_id FROM file_versions WHERE file_id = ${fileId} ORDER BY ver`.execute(
      h.runtime.database.db,
    );
  return rows;
}

function assertHolds(result: CliResult, versions: number) {
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
  assert.equal((result.stdout.match(/^ {2}ver \d+ {2}bafyrei\S+ {2}ok$/gm) ?? []).length, versions, result.stdout);
  assert.match(result.stdout, /chain holds/);
  // Not necessarily empty: libraries may warn there (the AWS SDK about future Node versions).
  assert.doesNotMatch(result.stderr, /\r|\d+%|ETA/, 'no progress bar when stderr is not a terminal');
}

/** Exit 1, the version's own line BROKEN on `check`, and the summary naming it as the first break. */
function assertBreak(result: CliResult, ver: number, check: string) {
  assert.equal(result.code, 1, `${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, new RegExp(`^ {2}ver ${ver} .*BROKEN: ${check}:`, 'm'), result.stdout);
  assert.match(result.stdout, new RegExp(`^FIRST BREAK at version ${ver}, check ${check}:`, 'm'), result.stdout);
  for (let earlier = 1; earlier < ver; earlier++) assert.match(result.stdout, new RegExp(`^ {2}ver ${earlier} .* ok$`, 'm'));
}

describe('stowage files verify: the records (either storage driver)', () => {
  let h: Harness;
  let key: string;
  let fileId: string;
  let env: Record<string, string>;
  const verify = (...extra: string[]) => runCli(['files', 'verify', fileId, ...extra], env);
  const db = () => h.runtime.database.db;

  before(async () => {
    h = await startStowage();
    key = await h.createKey(h.orgId, ['files:read', 'files:write']);
    fileId = await fileOfThreeVersions(h, key);
    env = verifyEnv(h);
  });
  after(() => h.close());

  it('a file made over HTTP verifies: every version ok, each content read once', async () => {
    const result = await verify();
    assertHolds(result, 3);
    // Versions 1 and 2 share their bytes: two contents, not three.
    assert.match(result.stdout, /^3 versions, 2 contents read \(23 B\)/m);
    assertHolds(await verify('--org', 'acme'), 3);
  });

  it("a property changed in SQL breaks that version's cid; restored, the chain holds again", async () => {
    await sql`UPDATE file_versions SET properties = jsonb_set(properties, '{status,stage}', '"approved"') WHERE file_id = ${fileId} AND ver = 2`.execute(
      db(),
    );
    const result = await verify();
    assertBreak(result, 2, 'cid');
    assert.match(result.stdout, /the record does not hash to the stored cid/);
    assert.match(result.stdout, /^ {2}ver 3 .* ok$/m, 'version 3 still links to the cid version 2 was answered with');

    await sql`UPDATE file_versions SET properties = jsonb_set(properties, '{status,stage}', '"review"') WHERE file_id = ${fileId} AND ver = 2`.execute(
      db(),
    );
    assertHolds(await verify(), 3);
  });

  it('a note changed in SQL breaks the cid of version 1', async () => {
    await sql`UPDATE file_versions SET note = 'forged' WHERE file_id = ${fileId} AND ver = 1`.execute(db());
    try {
      assertBreak(await verify(), 1, 'cid');
    } finally {
      await sql`UPDATE file_versions SET note = NULL WHERE file_id = ${fileId} AND ver = 1`.execute(db());
    }
    assertHolds(await verify(), 3);
  });

  it('a prev_cid re-pointed, or one that is no CID at all, is the first break', async () => {
    const [v1, v2] = await versionsOf(h, fileId);
    await sql`UPDATE file_versions SET prev_cid = ${v1.cid} WHERE file_id = ${fileId} AND ver = 3`.execute(db());
    const skipped = await verify();
    assertBreak(skipped, 3, 'prev_cid');
    assert.match(skipped.stdout, new RegExp(`expected: ${v2.cid}\\n {2}actual: {3}${v1.cid}`));

    await sql`UPDATE file_versions SET prev_cid = 'not-a-cid' WHERE file_id = ${fileId} AND ver = 3`.execute(db());
    const garbage = await verify();
    assertBreak(garbage, 3, 'prev_cid');
    assert.match(garbage.stdout, /cid: the record cannot be encoded: prev_cid is not a CID/);

    await sql`UPDATE file_versions SET prev_cid = ${v2.cid} WHERE file_id = ${fileId} AND ver = 3`.execute(db());
    assertHolds(await verify(), 3);
  });

  it('a tip moved back is a break of the file row', async () => {
    const [, v2, v3] = await versionsOf(h, fileId);
    await sql`UPDATE files SET ver = 2, cid = ${v2.cid} WHERE id = ${fileId}`.execute(db());
    try {
      const result = await verify();
      assert.equal(result.code, 1, result.stdout);
      assert.match(result.stdout, /^ {2}tip {2}BROKEN: tip:/m);
      assert.match(result.stdout, /^FIRST BREAK at the file's tip, check tip: the file's tip is not its last version \(3\)/m);
    } finally {
      await sql`UPDATE files SET ver = 3, cid = ${v3.cid} WHERE id = ${fileId}`.execute(db());
    }
    assertHolds(await verify(), 3);
  });

  it("an unknown file, another org's file and a bad command line are told apart", async () => {
    const unknown = await runCli(['files', 'verify', '0190a5c4-0000-7000-8000-000000000000'], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no file 0190a5c4-0000-7000-8000-000000000000/);
    const notUuid = await runCli(['files', 'verify', 'nope'], env);
    assert.equal(notUuid.code, 1);
    assert.match(notUuid.stderr, /no file nope/);

    const otherOrg = await verify('--org', 'globex');
    assert.equal(otherOrg.code, 1);
    assert.match(otherOrg.stderr, new RegExp(`no file ${fileId} in organisation "globex"`));
    const noOrg = await verify('--org', 'nobody');
    assert.equal(noOrg.code, 1);
    assert.match(noOrg.stderr, /organisation "nobody" not found/);

    for (const args of [['files', 'verify'], ['files'], ['files', 'check', fileId], ['files', 'verify', fileId, 'extra']]) {
      const usage = await runCli(args, env);
      assert.equal(usage.code, 2, args.join(' '));
      assert.match(usage.stderr, /usage: stowage files verify ID/);
    }
    const help = await runCli(['help'], env);
    assert.match(help.stdout, /stowage files verify ID \[--org NAME\]/);
  });

  it('tells its progress, up to every byte of every distinct content', async () => {
    const seen: [number, number][] = [];
    const report = await verifyFile(db(), h.runtime.blobs, h.orgId, fileId, { onProgress: (done, total) => seen.push([done, total]) });
    assert.equal(report.firstBreak, null);
    assert.deepEqual(seen.at(-1), [23, 23]);
    assert.ok(seen.every(([done], i) => i === 0 || done >= seen[i - 1][0]));
  });

  it('a version removed from the middle leaves a gap the next version names', async () => {
    await sql`DELETE FROM file_versions WHERE file_id = ${fileId} AND ver = 2`.execute(db());
    const result = await verify();
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stdout, /^FIRST BREAK at version 3, check ver:/m);
    assert.match(result.stdout, /version 2 is missing: version 3 follows 1/);
    assert.match(result.stdout, /^ {2}ver 3 .*BROKEN: ver: .*; prev_cid: /m);
  });
});

describe('stowage files verify: the bytes (local driver)', () => {
  let h: Harness;
  let fileId: string;
  let env: Record<string, string>;
  const verify = () => runCli(['files', 'verify', fileId], env);

  before(async () => {
    h = await startStowage({}, { storage: 'local' });
    fileId = await fileOfThreeVersions(h, await h.createKey(h.orgId, ['files:read', 'files:write']));
    env = verifyEnv(h);
  });
  after(() => h.close());

  async function blobFileOf(ver: number): Promise<string> {
    const { rows } = await sql<{ blob_key: string }>`
      SELECT u.blob_key FROM file_versions v JOIN uploads u ON u.id = v.upload_id WHERE v.file_id = ${fileId} AND v.ver = ${ver}`.execute(
      h.runtime.database.db,
    );
    return path.join(h.dataDir, 'blobs', rows[0].blob_key);
  }

  it('one byte changed on disk breaks the sha256 and content_cid of every version using it', async () => {
    assertHolds(await verify(), 3);
    const file = await blobFileOf(1);
    const original = await readFile(file);
    assert.equal(original.toString(), 'first draft');
    await writeFile(file, 'first Draft');
    try {
      const result = await verify();
      assertBreak(result, 1, 'sha256');
      assert.match(result.stdout, /^ {2}ver 1 .*BROKEN: sha256: .*; content_cid: /m);
      assert.match(result.stdout, /^ {2}ver 2 .*BROKEN: sha256:/m, 'version 2 kept the same bytes');
      assert.match(result.stdout, /^ {2}ver 3 .* ok$/m);
      assert.doesNotMatch(result.stdout, /BROKEN: size/, 'the size still matches');
    } finally {
      await writeFile(file, original);
    }
    assertHolds(await verify(), 3);
  });

  it('bytes cut short break the size; bytes gone break the content', async () => {
    const file = await blobFileOf(3);
    const original = await readFile(file);
    await truncate(file, 6);
    const short = await verify();
    assertBreak(short, 3, 'size');
    assert.match(short.stdout, /expected: 12\n {2}actual: {3}6/);

    await sql`UPDATE uploads SET blob_key = 'gone/nowhere' WHERE id = (SELECT upload_id FROM file_versions WHERE file_id = ${fileId} AND ver = 3)`.execute(
      h.runtime.database.db,
    );
    const gone = await verify();
    assertBreak(gone, 3, 'content');
    assert.match(gone.stdout, /no stored bytes at gone\/nowhere/);
    await writeFile(file, original);
  });
});
