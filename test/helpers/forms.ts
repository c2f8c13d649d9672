import http from 'node:http';
import type { ApiAnswer, Harness } from './harness.js';

export interface FormAnswer extends ApiAnswer {
  replayed: boolean;
}

export interface FormOptions {
  bytes: Buffer;
  /** null: a part with no filename at all. */
  filename?: string | null;
  field?: string;
  type?: string;
  key?: string;
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
  const filename = options.filename === null ? '' : `; filename="${options.filename ?? 'file.bin'}"`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="${options.field ?? 'file'}"${filename}\r\n` +
      `Content-Type: ${options.type ?? 'application/octet-stream'}\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const headers: Record<string, string | number> = {
    'x-api-key': options.key ?? h.keys.writer,
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
        resolve({
          status: response.statusCode ?? 0,
          headers: new Headers(
            Object.entries(response.headers).flatMap(([n, v]): [string, string][] => (v === undefined ? [] : [[n, String(v)]])),
          ),
          body: text ? JSON.parse(text) : null,
          replayed: response.headers['idempotent-replayed'] === 'true',
        }),
      );
    });
    // The server may answer and close before it has read everything we send.
    request.on('error', (error: NodeJS.ErrnoException) =>
      error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error),
    );
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
