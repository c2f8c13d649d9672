/** The BlobStore contract for the local driver: files in a folder, its signed URLs answered by our own routes. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { LocalBlobStore } from '../src/blobs/local.js';
import { localBlobRoutes } from '../src/blobs/local-routes.js';
import { BlobUrlSigner } from '../src/blobs/signed-url.js';
import { ErrorEnvelope } from '../src/errors.js';
import { installErrorHandling } from '../src/http/error-handler.js';
import { type DriverUnderTest, blobStoreContract } from './helpers/blob-store-contract.js';

// A constructor option: small parts keep the multipart tests quick without changing what they show.
const MIN_PART_BYTES = 1024;

async function localDriver(): Promise<DriverUnderTest> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'stowage-contract-'));
  const signer = new BlobUrlSigner('contract-secret');
  const store = new LocalBlobStore(dir, signer, { minPartBytes: MIN_PART_BYTES });
  await store.init();
  const app = Fastify();
  installErrorHandling(app);
  app.addSchema(ErrorEnvelope);
  await app.register(localBlobRoutes, { store, signer });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return {
    store,
    baseUrl: `http://127.0.0.1:${port}`,
    lacks: { signatures: false, checksums: false, multipartListing: false, multipartChecks: false, name: 'local' },
    close: async () => {
      await app.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

blobStoreContract('local', localDriver, {
  minPartBytes: MIN_PART_BYTES,
  vouchesForSha256: true,
  refusals: 'envelope',
  partEtags: 'opaque',
  holdsPartLayout: true,
});
