import type { Harness } from './harness.js';
import { streamedUpload } from './uploads.js';

/** One real resource of every kind a path parameter can name, all in one organisation. */
export interface OrgFixtures {
  key: string;
  part: string;
  revision: string;
  datasetLink: string;
  /** Confirmed (streamed through the server), pending (presigned) and multipart uploads. */
  confirmedUpload: string;
  pendingUpload: string;
  multipartUpload: string;
  job: string;
  folder: string;
  /** A file with one version (from the confirmed upload), and one still awaiting its content. */
  file: string;
  pendingFile: string;
  /** The reading of a confirmed text upload (pending or ready, whichever it is by then). */
  reading: string;
  apiKeyId: string;
  /** A webhook endpoint (on a port nothing listens to) and one delivery of it, never sent: no worker runs. */
  webhook: string;
  delivery: string;
  /** Signed local-blob paths with their query: an upload target and a download. */
  blobPut: string;
  blobGet: string;
}

/** The path parameters that name a resource of an org (every one idsFor knows but reading_id, which no path takes). */
export const ID_PARAMS = [
  'part_id',
  'revision_id',
  'dataset_link_id',
  'data_source_id',
  'job_id',
  'folder_id',
  'file_id',
  'webhook_id',
  'delivery_id',
  'id',
] as const;

/** Every id of the fixtures that a path parameter of this name may take. */
export function idsFor(param: string, f: OrgFixtures): string[] {
  switch (param) {
    case 'part_id':
      return [f.part];
    case 'revision_id':
      return [f.revision];
    case 'dataset_link_id':
      return [f.datasetLink];
    case 'data_source_id':
      return [f.confirmedUpload, f.pendingUpload, f.multipartUpload];
    case 'job_id':
      return [f.job];
    case 'folder_id':
      return [f.folder];
    case 'file_id':
      return [f.file, f.pendingFile];
    case 'reading_id':
      return [f.reading];
    case 'webhook_id':
      return [f.webhook];
    case 'delivery_id':
      return [f.delivery];
    case 'id':
      return [f.apiKeyId];
    default:
      return [];
  }
}

/** The id a route's own deep path most likely wants (a multipart upload for …/parts and …/complete). */
export function bestIdFor(param: string, template: string, f: OrgFixtures): string | undefined {
  if (param === 'data_source_id') {
    if (/\/(parts|complete|sha256)$/.test(template)) return f.multipartUpload;
    if (/\/(cancel|retry)$/.test(template)) return f.pendingUpload;
    return f.confirmedUpload;
  }
  return idsFor(param, f)[0];
}

export async function createFixtures(h: Harness, key: string, label: string): Promise<OrgFixtures> {
  const call = async (method: string, route: string, body?: unknown, expected = [200, 201]) => {
    const answer = await h.api(method, route, { key, body });
    if (!expected.includes(answer.status))
      throw new Error(`${label}: ${method} ${route} → ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  };
  // First, so that the confirmed upload below makes a delivery of it.
  const webhook = await call('POST', '/api/v1/webhooks/', { url: 'http://127.0.0.1:9/hook', events: ['upload.confirmed'] });
  const part = await call('POST', '/api/v1/parts/', { part_number: `FUZZ-${label}`, description: `fixture of ${label}` });
  const revision = await call('POST', `/api/v1/parts/${part.id}/revisions`, { revision_code: 'A' });
  const confirmed = await streamedUpload(h, key, `${label}.step`, `solid ${label}\nendsolid\n`);
  const link = await call('POST', `/api/v1/parts/${part.id}/revisions/${revision.id}/datasets`, { data_source_id: confirmed.id });
  const pending = await call('POST', '/api/v1/uploads/presign', { name: `${label}-pending.txt`, size_bytes: 5 });
  const job = await call('POST', '/api/v1/uploads/confirm', { data_source_id: pending.data_source_id });
  const toPut = await call('POST', '/api/v1/uploads/presign', { name: `${label}-put.txt`, size_bytes: 3 });
  const multipart = await call('POST', '/api/v1/uploads/multipart', { name: `${label}.bin`, size_bytes: 6 * 1024 * 1024 });
  const folder = await call('POST', '/api/v1/folders/', { name: `fuzz ${label}` });
  const file = await call('POST', '/api/v1/files/', {
    filename: `${label}.step`,
    content_type: 'model/step',
    size: Buffer.byteLength(`solid ${label}\nendsolid\n`),
    data_source_id: confirmed.id,
    folder_id: folder.id,
  });
  const pendingFile = await call('POST', '/api/v1/files/', { filename: `${label}-later.txt`, content_type: 'text/plain', size: 3 });
  const note = await streamedUpload(h, key, `${label}-note.txt`, `notes of ${label}\n`);
  const reading = (await call('GET', `/api/v1/readings?data_source_id=${note.id}`)).data[0];
  const apiKey = await call('POST', '/api/v1/keys', { scopes: ['uploads:read'], label: `fuzz ${label}` });
  const download = await call('GET', `/api/v1/uploads/${confirmed.id}/download-url`);
  const delivery = (await call('GET', `/api/v1/webhooks/${webhook.id}/deliveries`)).data[0];
  const local = (url: string) => {
    const u = new URL(url);
    return u.pathname + u.search;
  };
  return {
    key,
    part: part.id,
    revision: revision.id,
    datasetLink: link.id,
    confirmedUpload: confirmed.id,
    pendingUpload: pending.data_source_id,
    multipartUpload: multipart.data_source_id,
    job: job.job_id,
    folder: folder.id,
    file: file.id,
    pendingFile: pendingFile.id,
    reading: reading.id,
    apiKeyId: apiKey.id,
    webhook: webhook.id,
    delivery: delivery.id,
    blobPut: local(toPut.url),
    blobGet: local(download.url),
  };
}
