import fc from 'fast-check';
import type { JsonSchema } from './openapi-routes.js';

/** JSON text put into a body verbatim: numbers JSON.stringify cannot write (1e400, 2^63 exactly, -0). */
export class RawJson {
  constructor(readonly text: string) {}
}

export function toJsonText(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}:${toJsonText(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Strings that have broken services: control bytes, CR/LF, NUL, lone surrogates, sizes past index limits. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'a\u0000b',
    'line\r\nX-Injected: 1',
    '\r',
    '\n',
    '\ud800',
    'x\udfffy',
    '\ufeffbom',
    '\u202etxt.exe',
    '../../../etc/passwd',
    '..%2f..%2f',
    '%00',
    '%',
    "'; DROP TABLE parts; --",
    '${7*7}{{7*7}}',
    '\\',
    '"',
    'null',
    'true',
    '-1',
    '0',
    '1e400',
    'NaN',
    '😀'.repeat(300),
    'é'.repeat(1500),
    '__proto__',
    'constructor',
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.integer({ min: 200, max: 20_000 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 600, max: 3_000 }).map((n) => '😀'.repeat(n)),
);

/** Numbers at and past every range boundary: JS safe integers, int4, int8, doubles, and texts JSON.parse turns odd. */
export const hostileNumber: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    -1,
    0,
    1.5,
    -0.5,
    2 ** 31 - 1,
    2 ** 31,
    -(2 ** 31) - 1,
    2 ** 32,
    2 ** 53,
    2 ** 53 + 2,
    2 ** 63,
    -(2 ** 63),
    2 ** 64,
    1e20,
    1e300,
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
    Number.MIN_VALUE,
  ),
  fc
    .constantFrom(
      '9223372036854775807',
      '9223372036854775808',
      '-9223372036854775809',
      '1e400',
      '-1e400',
      '-0',
      '1E2',
      '0.0',
      '123456789012345678901234567890',
    )
    .map((text) => new RawJson(text)),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

const deep = (depth: number, open: string, close: string) => new RawJson(open.repeat(depth) + close.repeat(depth));

/** Any JSON value a client could send in place of a field: wrong types, hostile text, deep and huge. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostileString },
  { weight: 4, arbitrary: hostileNumber },
  { weight: 2, arbitrary: fc.constantFrom(null, true, false, [], {}, [null], { '': null }, ['a', 1, null]) },
  { weight: 1, arbitrary: fc.constantFrom(200, 5_000, 50_000).map((d) => deep(d, '[', ']')) },
  { weight: 1, arbitrary: fc.constantFrom(200, 5_000).map((d) => new RawJson(`${'{"a":'.repeat(d)}1${'}'.repeat(d)}`)) },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 60_000 }).map((n) => new RawJson(`[${'1,'.repeat(n)}1]`)) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

/** Query and path values are text: the same hostility, as it arrives in a URL. */
export const hostileText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '-1',
    '0',
    '1.5',
    '1e3',
    '99999999999999999999',
    '9223372036854775808',
    '2147483648',
    '-2147483649',
    'abc',
    '',
    '0x10',
    ' 1',
    'NaN',
    'Infinity',
    'true',
    'null',
    '[]',
    '{}',
    '9'.repeat(400),
  ),
  hostileString,
);

export interface SchemaContext {
  /** Real ids (of the fuzzing org) a uuid-ish field may take, so bodies reach past the lookups. */
  ids: string[];
}

/**
 * A `cursor` as the service writes them (base64url of [list, ...key]), for any list's tag, with keys of
 * the right shape, the wrong type or hostile text: each must be a page or a 422, never a cast error.
 */
