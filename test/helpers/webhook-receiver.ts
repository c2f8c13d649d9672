import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { eventually } from './harness.js';

/** One request the receiver took, with what Standard Webhooks' own verifier made of its signature. */
export interface Received {
  id: string;
  timestamp: string;
  signature: string;
  raw: string;
  body: { type: string; timestamp: string; data: Record<string, any> };
  /** Which of the receiver's secrets verified it (indexes into `secrets`). */
  verifiedBy: number[];
  at: number;
}

/** What the receiver answers one request: a status (with headers), or nothing at all ('hang'). */
export type Reply = { status: number; headers?: Record<string, string> } | 'hang';

export interface Receiver {
  url: string;
  received: Received[];
  /** The secrets signatures are checked against; set once the endpoint is created. */
  secrets: string[];
  /** Decides each answer; 200 by default. */
  reply: (request: Received) => Reply;
  /** Waits until `count` requests satisfying `match` have come. */
  waitFor(count: number, match?: (r: Received) => boolean, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

/** A webhook receiver on 127.0.0.1 that records and verifies every request. */
export async function startReceiver(): Promise<Receiver> {
  const hanging = new Set<http.ServerResponse>();
  const receiver: Receiver = {
    url: '',
    received: [],
    secrets: [],
    reply: () => ({ status: 200 }),
    async waitFor(count, match = () => true, timeoutMs = 30_000) {
      return eventually(
        async () => {
          const matching = receiver.received.filter(match);
          return matching.length >= count ? matching : undefined;
        },
        `${count} webhook request(s)`,
        timeoutMs,
      );
    },
    async close() {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const headers = {
        'webhook-id': String(request.headers['webhook-id'] ?? ''),
        'webhook-timestamp': String(request.headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(request.headers['webhook-signature'] ?? ''),
      };
      const verifiedBy = receiver.secrets.flatMap((secret, i) => {
        try {
          new Webhook(secret).verify(raw, headers);
          return [i];
        } catch {
          return [];
        }
      });
      const received: Received = {
        id: headers['webhook-id'],
        timestamp: headers['webhook-timestamp'],
        signature: headers['webhook-signature'],
        raw,
        body: JSON.parse(raw),
        verifiedBy,
        at: Date.now(),
      };
      receiver.received.push(received);
      const reply = receiver.reply(received);
      if (reply === 'hang') {
        hanging.add(response);
        return;
      }
      response.writeHead(reply.status, reply.headers ?? {});
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return receiver;
}
