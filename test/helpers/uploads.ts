import { createHash } from 'node:crypto';
import type { Harness } from './harness.js';
import { eventually } from './harness.js';

export const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

export interface Presigned {
  data_source_id: string;
  url: string;
  method: string;
  deduplicated: boolean;
  headers: Record<string, string> | null;
  expires_in: number;
}

export async function presign(h: Harness, body: Record<string, unknown>, key = h.keys.writer): Promise<Presigned> {
  const answer = await h.api('POST', '/api/v1/uploads/presign', { key, body });
  if (answer.status !== 200) throw new Error(`presign answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body;
}

/** PUTs to a presigned URL with the headers presign returned (fetch sets Content-Length itself). */
export async function putBytes(p: Presigned, bytes: Buffer | string): Promise<Response> {
  const headers = Object.fromEntries(Object.entries(p.headers ?? {}).filter(([name]) => name.toLowerCase() !== 'content-length'));
  return fetch(p.url, { method: p.method, headers, body: typeof bytes === 'string' ? bytes : new Uint8Array(bytes) });
}

export async function confirm(h: Harness, id: string, key = h.keys.writer): Promise<string> {
  const answer = await h.api('POST', '/api/v1/uploads/confirm', { key, body: { data_source_id: id } });
  if (answer.status !== 200) throw new Error(`confirm answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body.job_id;
}

/** Waits for the job to finish and returns the upload as it then stands. */
export async function settle(h: Harness, id: string, jobId: string) {
  const job = await eventually(async () => {
    const answer = await h.api('GET', `/api/v1/jobs/${jobId}`);
    return answer.body.status === 'succeeded' || answer.body.status === 'failed' ? answer.body : undefined;
  }, `job ${jobId}`);
  const upload = (await h.api('GET', `/api/v1/uploads/${id}`)).body;
  return { job, upload };
}

/** presign → PUT → confirm → settled: a confirmed upload of `bytes`. */
export async function uploadConfirmed(
  h: Harness,
  name: string,
  bytes: Buffer | string,
  extra: Record<string, unknown> = {},
  key = h.keys.writer,
) {
  const p = await presign(h, { name, size_bytes: Buffer.byteLength(bytes), sha256: sha256(bytes), ...extra }, key);
  const put = await putBytes(p, bytes);
  if (!put.ok) throw new Error(`PUT answered ${put.status}: ${await put.text()}`);
  const jobId = await confirm(h, p.data_source_id, key);
  const { upload, job } = await settle(h, p.data_source_id, jobId);
  if (upload.status !== 'confirmed') throw new Error(`upload ended ${upload.status}: ${JSON.stringify(job)}`);
  return upload;
}

/** A simple (streamed) upload as a form: confirmed when the answer comes. */
export async function streamedUpload(h: Harness, key: string, name: string, text: string): Promise<{ id: string }> {
  const form = new FormData();
  form.append('file', new Blob([text], { type: 'application/octet-stream' }), name);
  const answer = await fetch(`${h.url}/api/v1/uploads`, { method: 'POST', headers: { 'x-api-key': key }, body: form });
  const body = await answer.json();
  if (answer.status !== 201) throw new Error(`streamed upload → ${answer.status} ${JSON.stringify(body)}`);
  return body;
}
