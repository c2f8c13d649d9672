import net from 'node:net';

/**
 * HTTP/1.1 over a raw socket: fetch and node's http client refuse to send most of what the fuzz
 * needs (bad percent-encoding, CR/LF or NUL in headers, broken chunking, lying Content-Length).
 * One connection per request, `Connection: close`. With `halfClose` the write side is closed once
 * sent, so a server waiting for body it was promised learns there is none (Node aborts requests
 * still in flight when the client half-closes, so only requests that are short of bytes do it).
 */

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  ms: number;
}

export type RawOutcome = RawAnswer | { failure: 'timeout' | 'no answer' | 'unparsable'; ms: number; detail: string };

export function sendRaw(
  port: number,
  request: Buffer,
  timeoutMs: number,
  options: { head?: boolean; halfClose?: boolean } = {},
): Promise<RawOutcome> {
  const head = options.head ?? false;
  const started = performance.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (outcome: RawOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const socket = net.connect({ port, host: '127.0.0.1' });
    const timer = setTimeout(
      () => finish({ failure: 'timeout', ms: performance.now() - started, detail: preview(Buffer.concat(chunks)) }),
      timeoutMs,
    );
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      // The first answer is all we judge: stop as soon as it is complete.
      const answer = parseAnswer(Buffer.concat(chunks), false, head);
      if (answer) finish({ ...answer, ms: performance.now() - started });
    });
    const atEnd = () => {
      const all = Buffer.concat(chunks);
      const answer = parseAnswer(all, true, head);
      if (answer) finish({ ...answer, ms: performance.now() - started });
      else finish({ failure: all.length ? 'unparsable' : 'no answer', ms: performance.now() - started, detail: preview(all) });
    };
    socket.on('end', atEnd);
    socket.on('close', atEnd);
    // A server may answer and close before reading the whole request: that reset is not a failure.
    socket.on('error', () => {});
    socket.write(request, () => {
      if (options.halfClose) socket.end();
    });
  });
}

const preview = (bytes: Buffer) => JSON.stringify(bytes.subarray(0, 300).toString('latin1'));

/** The first complete response in `bytes`, or null if more bytes are needed (or, at the end, if none is complete). */
export function parseAnswer(bytes: Buffer, atEnd: boolean, head = false): Omit<RawAnswer, 'ms'> | null {
  const headEnd = bytes.indexOf('\r\n\r\n');
  if (headEnd < 0) return null;
  const [statusLine, ...lines] = bytes.subarray(0, headEnd).toString('latin1').split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!match) return null;
  const status = Number(match[1]);
  // 100 Continue and its kin come before the answer; the answer is what follows them.
  if (status < 200) return parseAnswer(bytes.subarray(headEnd + 4), atEnd, head);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = bytes.subarray(headEnd + 4);
  if (status === 204 || status === 304 || head) return { status, headers, body: Buffer.alloc(0) };
  if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
    const body = dechunk(rest);
    return body ? { status, headers, body } : atEnd ? { status, headers, body: rest } : null;
  }
  if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    if (rest.length >= length) return { status, headers, body: rest.subarray(0, length) };
    return atEnd ? { status, headers, body: rest } : null;
  }
  return atEnd ? { status, headers, body: rest } : null;
}

function dechunk(bytes: Buffer): Buffer | null {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at);
    if (lineEnd < 0) return null;
    const size = parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16);
    if (Number.isNaN(size)) return null;
    if (size === 0) return Buffer.concat(parts);
    if (bytes.length < lineEnd + 2 + size + 2) return null;
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

/** Runs `work` over `items` with at most `width` in flight, in order of the items. */
export async function inParallel<T>(items: T[], width: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      await work(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: width }, lane));
}
