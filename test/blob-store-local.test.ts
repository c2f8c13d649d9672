/** The BlobStore contract for the local driver: files in a folder, its signed URLs answered by the routes it brings. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LocalBlobStore } from '../src/blobs/local.js';
import { BlobUrlSigner } from '../src/blobs/signed-url.js';
import { type DriverUnderTest, blobStoreContract } from './helpers/blob-store-contract.js';

// A constructor option: small parts keep the multipart tests quick without changing what they show.
const MIN_PART_BYTES = 1024;

async function localDriver(): Promise<DriverUnderTest> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'stowage-contract-'));
  const store = new LocalBlobStore(dir, new BlobUrlSigner('contract-secret'), { minPartBytes: MIN_PART_BYTES });
  await store.init();
  return {
    store,
    lacks: { signatures: false, checksums: false, multipartListing: false, multipartChecks: false, name: 'local' },
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

blobStoreContract('local', localDriver, {
  minPartBytes: MIN_PART_BYTES,
  vouchesForSha256: true,
  refusals: 'envelope',
  partEtags: 'opaque',
  holdsPartLayout: true,
});
