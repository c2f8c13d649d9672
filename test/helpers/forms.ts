import http from 'node:http';
import type { Harness } from './harness.js';

export interface FormAnswer {
  status: number;
  body: any;
  replayed: boolean;
}

export interface FormOptions {
  bytes: Buffer;
  filename?: string;
  idempotencyKey?: string;
  /** Send a Content-Length (else the body goes chunked). */
  contentLength?: boolean;
  route?: string;
}

/**
 * A multipart/form-data upload of one file, with a fresh boundary each time as a real client makes
 * it. `held` sends all but the last bytes and waits for `finish()`: a request held in flight for real.
 */
export function sendForm(h: Harness, options: FormOptions): { finish(): Promise<FormAnswer>; answer: Promise<FormAnswer> } {
  const boundary = `----stowage-form-${Math.random().toString(16).slice(2, 14).padEnd(12, '0')}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${options.filename ?? 'file.bin'}"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const headers: Record<string, string | number> = {
    'x-api-key': h.keys.writer,
    'content-type': `multipart/form-data; boundary=${boundary}`,
  };
  if (options.contentLength) headers['content-length'] = head.length + options.bytes.length + tail.length;
  if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
  let request!: http.ClientRequest;
  const answer = new Promise<FormAnswer>((resolve, reject) => {
    request = http.request(`${h.url}${options.route ?? '/api/v1/uploads'}`, { method: 'POST', headers }, (response) => {
      let text = '';
      response.on('data', (d) => (text += d));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body: text ? JSON.parse(text) : null, replayed: response.headers['idempotent-replayed'] === 'true' }),
      );
    });
    // The server may answer and close before it has read everything we send.
    request.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error)));
  });
  const last = Math.max(0, options.bytes.length - 1);
  request.write(head);
  for (let i = 0; i < last; i += 64 * 1024) request.write(options.bytes.subarray(i, Math.min(i + 64 * 1024, last)));
  return {
    answer,
    finish() {
      request.end(Buffer.concat([options.bytes.subarray(last), tail]));
      return answer;
    },
  };
}

/** A whole form sent at once. */
export const postForm = (h: Harness, options: FormOptions) => sendForm(h, options).finish();
