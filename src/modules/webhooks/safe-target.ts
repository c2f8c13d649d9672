/**
 * Where a webhook may be sent. A target URL is judged twice: when an endpoint is saved
 * (checkTargetUrl: every address its host resolves to now) and at each send, on the address actually
 * connected to (forbiddenAddressLookup, checkConnectedSocket), since DNS may answer differently later.
 */
import dns from 'node:dns';
import net from 'node:net';
import ipaddr from 'ipaddr.js';

export const MAX_TARGET_URL_LENGTH = 2048;
export const FORBIDDEN_ADDRESS_CODE = 'ERR_WEBHOOK_FORBIDDEN_ADDRESS';

export type TargetProblemCode = 'invalid_url' | 'too_long' | 'scheme' | 'credentials' | 'unresolvable' | 'forbidden_address';

export interface TargetProblem {
  code: TargetProblemCode;
  message: string;
  /** The refused address, for forbidden_address. */
  address?: string;
}

/** Refuses a connection to a forbidden address; its `code` is ERR_WEBHOOK_FORBIDDEN_ADDRESS. */
export class ForbiddenAddressError extends Error {
  readonly code = FORBIDDEN_ADDRESS_CODE;
  constructor(
    readonly host: string,
    readonly address: string,
    readonly reason: string,
    how: 'resolves to' | 'is connected to' = 'resolves to',
  ) {
    super(host === address ? `webhook target ${address} is ${reason}` : `webhook target ${host} ${how} ${address}, ${reason}`);
    this.name = 'ForbiddenAddressError';
  }
}

const IPV4_REASONS: Record<string, string> = {
  unspecified: 'an unspecified address (0.0.0.0/8)',
  broadcast: 'the broadcast address',
  multicast: 'a multicast address (224.0.0.0/4)',
  linkLocal: 'a link-local address (169.254.0.0/16, where cloud metadata lives)',
  loopback: 'a loopback address (127.0.0.0/8)',
  carrierGradeNat: 'a carrier-grade NAT address (100.64.0.0/10)',
  private: 'a private address (RFC 1918)',
  reserved: 'a reserved or documentation address',
  as112: 'an AS112 sink address',
  amt: 'an AMT relay address',
};

const IPV6_REASONS: Record<string, string> = {
  unspecified: 'the unspecified address (::)',
  loopback: 'the loopback address (::1)',
  linkLocal: 'a link-local address (fe80::/10)',
  multicast: 'a multicast address (ff00::/8)',
  uniqueLocal: 'a unique-local address (fc00::/7)',
  deprecatedSiteLocal: 'a site-local address (fec0::/10)',
  discard: 'a discard-only address (100::/64)',
  benchmarking: 'a benchmarking address (2001:2::/48)',
  amt: 'an AMT relay address',
  as112v6: 'an AS112 sink address',
  deprecatedOrchid: 'an ORCHID address',
  orchid2: 'an ORCHIDv2 address',
  droneRemoteIdProtocolEntityTags: 'a drone remote ID tag (2001:30::/28)',
  segmentRouting: 'a segment-routing address (5f00::/16)',
  reserved: 'a reserved or documentation address',
};

/**
 * Why a webhook may not connect to `address`, or null when it may. Anything ipaddr.js does not call
 * plain unicast is refused; IPv6 forms that carry an IPv4 address are judged by that address.
 * A string that is not an IP address is refused too: the check fails closed.
 */
export function isForbiddenAddress(address: string): string | null {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(address);
  } catch {
    return 'not an IP address';
  }
  return parsed.kind() === 'ipv4' ? ipv4Reason(parsed as ipaddr.IPv4) : ipv6Reason(parsed as ipaddr.IPv6);
}

function ipv4Reason(address: ipaddr.IPv4): string | null {
  const range: string = address.range();
  if (range === 'unicast') return null;
  return IPV4_REASONS[range] ?? `a special-purpose address (${range})`;
}

function ipv6Reason(address: ipaddr.IPv6): string | null {
  const p = address.parts;
  // ::/96 but :: and ::1: the deprecated IPv4-compatible form (RFC 4291) has no legitimate use left.
  if (p.slice(0, 6).every((x) => x === 0) && (p[6] !== 0 || p[7] > 1)) {
    const v4 = ipv4From(p[6], p[7]);
    return embedded('IPv4-compatible', v4) ?? `an IPv4-compatible address (::${v4}, deprecated by RFC 4291)`;
  }
  const range: string = address.range();
  switch (range) {
    case 'unicast':
      // Global unicast is 2000::/3; the rest is unassigned, so nothing public lives there.
      return (p[0] & 0xe000) === 0x2000 ? null : 'outside global unicast space (2000::/3)';
    case 'ipv4Mapped':
    case 'rfc6145':
      return embedded(range === 'ipv4Mapped' ? 'IPv4-mapped' : 'IPv4-translated', ipv4From(p[6], p[7]));
    case 'rfc6052':
      // 64:ff9b::/96 carries the IPv4 in its last 32 bits; the local-use 64:ff9b:1::/48 may put it anywhere.
      if (p[1] === 0xff9b && p.slice(2, 6).every((x) => x === 0)) return embedded('NAT64', ipv4From(p[6], p[7]));
      return 'a local-use NAT64 address (64:ff9b:1::/48)';
    case '6to4':
      return embedded('6to4', ipv4From(p[1], p[2]));
    case 'teredo':
      // The server's IPv4 is in bits 32–63, the client's, inverted, in the last 32 bits (RFC 4380).
      return embedded('Teredo', ipv4From(p[2], p[3])) ?? embedded('Teredo', ipv4From(~p[6] & 0xffff, ~p[7] & 0xffff));
    default:
      return IPV6_REASONS[range] ?? `a special-purpose address (${range})`;
  }
}

