/**
 * Where a webhook may go and how it is sent: every forbidden kind of address refused when the
 * endpoint is saved, by the send-time lookup and by the send itself, with no byte reaching the
 * receiver; and the delivery over real HTTP to a local receiver (signatures checked with
 * standardwebhooks' own verifier, no redirects, one deadline, bounded reads, Retry-After).
 * Needs no internet: public addresses are only ever classified, never connected to.
 */
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import {
  FORBIDDEN_ADDRESS_CODE,
  MAX_TARGET_URL_LENGTH,
  checkTargetUrl,
  forbiddenAddressLookup,
  isForbiddenAddress,
} from '../src/modules/webhooks/safe-target.js';
import { type WebhookRequest, newWebhookSecret, parseRetryAfter, sendWebhook, signDelivery } from '../src/modules/webhooks/send.js';

/** A URL with PORT standing for the local receiver's, the address the network would reach, and what it is. */
const FORBIDDEN_URLS: readonly (readonly [url: string, reaches: string, kind: RegExp])[] = [
  ['http://127.0.0.1:PORT/hook', '127.0.0.1', /loopback/],
  ['http://127.255.255.254:PORT/', '127.255.255.254', /loopback/],
  ['http://10.0.0.1:PORT/', '10.0.0.1', /private/],
  ['http://172.16.5.4:PORT/', '172.16.5.4', /private/],
  ['http://172.31.255.255:PORT/', '172.31.255.255', /private/],
  ['http://192.168.1.1:PORT/', '192.168.1.1', /private/],
  ['http://169.254.169.254/latest/meta-data/', '169.254.169.254', /link-local/],
  ['http://100.64.0.1:PORT/', '100.64.0.1', /carrier-grade NAT/],
  ['http://100.127.255.254:PORT/', '100.127.255.254', /carrier-grade NAT/],
  ['http://0.0.0.0:PORT/', '0.0.0.0', /unspecified/],
  ['http://0:PORT/', '0.0.0.0', /unspecified/],
  ['http://255.255.255.255:PORT/', '255.255.255.255', /broadcast/],
  ['http://224.0.0.1:PORT/', '224.0.0.1', /multicast/],
  ['http://239.255.255.250:PORT/', '239.255.255.250', /multicast/],
  ['http://192.0.2.10:PORT/', '192.0.2.10', /reserved/],
  ['http://198.18.0.1:PORT/', '198.18.0.1', /reserved/],
  ['http://240.0.0.1:PORT/', '240.0.0.1', /reserved/],
  // Other spellings of IPv4 that WHATWG URL (and inet_aton) read as dotted quads.
  ['http://2130706433:PORT/', '127.0.0.1', /loopback/],
  ['http://0x7f.1:PORT/', '127.0.0.1', /loopback/],
  ['http://0177.0.0.1:PORT/', '127.0.0.1', /loopback/],
  ['http://127.1:PORT/', '127.0.0.1', /loopback/],
  ['http://0x7f000001:PORT/', '127.0.0.1', /loopback/],
  ['http://017700000001:PORT/', '127.0.0.1', /loopback/],
  ['http://0xa9.0xfe.0xa9.0xfe/', '169.254.169.254', /link-local/],
  ['http://3232235777:PORT/', '192.168.1.1', /private/],
  ['http://%31%32%37.0.0.1:PORT/', '127.0.0.1', /loopback/],
  // IPv6.
  ['http://[::1]:PORT/', '::1', /loopback/],
  ['http://[::]:PORT/', '::', /unspecified/],
  ['http://[fe80::1]:PORT/', 'fe80::1', /link-local/],
  ['http://[fc00::1]:PORT/', 'fc00::1', /unique-local/],
  ['http://[fd12:3456:789a::1]:PORT/', 'fd12:3456:789a::1', /unique-local/],
  ['http://[ff02::1]:PORT/', 'ff02::1', /multicast/],
  ['http://[fec0::1]:PORT/', 'fec0::1', /site-local/],
  ['http://[2001:db8::1]:PORT/', '2001:db8::1', /reserved/],
  ['http://[100::1]:PORT/', '100::1', /discard/],
  ['http://[4000::1]:PORT/', '4000::1', /global unicast/],
  // IPv6 forms carrying an IPv4 address, judged by that address.
  ['http://[::ffff:127.0.0.1]:PORT/', '::ffff:7f00:1', /IPv4-mapped.*127\.0\.0\.1.*loopback/],
  ['http://[::ffff:10.0.0.1]:PORT/', '::ffff:a00:1', /IPv4-mapped.*10\.0\.0\.1.*private/],
  ['http://[::ffff:169.254.169.254]/', '::ffff:a9fe:a9fe', /IPv4-mapped.*link-local/],
  ['http://[0:0:0:0:0:ffff:6440:1]:PORT/', '::ffff:6440:1', /IPv4-mapped.*100\.64\.0\.1.*carrier-grade/],
  ['http://[::ffff:0:a00:1]:PORT/', '::ffff:0:a00:1', /IPv4-translated.*10\.0\.0\.1/],
  ['http://[::127.0.0.1]:PORT/', '::7f00:1', /IPv4-compatible.*loopback/],
  ['http://[::8.8.8.8]:PORT/', '::808:808', /IPv4-compatible/],
  ['http://[64:ff9b::10.0.0.1]:PORT/', '64:ff9b::a00:1', /NAT64.*10\.0\.0\.1.*private/],
  ['http://[64:ff9b:1::1]:PORT/', '64:ff9b:1::1', /local-use NAT64/],
  ['http://[2002:a00:1::1]:PORT/', '2002:a00:1::1', /6to4.*10\.0\.0\.1/],
  ['http://[2002:7f00:1::]:PORT/', '2002:7f00:1::', /6to4.*127\.0\.0\.1/],
  // Teredo: server 65.54.227.120 is public, the client (inverted in the last 32 bits) is 10.0.0.1.
  ['http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]:PORT/', '2001:0:4136:e378:8000:63bf:f5ff:fffe', /Teredo.*10\.0\.0\.1/],
  // Names: `localhost` through the resolver, *.localhost by name (RFC 6761).
  ['http://localhost:PORT/', 'localhost', /loopback/],
  ['http://LOCALHOST:PORT/', 'localhost', /loopback/],
  ['http://a.localhost:PORT/', 'a.localhost', /loopback name/],
  ['http://hooks.app.localhost:PORT/', 'hooks.app.localhost', /loopback name/],
  ['http://localhost.:PORT/', 'localhost.', /loopback name/],
];