const CURSOR_TAGS = [
  'uploads',
  'parts',
  'part_revisions',
  'dataset_links',
  'files',
  'file_versions',
  'folders',
  'readings',
  'webhook_deliveries',
  'search',
];
const cursorKey = fc.oneof(
  fc
    .date({ noInvalidDate: true, min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T00:00:00Z') })
    .map((d) => `${d.toISOString().slice(0, -1)}000Z`),
  fc.constantFrom('2026-02-30T00:00:00.000000Z', '2026-01-01T24:00:00.000000Z', '0000-01-01T00:00:00.000000Z', 'infinity', 'NaN'),
  fc.uuid(),
  fc.integer(),
  fc.double(),
  fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 1e308, null, true, [], {}),
  hostileString,
);
const cursorLike: fc.Arbitrary<string> = fc
  .tuple(fc.oneof(fc.constantFrom(...CURSOR_TAGS), fc.string({ maxLength: 8 })), fc.array(cursorKey, { maxLength: 3 }))
  .map(([tag, keys]) => Buffer.from(JSON.stringify([tag, ...keys])).toString('base64url'));

/** Values the schema accepts (mostly: a pattern or format with no generator here gives plain text). */
export function fromSchema(schema: JsonSchema, ctx: SchemaContext, name = ''): fc.Arbitrary<unknown> {
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map((s) => fromSchema(s, ctx, name)));
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (Array.isArray(schema.type)) return fc.oneof(...schema.type.map((type) => fromSchema({ ...schema, type }, ctx, name)));
  switch (schema.type) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1_000, max: Math.min(schema.maximum ?? 2 ** 40, Number.MAX_SAFE_INTEGER) });
    case 'number':
      return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true });
    case 'string':
      return stringFromSchema(schema, ctx, name);
    case 'array': {
      const items = fromSchema(schema.items ?? {}, ctx, name);
      const minLength = schema.minItems ?? 0;
      const maxLength = Math.min(schema.maxItems ?? 5, minLength + 4);
      return schema.uniqueItems
        ? fc.uniqueArray(items, { minLength, maxLength, selector: (v) => JSON.stringify(v) })
        : fc.array(items, { minLength, maxLength });
    }
    case 'object': {
      const properties = schema.properties ?? {};
      // Free-form objects (attributes) are stored as jsonb: hostile keys and values go in whole.
      if (!Object.keys(properties).length) {
        return fc.dictionary(fc.oneof(fc.string({ maxLength: 8 }), hostileString), fc.oneof(fc.jsonValue({ maxDepth: 2 }), hostileValue), {
          maxKeys: 4,
        });
      }
      const shape = Object.fromEntries(Object.entries(properties).map(([key, s]) => [key, fromSchema(s, ctx, key)]));
      return fc.record(shape, { requiredKeys: schema.required ?? [] });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

function stringFromSchema(schema: JsonSchema, ctx: SchemaContext, name: string): fc.Arbitrary<string> {
  const min = schema.minLength ?? 0;
  const max = schema.maxLength ?? 64;
  const fits = (s: string) => s.length >= min && s.length <= max;
  if (schema.format === 'uuid' || /(^|_)id$/.test(name) || name === 'ids') {
    return fc.oneof(fc.constantFrom(...ctx.ids), fc.uuid()).filter(fits);
  }
  if (schema.format === 'date-time') return fc.date({ noInvalidDate: true }).map((d) => d.toISOString());
  if (name === 'cursor') return cursorLike.filter(fits);
  if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern)).filter(fits);
  return fc.oneof(
    { weight: 3, arbitrary: fc.string({ minLength: min, maxLength: Math.min(max, min + 24) }) },
    // Within the schema's lengths but hostile in content: NUL, lone surrogates, CR/LF, astral characters.
    { weight: 1, arbitrary: hostileString.filter(fits) },
  );
}

/** Percent-encodes the UTF-8 bytes of `text` (a lone surrogate as U+FFFD, which is what UTF-8 can say). */
export function percentEncode(text: string): string {
  // String#toWellFormed is in Node 20 but not in the ES2022 lib this project compiles against.
  return encodeURIComponent((text as string & { toWellFormed(): string }).toWellFormed());
}

/** Percent sequences no decoder accepts, and encodings of separators. */
export const badPercent = fc.constantFrom(
  '%',
  '%zz',
  '%E0%A4%A',
  '%C0%AF',
  '%FF',
  '%ED%A0%80',
  '%u0041',
  '%%',
  '%2',
  '%0',
  '%2F',
  '%2e%2e',
  '%00',
  '%0D%0A',
);