function ipv4From(high: number, low: number): string {
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}

function embedded(form: string, v4: string): string | null {
  const reason = ipv4Reason(ipaddr.IPv4.parse(v4));
  return reason && `${form} IPv6 carrying ${v4}, ${reason}`;
}

/**
 * RFC 6761: names under .localhost are loopback, which some resolvers (systemd-resolved) answer and
 * others do not. Plain `localhost` is left to the resolver, whose loopback answer is refused anyway.
 */
function isLoopbackName(host: string): boolean {
  const name = host.toLowerCase();
  return name === 'localhost.' || name.replace(/\.$/, '').endsWith('.localhost');
}

export type UrlShape = { url: URL } | { problem: TargetProblem };

/** The checks that need no network: length, syntax, scheme, credentials. */
export function checkTargetUrlShape(raw: string): UrlShape {
  if (raw.length > MAX_TARGET_URL_LENGTH) {
    return { problem: { code: 'too_long', message: `the URL is longer than ${MAX_TARGET_URL_LENGTH} characters` } };
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { problem: { code: 'invalid_url', message: 'not a valid absolute URL' } };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { problem: { code: 'scheme', message: `the scheme must be http or https, not ${url.protocol.slice(0, -1)}` } };
  }
  if (url.username || url.password) {
    return { problem: { code: 'credentials', message: 'the URL must not carry credentials (user:password@)' } };
  }
  return { url };
}

/** The host of a parsed URL as the network sees it: no brackets around IPv6. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/**
 * Why `raw` may not be a webhook target, or null. WHATWG URL parsing has already turned decimal,
 * octal and hex IPv4 spellings (http://2130706433/, http://0x7f.1/) into dotted quads.
 */
export async function checkTargetUrl(raw: string, options: { allowPrivate: boolean }): Promise<TargetProblem | null> {
  const shape = checkTargetUrlShape(raw);
  if ('problem' in shape) return shape.problem;
  if (options.allowPrivate) return null;
  const host = hostOf(shape.url);
  let addresses: string[];
  if (net.isIP(host)) {
    addresses = [host];
  } else if (isLoopbackName(host)) {
    return { code: 'forbidden_address', message: `${host} is a loopback name (RFC 6761)`, address: host };
  } else {
    try {
      const found = await dns.promises.lookup(host, { all: true, family: 0, verbatim: true });
      addresses = found.map((a) => a.address);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      return { code: 'unresolvable', message: `the host ${host} does not resolve (${code})` };
    }
    if (!addresses.length) return { code: 'unresolvable', message: `the host ${host} does not resolve` };
  }
  for (const address of addresses) {
    const reason = isForbiddenAddress(address);
    if (reason) return { code: 'forbidden_address', message: new ForbiddenAddressError(host, address, reason).message, address };
  }
  return null;
}

/**
 * A `lookup` for http.request/net.connect that resolves as dns.lookup does, then refuses the
 * connection when any address found is forbidden: the check is on what is connected to, whatever
 * the name resolved to when the endpoint was saved. Node skips `lookup` for literal IPs: see
 * checkConnectedSocket.
 */
export const forbiddenAddressLookup: net.LookupFunction = (hostname, options, callback) => {
  if (isLoopbackName(hostname)) {
    const error = new ForbiddenAddressError(hostname, hostname, 'a loopback name (RFC 6761)');
    process.nextTick(() => callback(error, ''));
    return;
  }
  dns.lookup(hostname, { family: options.family ?? 0, hints: options.hints ?? 0, all: true, verbatim: true }, (error, addresses) => {
    if (error) return callback(error, '');
    for (const { address } of addresses) {
      const reason = isForbiddenAddress(address);
      if (reason) return callback(new ForbiddenAddressError(hostname, address, reason), '');
    }
    if (options.all) return callback(null, addresses);
    if (!addresses.length) return callback(Object.assign(new Error(`${hostname} does not resolve`), { code: 'ENOTFOUND' }), '');
    callback(null, addresses[0].address, addresses[0].family);
  });
};

/**
 * Destroys `socket` with a ForbiddenAddressError if it is, or once it becomes, connected to a
 * forbidden address. Called when a request is given its socket, this listener comes before the one
 * that flushes the request, so a refused connection carries no byte of it.
 */
export function checkConnectedSocket(socket: net.Socket, host: string): void {
  const check = () => {
    const address = socket.remoteAddress;
    const reason = address ? isForbiddenAddress(address) : 'a connection whose peer address is unknown';
    if (reason) socket.destroy(new ForbiddenAddressError(host, address ?? host, reason, 'is connected to'));
  };
  if (socket.connecting) socket.once('connect', check);
  else check();
}
