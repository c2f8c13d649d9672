/**
 * One webhook delivery attempt over the wire: a signed POST, no redirects followed, one deadline for
 * connect and response, at most 64 KiB of the answer read, and every failure returned, never thrown.
 * Sockets are kept alive and reused per origin; the address connected to is re-checked on each send.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { Webhook } from 'standardwebhooks';
import {
  FORBIDDEN_ADDRESS_CODE,
  checkConnectedSocket,
  checkTargetUrlShape,
  forbiddenAddressLookup,
  hostOf,
  isForbiddenAddress,
} from './safe-target.js';

/** The most of a receiver's answer read; past it the connection is dropped rather than drained. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

export interface WebhookRequest {
  url: string;
  body: string;
  /** webhook-id, webhook-timestamp, webhook-signature, content-type. */
  headers: Record<string, string>;
  /** For connecting and the whole answer together. */
  timeoutMs: number;
  allowPrivate: boolean;
  /** Defaults to a shared keep-alive agent for the URL's protocol. */
  agent?: http.Agent;
}

export interface SendOutcome {
  ok: boolean;
  status: number | null;
  retryAfterSeconds: number | null;
  error: string | null;
  durationMs: number;
}

// Per protocol and policy, so a socket opened while private targets were allowed never serves a send that forbids them.
const sharedAgents = new Map<string, http.Agent>();

function sharedAgent(protocol: string, allowPrivate: boolean): http.Agent {
  const key = `${protocol}${allowPrivate}`;
  let agent = sharedAgents.get(key);
  if (!agent) {
    // 4 s idle: below Node's default server keep-alive (5 s), so a socket is dropped before the receiver drops it.
    const options = { keepAlive: true, maxSockets: 64, maxFreeSockets: 64, timeout: 4000, scheduling: 'lifo' as const };
    agent = protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
    sharedAgents.set(key, agent);
  }
  return agent;
}

/** Closes the shared keep-alive sockets (at shutdown). */
export function destroyWebhookAgents(): void {
  for (const agent of sharedAgents.values()) agent.destroy();
  sharedAgents.clear();
}

export async function sendWebhook(request: WebhookRequest): Promise<SendOutcome> {
  const started = performance.now();
  const failed = (error: string, status: number | null = null, retryAfterSeconds: number | null = null): SendOutcome => ({
    ok: false,
    status,
    retryAfterSeconds,
    error,
    durationMs: Math.round(performance.now() - started),
  });

  const shape = checkTargetUrlShape(request.url);
  if ('problem' in shape) return failed(shape.problem.message);
  const url = shape.url;
  const host = hostOf(url);
  if (!request.allowPrivate) {
    // Node does not call `lookup` for a literal IP: judge it here, before any connection.
    const reason = net.isIP(host) ? isForbiddenAddress(host) : null;
    if (reason) return failed(`webhook target ${host} is ${reason}`);
  }

  const deadline = Date.now() + request.timeoutMs;
  let attempt = await attemptOnce(request, url, host, deadline);
  // A kept-alive socket the receiver closed meanwhile fails on first use: that is ours to retry, once.
  if (attempt.staleSocket && Date.now() < deadline) attempt = await attemptOnce(request, url, host, deadline);
  const { status, retryAfterSeconds, error } = attempt;
  if (error !== null || status === null) return failed(error ?? 'no answer', status, retryAfterSeconds);
  return { ok: true, status, retryAfterSeconds, error: null, durationMs: Math.round(performance.now() - started) };
}

interface Attempt {
  status: number | null;
  retryAfterSeconds: number | null;
  error: string | null;
  staleSocket: boolean;
}

function attemptOnce(request: WebhookRequest, url: URL, host: string, deadline: number): Promise<Attempt> {
  return new Promise((resolve) => {
    const client = url.protocol === 'https:' ? https : http;
    const body = Buffer.from(request.body);
    let status: number | null = null;
    let retryAfterSeconds: number | null = null;
    let outcome: string | null = null;
    let settled = false;
    const settle = (error: string | null, staleSocket = false) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ status, retryAfterSeconds, error, staleSocket });
    };

    let req: http.ClientRequest;
    try {
      req = client.request({
        protocol: url.protocol,
        hostname: host,
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        agent: request.agent ?? sharedAgent(url.protocol, request.allowPrivate),
        lookup: request.allowPrivate ? undefined : forbiddenAddressLookup,
        headers: { 'user-agent': 'Stowage-Webhooks/1', ...request.headers, 'content-length': String(body.length) },
      });
    } catch (error) {
      // A header value Node will not send (a newline, a non-Latin-1 character) throws here.
      return resolve({ status: null, retryAfterSeconds: null, error: describeError(error as NodeJS.ErrnoException), staleSocket: false });
    }

    const timer = setTimeout(() => {
      if (status === null) settle(`no answer within ${request.timeoutMs} ms`);
      else settle(outcome); // the status came in time, only the rest of the body did not: the status decides
      req.destroy();
    }, deadline - Date.now());

    if (!request.allowPrivate) req.on('socket', (socket: net.Socket) => checkConnectedSocket(socket, host));

    req.on('error', (error: NodeJS.ErrnoException) => {
      const stale = req.reusedSocket && status === null && (error.code === 'ECONNRESET' || error.code === 'EPIPE');
      settle(describeError(error), stale);
    });

    req.on('response', (res) => {
      status = res.statusCode ?? null;
      retryAfterSeconds = parseRetryAfter(res.headers['retry-after']);
      outcome = responseError(status, res.headers.location);
      let read = 0;
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read > MAX_RESPONSE_BYTES) {
          // Draining an endless answer would hold the socket forever; dropping it costs one new connection.
          res.destroy();
          settle(outcome);
        }
      });
      res.on('end', () => settle(outcome));
      res.on('error', () => settle(outcome));
      res.on('close', () => settle(outcome));
    });

    req.end(body);
  });
}

function responseError(status: number | null, location: string | undefined): string | null {
  if (status !== null && status >= 200 && status < 300) return null;
  if (status !== null && status >= 300 && status < 400) {
    // The Location is the receiver's text, shown to the endpoint's owner: kept short.
    const target = location && (location.length > 200 ? `${location.slice(0, 200)}…` : location);
    return target ? `redirect ${status} to ${target} not followed` : `redirect ${status} (without a Location) not followed`;
  }
  return `the receiver answered ${status}`;
}

function describeError(error: NodeJS.ErrnoException): string {
  if (error.code === FORBIDDEN_ADDRESS_CODE) return error.message;
  if (error.code === 'ECONNREFUSED') return `connection refused (${error.message.replace(/^connect ECONNREFUSED /, '')})`;
  if (error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN') return `the host does not resolve (${error.code})`;
  return error.code ? `${error.code}: ${error.message}` : error.message;
}

/** `Retry-After` as whole seconds from now: delay-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | null {
  if (value === undefined) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const at = Date.parse(text);
  if (Number.isNaN(at) || !/[a-z]/i.test(text)) return null;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/**
 * The `webhook-signature` header: one `v1,<base64>` per secret, space-separated, so during a
 * rotation receivers holding either the old or the new secret verify the same delivery.
 */
export function signDelivery(secrets: string[], id: string, timestamp: Date, body: string): string {
  if (!secrets.length) throw new Error('a webhook delivery needs at least one secret to be signed');
  return secrets.map((secret) => new Webhook(secret).sign(id, timestamp, body)).join(' ');
}

/** `whsec_` + base64 of 32 random bytes: the form standardwebhooks' Webhook takes (the prefix is stripped, the rest base64-decoded). */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}
