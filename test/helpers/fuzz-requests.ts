import fc from 'fast-check';
import { ID_PARAMS, bestIdFor, idsFor, type OrgFixtures } from './fuzz-fixtures.js';
import { badPercent, fromSchema, hostileString, hostileText, hostileValue, percentEncode, RawJson, toJsonText } from './fuzz-values.js';
import { fillPath, type Route, routeName } from './openapi-routes.js';

/** One request as bytes will carry it, plus what it was meant to probe (printed on failure). */
export interface FuzzRequest {
  route: string;
  probe: string;
  method: string;
  target: string;
  headers: [string, string][];
  body: Buffer | null;
  framing: 'length' | 'chunked' | 'broken-chunked' | 'short-length' | 'two-lengths' | 'length-and-chunked' | 'none';
  /** The request promises more bytes than it sends: the client half-closes so the server learns it. */
  truncated?: boolean;
}

export function toBytes(r: FuzzRequest): Buffer {
  const body = r.body ?? Buffer.alloc(0);
  const headers = [...r.headers];
  switch (r.framing) {
    case 'length':
      if (r.body !== null || !['GET', 'HEAD', 'DELETE', 'OPTIONS'].includes(r.method))
        headers.push(['Content-Length', String(body.length)]);
      break;
    case 'short-length':
      headers.push(['Content-Length', String(body.length + 100)]);
      break;
    case 'two-lengths':
      headers.push(['Content-Length', String(body.length)], ['Content-Length', String(body.length + 1)]);
      break;
    case 'length-and-chunked':
      headers.push(['Content-Length', String(body.length)], ['Transfer-Encoding', 'chunked']);
      break;
    case 'chunked':
    case 'broken-chunked':
      headers.push(['Transfer-Encoding', 'chunked']);
      break;
  }
  const head = `${r.method} ${r.target} HTTP/1.1\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  let payload = body;
  if (r.framing === 'chunked')
    payload = Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
  if (r.framing === 'broken-chunked') payload = Buffer.concat([Buffer.from('zz\r\n'), body, Buffer.from('\r\n')]);
  // Header text with code points above U+00FF goes out as UTF-8, the rest byte for byte.
  const headBytes = /[^\u0000-\u00ff]/.test(head) ? Buffer.from(head, 'utf8') : Buffer.from(head, 'latin1');
  return Buffer.concat([headBytes, payload]);
}

export interface FuzzWorld {
  routes: Route[];
  mine: OrgFixtures;
  theirs: OrgFixtures;
  keys: { admin: string; writer: string; reader: string; otherOrg: string };
  bodyLimit: number;
}

const UNKNOWN_UUID = '0190d7c4-0000-7000-8000-000000000000';

export function fuzzRequest(world: FuzzWorld): fc.Arbitrary<FuzzRequest> {
  const allIds = [world.mine, world.theirs].flatMap((f) => ID_PARAMS.flatMap((p) => idsFor(p, f)));
  return fc.oneof(
    // Built once per route (not in a chain): compiling patterns into generators is what costs.
    { weight: 85, arbitrary: fc.oneof(...world.routes.map((route) => routeRequest(route, world, allIds))) },
    { weight: 10, arbitrary: malformedRequest(world) },
    { weight: 5, arbitrary: extraRoute(world) },
  );
}

function routeRequest(route: Route, world: FuzzWorld, allIds: string[]): fc.Arbitrary<FuzzRequest> {
  type Pair = [string, string];
  const w = (weight: number, arbitrary: fc.Arbitrary<Pair>) => ({ weight, arbitrary });
  const pathValue = (param: string): fc.Arbitrary<Pair> => {
    if (param === '*') {
      return fc.oneof(
        w(
          6,
          fc
            .constant(route.method === 'PUT' ? world.mine.blobPut : world.mine.blobGet)
            .map((t): Pair => [t.slice('/blob/'.length), 'signed']),
        ),
        w(
          2,
          fc
            .tuple(fc.constantFrom(world.mine.blobPut, world.mine.blobGet), fc.integer({ min: 0, max: 200 }), hostileString)
            .map(([t, at, s]): Pair => [t.slice('/blob/'.length, '/blob/'.length + at) + percentEncode(s), 'tampered signature']),
        ),
        w(
          2,
          hostileString.map((s): Pair => [percentEncode(s), 'garbage']),
        ),
      );
    }
    const mine = bestIdFor(param, route.template, world.mine);
    return fc.oneof(
      w(8, fc.constant<Pair>([mine ?? UNKNOWN_UUID, 'own id'])),
      w(
        2,
        fc.constantFrom(...allIds).map((id): Pair => [id, 'some real id']),
      ),
      w(
        1,
        fc.uuid().map((id): Pair => [id, 'unknown uuid']),
      ),
      w(
        2,
        hostileText.map((s): Pair => [percentEncode(s), 'hostile text']),
      ),
      w(
        1,
        badPercent.map((s): Pair => [s, 'bad percent-encoding']),
      ),
      w(
        1,
        fc.integer({ min: 90, max: 12_000 }).map((n): Pair => ['a'.repeat(n), `${n}-char segment`]),
      ),
    );
  };
  const params = fc.tuple(...route.pathParams.map(pathValue));
  const hostile = fc.record({
    params: route.pathParams.length ? params : fc.constant([] as Pair[]),
    query: fc.array(queryPair(route), { maxLength: 4 }),
    auth: authHeaders(world, route),
    extra: extraHeaders(route.method),
    body: bodyOf(route, world),
    framing: framing(),
  });
  // As a careful client would send it, so the deep paths (past validation and lookups) are reached too.
  const ownValue = (p: string): Pair =>
    p === '*'
      ? [(route.method === 'PUT' ? world.mine.blobPut : world.mine.blobGet).slice('/blob/'.length), 'signed']
      : [bestIdFor(p, route.template, world.mine) ?? UNKNOWN_UUID, 'own id'];
  const validQuery = route.query.map((q) =>
    fromSchema(q.schema, { ids: [UNKNOWN_UUID] }, q.name).map((v): Pair => [q.name, percentEncode(String(v))]),
  );
  const careful = fc.record({
    params: fc.constant(route.pathParams.map(ownValue)),
    query: validQuery.length ? fc.uniqueArray(fc.oneof(...validQuery), { maxLength: 2, selector: ([k]) => k }) : fc.constant([] as Pair[]),
    auth: fc.constant({ headers: [['X-API-Key', world.keys.admin]] as Pair[], probe: 'key: admin' }),
    extra: fc.constant([] as Pair[]),
    body: carefulBody(route, world),
    framing: fc.constant('length' as const),
  });
  return fc
    .oneof({ weight: 1, arbitrary: careful }, { weight: 2, arbitrary: hostile })
    .map(({ params, query, auth, extra, body, framing }) => {
      const values = Object.fromEntries(route.pathParams.map((p, i) => [p, params[i][0]]));
      let target = fillPath(route.template, (p) => values[p]);
      const queryText = query.map(([k, v]) => `${k}=${v}`);
      if (route.template === '/blob/{*}') {
        // The signature lives in the query already; extra pairs go after it.
        if (queryText.length) target += (target.includes('?') ? '&' : '?') + queryText.join('&');
      } else if (queryText.length) target += `?${queryText.join('&')}`;
      const probe = [
        `params: ${route.pathParams.map((p, i) => `${p}=${params[i][1]}`).join(', ') || 'none'}`,
        body.probe,
        auth.probe,
        ...extra.map((e) => e[0]),
      ].join('; ');
      return {
        route: routeName(route),
        probe,
        method: route.method,
        target,
        headers: [['Host', '127.0.0.1'], ['Connection', 'close'], ...auth.headers, ...body.headers, ...extra] as Pair[],
        body: body.bytes,
        framing: body.bytes === null ? 'length' : framing,
      };
    });
}

function queryPair(route: Route): fc.Arbitrary<[string, string]> {
  const known = route.query.map((p) =>
    fc.oneof(
      {
        weight: 3,
        arbitrary: fromSchema(p.schema, { ids: [UNKNOWN_UUID] }, p.name).map((v) => [p.name, percentEncode(String(v))] as [string, string]),
      },
      { weight: 3, arbitrary: hostileText.map((v) => [p.name, percentEncode(v)] as [string, string]) },
      { weight: 1, arbitrary: badPercent.map((v) => [p.name, v] as [string, string]) },
    ),
  );
  const unknown = fc
    .tuple(fc.constantFrom('x', 'limit[]', 'offset[0]', '__proto__', 'constructor[prototype]', ''), hostileText)
    .map(([k, v]) => [k, percentEncode(v)] as [string, string]);
  const huge = fc.integer({ min: 1_000, max: 20_000 }).map((n) => ['q', 'a'.repeat(n)] as [string, string]);
  return fc.oneof(
    { weight: 6, arbitrary: known.length ? fc.oneof(...known) : unknown },
    { weight: 2, arbitrary: unknown },
    { weight: 1, arbitrary: huge },
  );
}

function authHeaders(world: FuzzWorld, route: Route): fc.Arbitrary<{ headers: [string, string][]; probe: string }> {
  const key = (name: string, value: string) => ({ headers: [['X-API-Key', value]] as [string, string][], probe: `key: ${name}` });
  return fc.oneof(
    { weight: 12, arbitrary: fc.constant(key('admin', world.keys.admin)) },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom(['writer', world.keys.writer], ['reader', world.keys.reader], ['other org', world.keys.otherOrg])
        .map(([n, v]) => key(n, v)),
    },
    { weight: route.authenticated ? 2 : 1, arbitrary: fc.constant({ headers: [] as [string, string][], probe: 'no key' }) },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom(
          `${world.keys.admin}\u00ff`,
          'stw_',
          `stw_${'a'.repeat(5000)}`,
          'é',
          ' ',
          world.keys.admin.toUpperCase(),
          `${world.keys.admin} ${world.keys.admin}`,
        )
        .map((v) => key('odd key', v)),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(
          'Bearer',
          'Bearer ',
          `Bearer ${world.keys.admin} extra`,
          `Basic ${world.keys.admin}`,
          `bearer\t${world.keys.admin}`,
          'Bearer \u00ff\u00fe',
        )
        .map((v) => ({ headers: [['Authorization', v]] as [string, string][], probe: 'odd Authorization' })),
    },
  );
}

function extraHeaders(method: string): fc.Arbitrary<[string, string][]> {
  const idempotency = fc
    .oneof(fc.uuid(), fc.constantFrom('', ' ', 'é', 'k'.repeat(300), 'k'.repeat(5000), '\u00ff\u00fe'))
    .map((v) => ['Idempotency-Key', v] as [string, string]);
  const range = fc
    .constantFrom(
      'bytes=0-0',
      'bytes=-1',
      'bytes=99999999999999999999-',
      'bytes=5-2',
      'bytes=0-1,2-3',
      'garbage',
      'bytes=-0',
      'bytes=1e3-',
      'bytes=-99999999999999999999',
      'bytes=0-9007199254740993',
    )
    .map((v) => ['Range', v] as [string, string]);
  const requestId = fc
    .oneof(
      fc.constantFrom('ok-id.1', 'x'.repeat(129), 'has space', 'é', ''),
      fc.string({ maxLength: 20 }).filter((s) => !/[\r\n\0]/.test(s)),
    )
    .map((v) => ['X-Request-Id', v] as [string, string]);
  const misc = fc.constantFrom<[string, string]>(
    ['Accept', 'text/html'],
    ['Accept-Encoding', 'gzip, br'],
    ['Origin', 'https://evil.example'],
    ['Expect', '100-continue'],
    ['If-None-Match', '*'],
    ['Content-Encoding', 'gzip'],
    ['X-Forwarded-For', '1.1.1.1, 2.2.2.2'],
  );
  const pick = fc.oneof(method === 'GET' ? range : idempotency, requestId, misc, idempotency);
  return fc.array(pick, { maxLength: 2 });
}

interface BodyChoice {
  bytes: Buffer | null;
  headers: [string, string][];
  probe: string;
}

const json = (value: unknown, probe: string, contentType = 'application/json'): BodyChoice => ({
  bytes: Buffer.from(toJsonText(value), 'utf8'),
  headers: [['Content-Type', contentType]],
  probe,
});

function bodyOf(route: Route, world: FuzzWorld): fc.Arbitrary<BodyChoice> {
  const none = fc.constant<BodyChoice>({ bytes: null, headers: [], probe: 'no body' });
  const ctx = {
    ids: [
      bestIdFor('data_source_id', '', world.mine),
      world.mine.part,
      world.mine.revision,
      world.theirs.confirmedUpload,
      UNKNOWN_UUID,
    ].filter((x): x is string => !!x),
  };
  if (route.body?.kind === 'json') {
    const valid = fromSchema(route.body.schema, ctx);
    return fc.oneof(
      { weight: 5, arbitrary: valid.map((v) => json(v, 'valid body')) },
      { weight: 6, arbitrary: fc.tuple(valid, hostileValue, fc.nat()).map(([v, bad, n]) => json(mutate(v, bad, n), 'one field hostile')) },
      { weight: 1, arbitrary: valid.map((v) => json({ ...(v as object), unknown_field: 1 }, 'unknown field')) },
      { weight: 1, arbitrary: fc.constant(json(new RawJson('{"__proto__":{"x":1}}'), 'proto poisoning')) },
      { weight: 2, arbitrary: hostileValue.map((v) => json(v, 'hostile whole body')) },
      { weight: 3, arbitrary: rawBody(world.bodyLimit) },
      { weight: 1, arbitrary: none },
      { weight: 1, arbitrary: valid.map((v) => json(v, 'valid body, odd content type', 'text/plain')) },
      {
        weight: 1,
        arbitrary: fc
          .constantFrom(
            'application/json; charset=latin1',
            'application/JSON',
            'application/json;',
            'application/x-www-form-urlencoded',
            'multipart/form-data; boundary=x',
            '',
            '*/*',
          )
          .chain((ct) => valid.map((v) => json(v, `content type ${JSON.stringify(ct)}`, ct))),
      },
    );
  }
  if (route.body?.kind === 'form')
    return fc.oneof(
      { weight: 6, arbitrary: formBody() },
      { weight: 1, arbitrary: rawBody(world.bodyLimit) },
      { weight: 1, arbitrary: none },
    );
  if (route.method === 'PUT') {
    return fc.oneof(
      fc.constantFrom(0, 1, 2, 3, 4, 1000).map((n) => ({ bytes: Buffer.alloc(n, 'a'), headers: [], probe: `${n} bytes` }) as BodyChoice),
      rawBody(world.bodyLimit),
    );
  }
  return fc.oneof({ weight: 6, arbitrary: none }, { weight: 1, arbitrary: rawBody(world.bodyLimit) });
}

function carefulBody(route: Route, world: FuzzWorld): fc.Arbitrary<BodyChoice> {
  const ctx = { ids: [bestIdFor('data_source_id', '', world.mine), world.mine.pendingUpload].filter((x): x is string => !!x) };
  if (route.body?.kind === 'json') return fromSchema(route.body.schema, ctx).map((v) => json(v, 'valid body'));
  if (route.body?.kind === 'form') return formBody().filter((b) => b.probe === 'valid form' || b.probe === 'form, hostile filename');
  if (route.method === 'PUT') return fc.constant<BodyChoice>({ bytes: Buffer.from('abc'), headers: [], probe: '3 bytes' });
  return fc.constant<BodyChoice>({ bytes: null, headers: [], probe: 'no body' });
}

/** `value` with the field (or array item) picked by `n` replaced by `bad`, one level deep at most. */
function mutate(value: unknown, bad: unknown, n: number): unknown {
  if (!value || typeof value !== 'object') return bad;
  const copy: Record<string, unknown> = Array.isArray(value) ? { ...value } : { ...(value as Record<string, unknown>) };
  const keys = Object.keys(copy);
  if (!keys.length) return { field: bad };
  const key = keys[n % keys.length];
  const inner = copy[key];
  copy[key] = inner && typeof inner === 'object' && n % 3 === 0 ? mutate(inner, bad, Math.floor(n / 3)) : bad;
  return Array.isArray(value) ? Object.values(copy) : copy;
}

function rawBody(bodyLimit: number): fc.Arbitrary<BodyChoice> {
  const ct = (bytes: Buffer, probe: string, type = 'application/json'): BodyChoice => ({ bytes, headers: [['Content-Type', type]], probe });
  return fc.oneof(
    fc
      .constantFrom(
        '',
        '{',
        '}',
        'hello',
        '{"a":1',
        '{"a":1}}',
        'null',
        '[]',
        '"s"',
        '123',
        '\ufeff{}',
        '{"a":"\\ud800"}',
        '{"a":"\\u0000"}',
        '{"a":1,"a":2}',
      )
      .map((t) => ct(Buffer.from(t), `raw text ${JSON.stringify(t.slice(0, 20))}`)),
    fc.constant(ct(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x22, 0x7d]), 'invalid UTF-8 in a string')),
    // Deep JSON on any route, schema or not: whatever walks a parsed body recursively must cope.
    fc.constantFrom(1_000, 10_000, 100_000).map((n) => ct(Buffer.from(`${'['.repeat(n)}${']'.repeat(n)}`), `JSON ${n} deep`)),
    fc.constantFrom(1_000, 10_000).map((n) => ct(Buffer.from(`${'{"a":'.repeat(n)}1${'}'.repeat(n)}`), `object JSON ${n} deep`)),
    fc.constantFrom(...edgeSizedBodies(bodyLimit)).map(([n, bytes]) => ct(bytes, `${n}-byte body`)),
    fc.uint8Array({ maxLength: 200 }).map((b) => ct(Buffer.from(b), 'random bytes', 'application/octet-stream')),
  );
}

const edgeBodies = new Map<number, [number, Buffer][]>();

/** JSON bodies of exactly the limit, one byte either side, and twice it; made once, shared by every request. */
function edgeSizedBodies(bodyLimit: number): [number, Buffer][] {
  if (!edgeBodies.has(bodyLimit)) {
    edgeBodies.set(
      bodyLimit,
      [bodyLimit - 1, bodyLimit, bodyLimit + 1, bodyLimit * 2].map((n) => [
        n,
        Buffer.concat([Buffer.from('{"a":"'), Buffer.alloc(n - 8, 'x'), Buffer.from('"}')]),
      ]),
    );
  }
  return edgeBodies.get(bodyLimit)!;
}

/** multipart/form-data, well-formed and not. */
function formBody(): fc.Arbitrary<BodyChoice> {
  const boundary = 'fuzzboundary7MA4YWxkTrZu0gW';
  const part = (headers: string, content: string) => `--${boundary}\r\n${headers}\r\n\r\n${content}\r\n`;
  const ct: [string, string][] = [['Content-Type', `multipart/form-data; boundary=${boundary}`]];
  const form = (text: string, probe: string, headers = ct): BodyChoice => ({ bytes: Buffer.from(text, 'utf8'), headers, probe });
  return fc.oneof(
    fc
      .tuple(hostileString, fc.string({ maxLength: 50 }))
      .map(([name, content]) =>
        form(
          `${part(`Content-Disposition: form-data; name="file"; filename="${name.replace(/[\r\n"]/g, '_')}"\r\nContent-Type: application/octet-stream`, content)}--${boundary}--\r\n`,
          'form, hostile filename',
        ),
      ),
    fc.constant(
      form(`${part('Content-Disposition: form-data; name="file"; filename="a.step"', 'solid')}--${boundary}--\r\n`, 'valid form'),
    ),
    fc.constant(form(`${part('Content-Disposition: form-data; name="other"', 'x')}--${boundary}--\r\n`, 'form without file')),
    fc.constant(form(`${part('Content-Disposition: form-data; name="file"', 'x')}--${boundary}--\r\n`, 'nameless file part')),
    fc.constant(form(`--${boundary}--\r\n`, 'empty form')),
    fc.constant(form('not a form at all', 'not a form')),
    fc.constant(form(`${part('Content-Disposition: form-data; name="file"; filename="a.txt"', 'x')}`, 'form without closing boundary')),
    fc.constant(
      form(
        `${part('Content-Disposition: form-data; name="file"; filename="a.txt"', 'x')}--${boundary}--\r\n`,
        'form, no boundary in content type',
        [['Content-Type', 'multipart/form-data']],
      ),
    ),
    fc.constant(
      form(
        `${part(`Content-Disposition: form-data; name="file"; filename="${'n'.repeat(5000)}"`, 'x')}--${boundary}--\r\n`,
        'form, 5000-char filename',
      ),
    ),
  );
}

function framing(): fc.Arbitrary<FuzzRequest['framing']> {
  return fc.oneof(
    { weight: 20, arbitrary: fc.constant('length' as const) },
    { weight: 2, arbitrary: fc.constant('chunked' as const) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('broken-chunked', 'short-length', 'two-lengths', 'length-and-chunked', 'none') as fc.Arbitrary<
        FuzzRequest['framing']
      >,
    },
  );
}

/** Requests Node's parser or Fastify's router refuse before any route runs. */
function malformedRequest(world: FuzzWorld): fc.Arbitrary<FuzzRequest> {
  const base = (probe: string, over: Partial<FuzzRequest>): FuzzRequest => ({
    route: 'malformed',
    probe,
    method: 'GET',
    target: '/api/v1/parts/',
    body: null,
    framing: 'length',
    headers: [
      ['Host', '127.0.0.1'],
      ['Connection', 'close'],
      ['X-API-Key', world.keys.admin],
    ],
    ...over,
  });
  const withHeader = (name: string, value: string) =>
    base(`header ${name}: ${JSON.stringify(value.slice(0, 40))}`, {
      headers: [
        ['Host', '127.0.0.1'],
        ['Connection', 'close'],
        [name, value],
      ],
    });
  return fc.oneof(
    fc
      .tuple(fc.constantFrom(...world.routes), badPercent)
      .map(([route, bad]) =>
        base(`bad percent-encoding in ${routeName(route)}`, { method: route.method, target: fillPath(route.template, () => `x${bad}`) }),
      ),
    fc.constantFrom(16_000, 20_000).map((n) => base(`${n}-char URL`, { target: `/api/v1/parts/?q=${'a'.repeat(n)}` })),
    fc.constantFrom(17_000, 30_000).map((n) => withHeader('X-Big', 'a'.repeat(n))),
    fc.constant(
      base('400 headers', {
        headers: [
          ['Host', '127.0.0.1'],
          ['Connection', 'close'],
          ...Array.from({ length: 400 }, (_, i) => [`X-H${i}`, 'v'.repeat(60)] as [string, string]),
        ],
      }),
    ),
    fc
      .constantFrom('X-API-Key', 'Idempotency-Key', 'X-Request-Id', 'Range', 'Content-Type')
      .chain((name) => fc.constantFrom('a\rb', 'a\u0000b', 'a\u0001b', 'a\u007fb').map((v) => withHeader(name, v))),
    fc.constantFrom('FOO', 'get', 'G ET', 'PROPFIND', 'TRACE', 'PURGE', 'SEARCH').map((m) => base(`method ${m}`, { method: m })),
    fc
      .constantFrom(
        '*',
        'http://127.0.0.1/api/v1/parts/',
        '//api/v1//parts',
        '/api/v1/parts/#frag',
        '/api/v1/parts/?',
        '/%2e%2e/%2e%2e/etc/passwd',
        'api/v1/parts',
      )
      .map((target) => base(`target ${target}`, { target })),
    fc.constantFrom('chunked-garbage', 'chunked-huge').map((kind) =>
      base(kind, {
        method: 'POST',
        headers: [
          ['Host', '127.0.0.1'],
          ['Connection', 'close'],
          ['X-API-Key', world.keys.admin],
          ['Content-Type', 'application/json'],
          ['Transfer-Encoding', 'chunked'],
        ],
        body: Buffer.from(kind === 'chunked-huge' ? 'FFFFFFFFFFFFFFFF\r\n{}' : '2;ext=\u0001\r\n{}\r\n0\r\n\r\n'),
        framing: 'none',
        truncated: kind === 'chunked-huge',
      }),
    ),
    fc.constantFrom('-1', 'abc', '1e3', '99999999999999999999', ' 2').map((cl) =>
      base(`Content-Length ${cl}`, {
        method: 'POST',
        headers: [
          ['Host', '127.0.0.1'],
          ['Connection', 'close'],
          ['X-API-Key', world.keys.admin],
          ['Content-Type', 'application/json'],
          ['Content-Length', cl],
        ],
        body: Buffer.from('{}'),
        framing: 'none',
      }),
    ),
    fc.constant(
      base('Transfer-Encoding gzip', {
        method: 'POST',
        headers: [
          ['Host', '127.0.0.1'],
          ['Connection', 'close'],
          ['Transfer-Encoding', 'gzip'],
        ],
        body: Buffer.from('{}'),
        framing: 'none',
      }),
    ),
  );
}

/** Public routes the OpenAPI document leaves out (docs, the document itself) and CORS preflights of listed ones. */
function extraRoute(world: FuzzWorld): fc.Arbitrary<FuzzRequest> {
  const get = (target: string, method = 'GET', headers: [string, string][] = []): FuzzRequest => ({
    route: `${method} ${target.split('?')[0]}`,
    probe: 'public route',
    method,
    target,
    body: null,
    framing: 'length',
    headers: [['Host', '127.0.0.1'], ['Connection', 'close'], ...headers],
  });
  return fc.oneof(
    fc
      .constantFrom(
        '/openapi.json',
        '/docs',
        '/docs/',
        '/docs/json',
        '/docs/yaml',
        '/docs/static/index.html',
        '/docs/static/%ff',
        '/docs/static/../../package.json',
        '/healthz?x=%zz',
        '/metrics',
        '/readyz',
      )
      .map((t) => get(t)),
    fc.constantFrom(...world.routes).map((r) =>
      get(
        fillPath(r.template, () => UNKNOWN_UUID),
        'OPTIONS',
        [
          ['Origin', 'https://app.example'],
          ['Access-Control-Request-Method', r.method],
        ],
      ),
    ),
    fc.constantFrom(...world.routes).map((r) =>
      get(
        fillPath(r.template, () => UNKNOWN_UUID),
        'HEAD',
        [['X-API-Key', world.keys.admin]],
      ),
    ),
  );
}
