import { Stream } from 'node:stream';
import { AjvCompiler, type ValidatorFactory } from '@fastify/ajv-compiler';
import type { FastifyInstance } from 'fastify';
import { validationError } from '../errors.js';

interface RouteDefinition {
  httpPart?: string;
}
interface Issue {
  instancePath: string;
  keyword: string;
  message: string;
  params: Record<string, unknown>;
}
type Validate = ((data: unknown) => boolean) & { errors?: unknown[] | null };
type Compile = (route: RouteDefinition) => Validate;
type BuildFromPool = (externalSchemas: unknown, options: { customOptions?: Record<string, unknown> }) => Compile;

/**
 * Fastify's own ajv compiler, twice: query strings, path parameters and headers arrive as text and
 * are coerced to the types their schemas name ('10' → 10, a lone value → an array); JSON bodies
 * arrive typed, so a wrong type there is the client's mistake and answers 422 instead of being
 * quietly converted (`"part_number": 123` stored as "123", `null` turned into 0 or '').
 * Bodies and query strings are also checked for what no schema can say: see `unstorable`.
 */
export function validatorsByPart(): { buildValidator: ValidatorFactory } {
  const pool = AjvCompiler() as unknown as BuildFromPool;
  const buildValidator: BuildFromPool = (externalSchemas, options) => {
    const customOptions = options?.customOptions ?? {};
    const forText = pool(externalSchemas, { ...options, customOptions: { ...customOptions, coerceTypes: 'array' } });
    const forBody = pool(externalSchemas, { ...options, customOptions: { ...customOptions, coerceTypes: false } });
    return (route) => {
      const validate = (route.httpPart === 'body' ? forBody : forText)(route);
      return route.httpPart === 'body' || route.httpPart === 'querystring' ? alsoStorable(validate) : validate;
    };
  };
  return { buildValidator: buildValidator as unknown as ValidatorFactory };
}

function alsoStorable(validate: Validate): Validate {
  const checked: Validate = (data) => {
    const valid = validate(data);
    // After the schema: coercion may have made the Infinity ('1e400' → Infinity) looked for here.
    const problems = unstorable(data);
    checked.errors = problems.length ? [...(validate.errors ?? []), ...problems] : validate.errors;
    return valid && problems.length === 0;
  };
  return checked;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const MAX_PROBLEMS = 20;
/** Deeper JSON than anyone means; past some thousands of levels, recursive code downstream overflows its stack. */
const MAX_DEPTH = 64;

/**
 * Values PostgreSQL cannot hold or JSON cannot say, anywhere in `data` (keys included): NUL in text
 * and jsonb, lone UTF-16 surrogates (jsonb refuses them; text would store U+FFFD instead), and
 * numbers that are not finite (JSON.parse reads 1e400 as Infinity; ajv lets a coerced Infinity past
 * `maximum`). Each would otherwise be a 500 from the database or a silently altered value. Nesting
 * is the body depth guard's to refuse, before validation runs.
 */
export function unstorable(data: unknown): Issue[] {
  const problems: Issue[] = [];
  const stack: [unknown, string][] = [[data, '']];
  while (stack.length && problems.length < MAX_PROBLEMS) {
    const [value, path] = stack.pop()!;
    if (typeof value === 'string') {
      const message = textProblem(value);
      if (message) problems.push(issue(path, message));
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value)) problems.push(issue(path, 'must be a finite number'));
    } else if (isParsedJson(value)) {
      for (const [key, inner] of Object.entries(value)) {
        const at = `${path}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
        const keyMessage = textProblem(key);
        if (keyMessage) problems.push(issue(at, `has a key that ${keyMessage}`));
        else stack.push([inner, at]);
      }
    }
  }
  return problems;
}

/**
 * What a parser made of text (JSON, a query string): anything but a body handed over as a stream (a
 * route taking raw bytes) or as bytes, whose internals are no client's values and never end.
 */
function isParsedJson(value: unknown): value is object {
  return !!value && typeof value === 'object' && !(value instanceof Stream) && !ArrayBuffer.isView(value);
}

function textProblem(text: string): string | null {
  if (text.includes('\u0000')) return 'must not contain NUL (\\u0000)';
  if (LONE_SURROGATE.test(text)) return 'must be valid Unicode (it holds a lone surrogate)';
  return null;
}

const issue = (instancePath: string, message: string): Issue => ({ instancePath, keyword: 'storable', message, params: {} });

/**
 * JSON nested past MAX_DEPTH is refused on every route, with a body schema or without: the schema
 * check above covers the first kind, this hook the rest, before anything (the Idempotency-Key hash)
 * walks a parsed body recursively and overflows the stack on 100,000 levels.
 */
export function installBodyDepthGuard(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    const body = request.body;
    if (!body || typeof body !== 'object' || (!Array.isArray(body) && Object.getPrototypeOf(body) !== Object.prototype)) return;
    const path = deeperThan(body, MAX_DEPTH);
    if (path !== null) throw validationError([{ path: `body${path}`, message: `nests deeper than ${MAX_DEPTH} levels` }]);
  });
}

/** The path (a.b[0]) of the first point deeper than `max` in `data`, or null; iterative. */
function deeperThan(data: unknown, max: number): string | null {
  const stack: [unknown, string, number][] = [[data, '', 0]];
  while (stack.length) {
    const [value, path, depth] = stack.pop()!;
    if (!value || typeof value !== 'object') continue;
    if (depth >= max) return path;
    for (const [key, inner] of Object.entries(value)) {
      stack.push([inner, Array.isArray(value) ? `${path}[${key}]` : `${path}.${key}`, depth + 1]);
    }
  }
  return null;
}
