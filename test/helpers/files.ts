import type { ApiAnswer, Harness } from './harness.js';

/** POSTs raw bytes as a file's awaited content, as a client without a form would. */
export async function sendFileContent(
  h: Harness,
  key: string,
  fileId: string,
  bytes: string,
  contentType = 'application/octet-stream',
): Promise<ApiAnswer> {
  const response = await fetch(`${h.url}/api/v1/files/${fileId}/content`, {
    method: 'POST',
    headers: { 'x-api-key': key, 'content-type': contentType },
    body: bytes,
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}
