import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Harness, startStowage } from './helpers/harness.js';
import { confirm, presign, sha256, uploadConfirmed } from './helpers/uploads.js';

describe('deduplication by declared sha256', () => {
  let h: Harness;
  before(async () => {
    h = await startStowage();
  });
  after(() => h.close());

  it('answers a presign of known bytes at once: confirmed, deduplicated, sharing the blob', async () => {
    const bytes = 'the same model, uploaded twice';
    const first = await uploadConfirmed(h, 'bracket-v1.step', bytes);
    const again = await presign(h, { name: 'bracket-copy.step', size_bytes: bytes.length, sha256: sha256(bytes) });
    assert.equal(again.deduplicated, true);
    assert.equal(again.url, null, 'no bytes need to move');
    assert.notEqual(again.data_source_id, first.id, 'a new upload of its own');

    const upload = (await h.api('GET', `/api/v1/uploads/${again.data_source_id}`)).body;
    assert.equal(upload.status, 'confirmed');
    assert.equal(upload.deduplicated, true);
    assert.equal(upload.name, 'bracket-copy.step');
    assert.equal(upload.sha256, sha256(bytes));
    assert.equal(upload.size_bytes, bytes.length);
    const jobId = await confirm(h, again.data_source_id);
    assert.equal((await h.api('GET', `/api/v1/jobs/${jobId}`)).body.status, 'succeeded');
    const link = await h.api('GET', `/api/v1/uploads/${again.data_source_id}/download-url`);
    const download = await fetch(link.body.url);
    assert.equal(await download.text(), bytes);
    assert.match(download.headers.get('content-disposition') ?? '', /bracket-copy\.step/, 'served under its own name');
  });

  it('does not deduplicate across organisations, against unconfirmed uploads, or when the declared size disagrees', async () => {
    const bytes = 'org-private bytes';
    await uploadConfirmed(h, 'mine.txt', bytes);
    const foreign = await h.api('POST', '/api/v1/uploads/presign', {
      key: h.keys.otherOrg,
      body: { name: 'theirs.txt', sha256: sha256(bytes) },
    });
    assert.equal(foreign.body.deduplicated, false);
    assert.ok(foreign.body.url);

    const pendingOnly = 'declared but never confirmed';
    await presign(h, { name: 'p1.txt', sha256: sha256(pendingOnly) });
    assert.equal((await presign(h, { name: 'p2.txt', sha256: sha256(pendingOnly) })).deduplicated, false);

    const wrongSize = await presign(h, { name: 'odd.txt', sha256: sha256(bytes), size_bytes: bytes.length + 1 });
    assert.equal(wrongSize.deduplicated, false);
  });

  it('deduplicates file by file within a batch', async () => {
    const known = 'batch known';
    await uploadConfirmed(h, 'known.txt', known);
    const answer = await h.api('POST', '/api/v1/uploads/presign/batch', {
      body: {
        files: [
          { name: 'new.txt', sha256: sha256('batch new') },
          { name: 'known-again.txt', sha256: sha256(known) },
        ],
      },
    });
    assert.equal(answer.status, 200);
    assert.deepEqual(
      answer.body.files.map((f: { deduplicated: boolean }) => f.deduplicated),
      [false, true],
    );
  });
});
