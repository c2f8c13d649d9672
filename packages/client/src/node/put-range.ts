import { createReadStream } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errorFromAnswer } from '../errors.js';

const CHUNK = 1024 * 1024;

/**
 * PUTs bytes `start..end` (inclusive) of a file to a presigned URL with an exact Content-Length
 * (S3 signs it; fetch cannot stream a file with one), reporting progress as bytes leave. Answers
 * the ETag, or throws with storage's words.
 */
export function putRange(
  url: string,
  headers: Record<string, string>,
  file: string,
  range: { start: number; end: number },
  onBytes: (n: number) => void,
  signal?: AbortSignal,
): Promise<string> {
  const length = range.end - range.start + 1;
  const target = new URL(url);
  const send = target.protocol === 'https:' ? https.request : http.request;
  const outgoing = Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== 'content-length'));
  return new Promise<string>((resolve, reject) => {
    const request = send(target, { method: 'PUT', headers: { ...outgoing, 'content-length': String(length) }, signal }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (d: string) => (text += d));
      response.on('error', reject);
      response.on('end', () => {
        const status = response.statusCode ?? 0;
        if (status < 300) return resolve(String(response.headers.etag ?? '').replace(/"/g, ''));
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // storage's own words (S3 answers XML)
        }
        reject(errorFromAnswer(status, body, 'PUT to storage', String(response.headers['x-request-id'] ?? '') || null));
      });
    });
    request.on('error', reject);
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        onBytes(chunk.length);
        done(null, chunk);
      },
    });
    const source = length > 0 ? createReadStream(file, { start: range.start, end: range.end, highWaterMark: CHUNK }) : [];
    pipeline(source, counter, request).catch(reject);
  });
}