const PUBLIC_ADDRESSES = [
  '93.184.216.34',
  '8.8.8.8',
  '1.1.1.1',
  '2606:2800:220:1::',
  '2001:4860:4860::8888',
  '2a00:1450:4001:81b::200e',
  '::ffff:93.184.216.34',
  '64:ff9b::808:808',
  '2002:808:808::1',
];

/** Lets the receiver's side of a connection catch up: accept and read run on the same event loop. */
const settle = () => new Promise((done) => setTimeout(done, 200));

function hostOfUrl(url: string): string {
  return new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
}

function lookup(host: string, all: boolean): Promise<{ error: NodeJS.ErrnoException | null; addresses: string | LookupAddress[] }> {
  return new Promise((resolve) => forbiddenAddressLookup(host, { all }, (error, addresses) => resolve({ error, addresses })));
}

/** A local receiver with a route per behaviour; counts connections and request bytes it ever saw. */
interface Receiver {
  url: string;
  port: number;
  connections: number;
  bytes: number;
  hits: Map<string, number>;
  last: { headers: http.IncomingHttpHeaders; body: string } | null;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const receiver: Receiver = {
    url: '',
    port: 0,
    connections: 0,
    bytes: 0,
    hits: new Map(),
    last: null,
    close: async () => {
      for (const timer of timers) clearInterval(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise((done) => server.close(done));
    },
  };
  const server = http.createServer((req, res) => {
    const route = new URL(req.url ?? '/', 'http://x').pathname;
    receiver.hits.set(route, (receiver.hits.get(route) ?? 0) + 1);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      receiver.last = { headers: req.headers, body: Buffer.concat(chunks).toString() };
      switch (route) {
        case '/redirect':
          return res.writeHead(302, { location: '/redirect-target' }).end();
        case '/redirect-bare':
          return res.writeHead(307).end();
        case '/silent':
          return; // never answers
        case '/flood': {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          const chunk = Buffer.alloc(16 * 1024, 'x');
          const timer = setInterval(() => res.write(chunk), 1);
          timers.add(timer);
          return res.on('close', () => clearInterval(timer));
        }
        case '/trickle': {
          res.writeHead(200, { 'content-type': 'text/plain' });
          const timer = setInterval(() => res.write('.'), 50);
          timers.add(timer);
          return res.on('close', () => clearInterval(timer));
        }
        case '/busy':
          return res.writeHead(429, { 'retry-after': '120' }).end('slow down');
        case '/maintenance':
          return res.writeHead(503, { 'retry-after': new Date(Date.now() + 90_000).toUTCString() }).end();
        case '/gone':
          return res.writeHead(410).end();
        default:
          return res.writeHead(204).end();
      }
    });
  });
  server.keepAliveTimeout = 5000;
  server.on('connection', (socket: net.Socket) => {
    receiver.connections++;
    sockets.add(socket);
    socket.on('data', (d: Buffer) => (receiver.bytes += d.length));
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  receiver.port = (server.address() as net.AddressInfo).port;
  receiver.url = `http://127.0.0.1:${receiver.port}`;
  return receiver;
}

function signedRequest(url: string, secrets: string[], extra: Partial<WebhookRequest> = {}): WebhookRequest {
  const id = `msg_${Math.random().toString(36).slice(2)}`;
  const timestamp = new Date();
  const body = JSON.stringify({ type: 'upload.confirmed', timestamp: timestamp.toISOString(), data: { id, size: 12 } });
  return {
    url,
    body,
    headers: {
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'webhook-signature': signDelivery(secrets, id, timestamp, body),
      'content-type': 'application/json',
    },
    timeoutMs: 5000,
    allowPrivate: true,
    ...extra,
  };
}

describe('the address classifier', () => {
  it('refuses every forbidden address of the table, with its kind', () => {
    for (const [, reaches, kind] of FORBIDDEN_URLS) {
      if (!net.isIP(reaches)) continue;
      const reason = isForbiddenAddress(reaches);
      assert.ok(reason, `${reaches} was allowed`);
      assert.match(reason, kind, reaches);
    }
  });

  it('allows public unicast addresses, v4, v6 and the v6 forms carrying a public v4', () => {
    for (const address of PUBLIC_ADDRESSES) assert.equal(isForbiddenAddress(address), null, address);
  });

  it('refuses what is not an IP address, and reads the odd spellings a resolver might return', () => {
    assert.equal(isForbiddenAddress('example.com'), 'not an IP address');
    assert.equal(isForbiddenAddress(''), 'not an IP address');
    assert.match(isForbiddenAddress('fe80::1%eth0') ?? '', /link-local/);
    assert.match(isForbiddenAddress('::FFFF:7F00:1') ?? '', /loopback/);
    assert.match(isForbiddenAddress('2130706433') ?? '', /loopback/);
  });
});

describe('checkTargetUrl', () => {
  it(`refuses each of the ${FORBIDDEN_URLS.length} forbidden URLs, naming the address`, async () => {
    assert.ok(FORBIDDEN_URLS.length >= 30);
    for (const [template, reaches, kind] of FORBIDDEN_URLS) {
      const url = template.replace('PORT', '8080');
      const problem = await checkTargetUrl(url, { allowPrivate: false });
      assert.ok(problem, `${url} was accepted`);
      assert.equal(problem.code, 'forbidden_address', `${url}: ${problem.message}`);
      assert.match(problem.message, kind, url);
      if (reaches !== 'localhost') assert.equal(problem.address, reaches, url);
    }
  });

  it('judges localhost by what it resolves to', async () => {
    const problem = await checkTargetUrl('http://localhost/', { allowPrivate: false });
    assert.match(problem?.message ?? '', /^webhook target localhost resolves to (127\.0\.0\.1|::1), a loopback address/);
  });

  it('accepts public literal addresses without asking a resolver', async () => {
    for (const url of [
      'http://93.184.216.34/hook',
      'https://[2606:2800:220:1::]:8443/x?y=1',
      'https://8.8.8.8/',
      'http://[::ffff:8.8.8.8]/',
    ]) {
      assert.equal(await checkTargetUrl(url, { allowPrivate: false }), null, url);
    }
  });

  it('refuses other schemes, credentials, over-long and malformed URLs, and hosts that do not resolve', async () => {
    const cases: [string, string][] = [
      ['ftp://93.184.216.34/', 'scheme'],
      ['file:///etc/passwd', 'scheme'],
      ['gopher://93.184.216.34:70/', 'scheme'],
      ['javascript:alert(1)', 'scheme'],
      ['http://user:secret@93.184.216.34/', 'credentials'],
      ['http://user@93.184.216.34/', 'credentials'],
      [`http://93.184.216.34/${'a'.repeat(MAX_TARGET_URL_LENGTH)}`, 'too_long'],
      ['not a url', 'invalid_url'],
      ['http://[fe80::1%25eth0]/', 'invalid_url'],
      ['http://nothing-here.invalid/', 'unresolvable'],
    ];
    for (const [url, code] of cases) assert.equal((await checkTargetUrl(url, { allowPrivate: false }))?.code, code, url);
  });

  it('with allowPrivate allows every address and unresolved name, never another scheme or credentials', async () => {
    for (const [template] of FORBIDDEN_URLS)
      assert.equal(await checkTargetUrl(template.replace('PORT', '8080'), { allowPrivate: true }), null);
    assert.equal((await checkTargetUrl('ftp://127.0.0.1/', { allowPrivate: true }))?.code, 'scheme');
    assert.equal((await checkTargetUrl('http://u:p@127.0.0.1/', { allowPrivate: true }))?.code, 'credentials');
  });
});

describe('at send time', () => {
  let receiver: Receiver;
  before(async () => (receiver = await startReceiver()));
  after(() => receiver.close());

  it('the lookup refuses every forbidden host of the table, in both callback forms', async () => {
    for (const [template, reaches, kind] of FORBIDDEN_URLS) {
      const host = hostOfUrl(template.replace('PORT', '8080'));
      for (const all of [true, false]) {
        const { error } = await lookup(host, all);
        assert.equal(error?.code, FORBIDDEN_ADDRESS_CODE, `${host} (all: ${all}) was not refused`);
        assert.match(error.message, kind, host);
        if (reaches === 'localhost') assert.match(error.message, /resolves to (127\.0\.0\.1|::1)/);
      }
    }
  });

  it('the lookup passes a public address through as dns.lookup would', async () => {
    assert.deepEqual((await lookup('93.184.216.34', true)).addresses, [{ address: '93.184.216.34', family: 4 }]);
    assert.equal((await lookup('2606:2800:220:1::', false)).addresses, '2606:2800:220:1::');
  });

  it('without allowPrivate, a send to any forbidden URL fails and no byte reaches the receiver', async () => {
    const before = { connections: receiver.connections, bytes: receiver.bytes };
    for (const [template, , kind] of FORBIDDEN_URLS) {
      const url = template.replace('PORT', String(receiver.port));
      const outcome = await sendWebhook(signedRequest(url, [newWebhookSecret()], { allowPrivate: false, timeoutMs: 2000 }));
      assert.equal(outcome.ok, false, url);
      assert.equal(outcome.status, null, url);
      assert.match(outcome.error ?? '', kind, url);
    }
    await settle();
    assert.deepEqual({ connections: receiver.connections, bytes: receiver.bytes }, before);
  });

  it('the connected address is checked too: a socket routed to loopback carries no byte of the request', async () => {
    // An agent that connects every request to the receiver, whatever the URL says: what a rebinding
    // resolver or a misrouted proxy would do, and which neither the URL check nor `lookup` can see.
    const misrouting = new http.Agent();
    misrouting.createConnection = () => net.connect(receiver.port, '127.0.0.1');
    const before = { connections: receiver.connections, bytes: receiver.bytes };
    const outcome = await sendWebhook(
      signedRequest(`http://93.184.216.34:${receiver.port}/`, [newWebhookSecret()], { allowPrivate: false, agent: misrouting }),
    );
    await settle();
    assert.equal(outcome.ok, false);
    assert.match(outcome.error ?? '', /93\.184\.216\.34 is connected to 127\.0\.0\.1, a loopback address/);
    assert.equal(receiver.bytes, before.bytes, 'request bytes reached the receiver');
    assert.equal(receiver.connections, before.connections + 1, 'the misrouted connection was never made: the test proves nothing');
    misrouting.destroy();
  });
});

describe('sendWebhook to a local receiver (allowPrivate)', () => {
  let receiver: Receiver;
  before(async () => (receiver = await startReceiver()));
  after(() => receiver.close());

  it('delivers a body whose signature standardwebhooks verifies', async () => {
    const secret = newWebhookSecret();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    const request = signedRequest(`${receiver.url}/hook?org=1`, [secret]);
    const outcome = await sendWebhook(request);
    assert.deepEqual({ ...outcome, durationMs: 0 }, { ok: true, status: 204, retryAfterSeconds: null, error: null, durationMs: 0 });
    const { headers, body } = receiver.last!;
    assert.equal(body, request.body);
    assert.equal(headers['content-type'], 'application/json');
    assert.deepEqual(new Webhook(secret).verify(body, headers as Record<string, string>), JSON.parse(request.body));
    assert.throws(() => new Webhook(newWebhookSecret()).verify(body, headers as Record<string, string>), /No matching signature/);
    assert.throws(() => new Webhook(secret).verify(`${body} `, headers as Record<string, string>), /No matching signature/);
  });

  it('signs with every secret during a rotation: either one verifies', async () => {
    const [previous, next] = [newWebhookSecret(), newWebhookSecret()];
    const request = signedRequest(`${receiver.url}/hook`, [previous, next]);
    assert.equal(request.headers['webhook-signature'].split(' ').length, 2);
    assert.ok((await sendWebhook(request)).ok);
    const { headers, body } = receiver.last!;
    for (const secret of [previous, next]) new Webhook(secret).verify(body, headers as Record<string, string>);
    assert.throws(() => new Webhook(newWebhookSecret()).verify(body, headers as Record<string, string>));
    assert.throws(() => signDelivery([], 'msg_1', new Date(), '{}'));
  });

  it('does not follow a redirect', async () => {
    const outcome = await sendWebhook(signedRequest(`${receiver.url}/redirect`, [newWebhookSecret()]));
    assert.equal(outcome.ok, false);
    assert.equal(outcome.status, 302);
    assert.match(outcome.error ?? '', /redirect 302 to \/redirect-target not followed/);
    assert.equal(receiver.hits.get('/redirect-target'), undefined);
    const bare = await sendWebhook(signedRequest(`${receiver.url}/redirect-bare`, [newWebhookSecret()]));
    assert.deepEqual([bare.ok, bare.status, bare.error], [false, 307, 'redirect 307 (without a Location) not followed']);
  });

  it('cuts a receiver that never answers at the timeout', async () => {
    const outcome = await sendWebhook(signedRequest(`${receiver.url}/silent`, [newWebhookSecret()], { timeoutMs: 1000 }));
    assert.equal(outcome.ok, false);
    assert.equal(outcome.status, null);
    assert.equal(outcome.error, 'no answer within 1000 ms');
    assert.ok(Math.abs(outcome.durationMs - 1000) < 500, `took ${outcome.durationMs} ms`);
  });

  it('does not hang on a receiver that streams without end, fast or slow', async () => {
    const flood = await sendWebhook(signedRequest(`${receiver.url}/flood`, [newWebhookSecret()], { timeoutMs: 10_000 }));
    assert.deepEqual([flood.ok, flood.status], [true, 200]);
    assert.ok(flood.durationMs < 2000, `flood held the sender ${flood.durationMs} ms`);
    const trickle = await sendWebhook(signedRequest(`${receiver.url}/trickle`, [newWebhookSecret()], { timeoutMs: 1000 }));
    assert.deepEqual([trickle.ok, trickle.status], [true, 200]);
    assert.ok(Math.abs(trickle.durationMs - 1000) < 500, `trickle took ${trickle.durationMs} ms`);
  });

  it('reads Retry-After as seconds and as an HTTP date', async () => {
    const busy = await sendWebhook(signedRequest(`${receiver.url}/busy`, [newWebhookSecret()]));
    assert.deepEqual([busy.ok, busy.status, busy.retryAfterSeconds, busy.error], [false, 429, 120, 'the receiver answered 429']);
    const down = await sendWebhook(signedRequest(`${receiver.url}/maintenance`, [newWebhookSecret()]));
    assert.deepEqual([down.ok, down.status], [false, 503]);
    assert.ok(down.retryAfterSeconds !== null && down.retryAfterSeconds >= 88 && down.retryAfterSeconds <= 91, `${down.retryAfterSeconds}`);
    const now = Date.parse('2026-06-01T12:00:00Z');
    assert.equal(parseRetryAfter('Mon, 01 Jun 2026 12:00:30 GMT', now), 30);
    assert.equal(parseRetryAfter('Mon, 01 Jun 2026 11:00:00 GMT', now), 0);
    for (const unreadable of ['soon', '-5', '1.5', '', '12abc']) assert.equal(parseRetryAfter(unreadable, now), null, unreadable);
  });

  it('reports 410 as status 410', async () => {
    const gone = await sendWebhook(signedRequest(`${receiver.url}/gone`, [newWebhookSecret()]));
    assert.deepEqual([gone.ok, gone.status, gone.error], [false, 410, 'the receiver answered 410']);
  });

  it('reports a header Node will not send as a failed send, not a throw', async () => {
    const request = signedRequest(`${receiver.url}/hook`, [newWebhookSecret()]);
    const outcome = await sendWebhook({ ...request, headers: { ...request.headers, 'webhook-id': 'msg_1\r\nx-injected: 1' } });
    assert.deepEqual([outcome.ok, outcome.status], [false, null]);
    assert.match(outcome.error ?? '', /ERR_INVALID_CHAR/);
  });

  it('reports a refused connection without a status', async () => {
    const closed = net.createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise((done) => closed.close(done));
    const outcome = await sendWebhook(signedRequest(`http://127.0.0.1:${port}/`, [newWebhookSecret()]));
    assert.deepEqual([outcome.ok, outcome.status], [false, null]);
    assert.match(outcome.error ?? '', /connection refused/);
  });

  it('retries once on a fresh connection when a kept-alive one turns out closed', async () => {
    // Answers the first request of each connection and drops the connection on the second: what a
    // receiver closing an idle connection just as it is reused looks like.
    let requests = 0;
    let connections = 0;
    const dropping = net.createServer((socket) => {
      connections++;
      let seen = 0;
      socket.on('data', (data) => {
        const arrived = data.toString().split('POST ').length - 1;
        requests += arrived;
        seen += arrived;
        if (seen === 1) socket.write('HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n');
        else socket.destroy();
      });
    });
    await new Promise<void>((done) => dropping.listen(0, '127.0.0.1', done));
    const url = `http://127.0.0.1:${(dropping.address() as net.AddressInfo).port}/`;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      assert.ok((await sendWebhook(signedRequest(url, [newWebhookSecret()], { agent }))).ok);
      const second = await sendWebhook(signedRequest(url, [newWebhookSecret()], { agent }));
      assert.deepEqual([second.ok, second.status, requests, connections], [true, 204, 3, 2]);
    } finally {
      agent.destroy();
      await new Promise((done) => dropping.close(done));
    }
  });

  it('reuses kept-alive connections, and measures deliveries per second', async () => {
    const secret = newWebhookSecret();
    const connectionsBefore = receiver.connections;
    for (let i = 0; i < 50; i++) assert.ok((await sendWebhook(signedRequest(`${receiver.url}/hook`, [secret]))).ok);
    assert.ok(
      receiver.connections - connectionsBefore <= 2,
      `${receiver.connections - connectionsBefore} connections for 50 sequential sends`,
    );

    const total = 2000;
    const concurrency = 32;
    let next = 0;
    let failures = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total) {
          next++;
          if (!(await sendWebhook(signedRequest(`${receiver.url}/hook`, [secret]))).ok) failures++;
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `# webhook sends: ${total} at concurrency ${concurrency} in ${seconds.toFixed(2)} s = ${Math.round(total / seconds)}/s ` +
        `(signing included, receiver in the same process), ${receiver.connections - connectionsBefore} connections in all`,
    );
    assert.equal(failures, 0);
  });
});
