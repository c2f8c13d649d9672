/**
 * The BlobStore contract for the s3 driver over real HTTP: the engine of S3_TEST_ENDPOINT, else
 * s3rver (which lacks some checks; the tests that need them skip, saying so).
 */
import { S3BlobStore } from '../src/blobs/s3.js';
import { type DriverUnderTest, blobStoreContract } from './helpers/blob-store-contract.js';
import { freshBucketName, startS3Engine } from './helpers/s3.js';

// S3 engines hold every part but the last to 5 MiB, and Ceph's in-memory store has 2 GiB in all,
// so multipart tests stay at a part or two of this size.
const MIN_PART_BYTES = 5 * 1024 * 1024;

async function s3Driver(): Promise<DriverUnderTest> {
  const engine = await startS3Engine();
  try {
    const store = new S3BlobStore(engine.settings(freshBucketName()));
    await store.init();
    return { store, lacks: { ...engine.lacks, name: engine.name }, close: () => engine.close() };
  } catch (error) {
    await engine.close();
    throw error;
  }
}

blobStoreContract('s3', s3Driver, {
  minPartBytes: MIN_PART_BYTES,
  vouchesForSha256: false,
  refusals: 's3',
  partEtags: 'md5',
  holdsPartLayout: false,
});
