/**
 * The trash for files and uploads: soft delete, hidden from lists, content unreachable, recover;
 * uploads in use cannot be deleted; the sweeper purges after the retention period (its clock is
 * driven, not waited for) and frees bytes only where nothing else uses them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runSweep } from '../src/modules/sweeper/sweep-job.js';
import { sendFileContent } from './helpers/files.js';
import { type Harness, startStowage } from './helpers/harness.js';
import { presign, sha256, uploadConfirmed } from './helpers/uploads.js';

const DAY = 24 * 3600 * 1000;

describe('trash', () => {
  let h: Harness;
  let key: string;
  const api = (method: string, route: string, body?: unknown, k = key) => h.api(method, route, { key: k, body });
  const sweepAt = (at: Date) => runSweep({ ...h.runtime, db: h.runtime.database.db, log: h.runtime.logger }, at);
  const blobOf = async (uploadId: string) =>
    await h.runtime.database.db
      .selectFrom('uploads')
      .select(['blob_key', 'blob_purged_at'])
      .where('id', '=', uploadId)
      .executeTakeFirstOrThrow();
  const stored = async (uploadId: string) => (await h.runtime.blobs.stat((await blobOf(uploadId)).blob_key)) !== null;

  before(async () => {
    h = await startStowage({ STOWAGE_TRASH_RETENTION_DAYS: '30' });
    key = await h.createKey(h.orgId, ['files:read', 'files:write', 'uploads:read', 'uploads:write', 'parts:read', 'parts:write']);
  });
  after(() => h.close());

  async function fileWithContent(text: string) {
    const created = await api('POST', '/api/v1/files', {
      filename: `${text}.txt`,
      content_type: 'text/plain',
      size: Buffer.byteLength(text),
    });
    const sent = await sendFileContent(h, key, created.body.id, text);
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    return sent.body as { id: string; cid: string; properties: { sha256: string } };
  }

  it('a deleted file is hidden, its content 404, its writes refused, and it recovers as it was', async () => {
    const file = await fileWithContent('trashed-once');
    const deleted = await api('DELETE', `/api/v1/files/${file.id}`);
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    assert.ok(deleted.body.deleted_at);
    assert.equal(
      (await api('DELETE', `/api/v1/files/${file.id}`)).body.deleted_at,
      deleted.body.deleted_at,
      'deleting again changes nothing',
    );
    assert.equal((await api('GET', `/api/v1/files/${file.id}`)).body.deleted_at, deleted.body.deleted_at, 'GET still answers it');
    const listed = (await api('GET', '/api/v1/files?q=trashed-once')).body;
    assert.equal(listed.count, 0);
    assert.equal((await api('GET', '/api/v1/files?q=trashed-once&include_deleted=true')).body.count, 1);
    assert.equal((await fetch(`${h.url}/api/v1/files/${file.id}/content`, { headers: { 'x-api-key': key } })).status, 404);
    assert.equal((await api('GET', `/api/v1/files/${file.id}/download-url`)).status, 404);
    assert.equal((await api('PUT', `/api/v1/files/${file.id}`, { expect_tip: file.cid, note: 'no' })).status, 409);

    const recovered = await api('POST', `/api/v1/files/${file.id}/recover`);
    assert.equal(recovered.status, 200);
    assert.equal(recovered.body.deleted_at, null);
    assert.equal(recovered.body.cid, file.cid);
    const content = await fetch(`${h.url}/api/v1/files/${file.id}/content`, { headers: { 'x-api-key': key } });
    assert.equal(await content.text(), 'trashed-once');
  });

  it('an upload used by a live file version or a dataset link cannot be deleted; named in the 409', async () => {
    const upload = await uploadConfirmed(h, 'shared.txt', 'shared bytes');
    const file = await api('POST', '/api/v1/files', {
      filename: 'shared.txt',
      content_type: 'text/plain',
      size: 12,
      data_source_id: upload.id,
    });
    assert.equal(file.status, 201, JSON.stringify(file.body));
    const refused = await api('DELETE', `/api/v1/uploads/${upload.id}`);
    assert.equal(refused.status, 409);
    assert.deepEqual(refused.body.error.details.file_versions, [{ file_id: file.body.id, ver: 1 }]);

    await api('DELETE', `/api/v1/files/${file.body.id}`);
    const deleted = await api('DELETE', `/api/v1/uploads/${upload.id}`);
    assert.equal(deleted.status, 200, 'a version of a file in the trash does not hold the upload');
    assert.ok(deleted.body.deleted_at);
    assert.equal((await api('GET', `/api/v1/uploads/${upload.id}/download-url`)).status, 404);
    const list = (await api('GET', '/api/v1/uploads/?limit=200')).body.data.map((u: { id: string }) => u.id);
    assert.ok(!list.includes(upload.id), 'hidden from the list');
    assert.ok(
      (await api('GET', '/api/v1/uploads/?limit=200&include_deleted=true')).body.data.some((u: { id: string }) => u.id === upload.id),
    );
    assert.equal((await api('POST', `/api/v1/uploads/${upload.id}/recover`)).body.deleted_at, null);

    const part = await api('POST', '/api/v1/parts', { part_number: 'TR-1' });
    const revision = await api('POST', `/api/v1/parts/${part.body.id}/revisions`, { revision_code: 'A' });
    const linked = await uploadConfirmed(h, 'linked.txt', 'linked bytes');
    const link = await api('POST', `/api/v1/parts/${part.body.id}/revisions/${revision.body.id}/datasets`, { data_source_id: linked.id });
    assert.equal(link.status, 201, JSON.stringify(link.body));
    const byLink = await api('DELETE', `/api/v1/uploads/${linked.id}`);
    assert.equal(byLink.status, 409);
    assert.equal(byLink.body.error.details.dataset_links[0].dataset_link_id, link.body.id);

    const pending = await presign(h, { name: 'pending.txt' }, key);
    assert.equal(
      (await api('DELETE', `/api/v1/uploads/${pending.data_source_id}`)).status,
      409,
      'a pending upload is cancelled, not deleted',
    );
  });

  it('the sweeper purges after the retention period: the file and its content upload go, shared bytes stay', async () => {
    const file = await fileWithContent('purge-me');
    const contentUpload = (
      await h.runtime.database.db.selectFrom('file_versions').select('upload_id').where('file_id', '=', file.id).executeTakeFirstOrThrow()
    ).upload_id;
    // Another upload sharing the same bytes (deduplicated): it keeps them alive.
    const twin = await presign(h, { name: 'twin.txt', sha256: sha256('purge-me'), size_bytes: 8 }, key);
    assert.equal(twin.deduplicated, true);
    await api('DELETE', `/api/v1/files/${file.id}`);

    const early = await sweepAt(new Date(Date.now() + 29 * DAY));
    assert.equal((await api('GET', `/api/v1/files/${file.id}`)).status, 200, `kept within the retention period: ${JSON.stringify(early)}`);

    const report = await sweepAt(new Date(Date.now() + 31 * DAY));
    assert.ok(report.purged_files >= 1, JSON.stringify(report));
    assert.equal((await api('GET', `/api/v1/files/${file.id}`)).status, 404, 'the file is gone');
    assert.ok((await blobOf(contentUpload)).blob_purged_at, 'its content upload no longer holds bytes');
    assert.equal(await stored(contentUpload), true, 'the bytes stay: the deduplicated twin shares them');
    assert.equal((await api('GET', `/api/v1/uploads/${twin.data_source_id}/download-url`)).status, 200);
  });

  it('permanent=true purges at once for an admin, and is 403 for anyone else', async () => {
    const file = await fileWithContent('gone-now');
    const contentUpload = (
      await h.runtime.database.db.selectFrom('file_versions').select('upload_id').where('file_id', '=', file.id).executeTakeFirstOrThrow()
    ).upload_id;
    assert.equal((await api('DELETE', `/api/v1/files/${file.id}?permanent=true`)).status, 403);
    const purged = await api('DELETE', `/api/v1/files/${file.id}?permanent=true`, undefined, h.keys.admin);
    assert.equal(purged.status, 200, JSON.stringify(purged.body));
    assert.equal((await api('GET', `/api/v1/files/${file.id}`)).status, 404);
    assert.equal(await stored(contentUpload), false, 'bytes nothing else used are freed');

    const upload = await uploadConfirmed(h, 'single.txt', 'only here');
    const purgedUpload = await api('DELETE', `/api/v1/uploads/${upload.id}?permanent=true`, undefined, h.keys.admin);
    assert.equal(purgedUpload.status, 200, JSON.stringify(purgedUpload.body));
    assert.equal(await stored(upload.id), false);
    assert.equal((await api('POST', `/api/v1/uploads/${upload.id}/recover`)).status, 409, 'a purged upload cannot come back');
  });
});
