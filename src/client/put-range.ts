import { createReadStream } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const CHUNK = 1024 * 1024;

/**
 * PUTs bytes start..end (inclusive) of a file to a presigned URL with an exact Content-Length (S3
 * signs it), reporting progress as bytes leave. Answers the ETag, or throws with the store's words.
 */
export async function putRange(
  url: string,
  headers: Record<string, string>,
  file: string,
  range: { start: number; end: number },
  onBytes: (n: number) => void,
): Promise<string> {
  const length = range.end - range.start + 1;
  const target = new URL(url);
  const send = target.protocol === 'https:' ? https.request : http.request;
  const outgoing = Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== 'content-length'));
  return new Promise<string>((resolve, reject) => {
    const request = send(target, { method: 'PUT', headers: { ...outgoing, 'content-length': String(length) } }, (response) => {
      let text = '';
      response.on('data', (d) => (text += d));
      response.on('end', () => {
        if ((response.statusCode ?? 0) >= 300) reject(new Error(`storage answered ${response.statusCode}: ${text.slice(0, 300)}`));
        else resolve(String(response.headers.etag ?? '').replace(/"/g, ''));
      });
    });
    request.on('error', reject);
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        onBytes(chunk.length);
        done(null, chunk);
      },
    });
    pipeline(createReadStream(file, { start: range.start, end: range.end, highWaterMark: CHUNK }), counter, request).catch(reject);
  });
}
