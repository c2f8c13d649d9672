import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { TSchema } from '@sinclair/typebox';
import type {
  ContextConfigDefault,
  FastifyInstance,
  FastifySchema,
  HTTPMethods,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
  RouteGenericInterface,
  RouteHandlerMethod,
  RouteShorthandOptions,
} from 'fastify';
import type { Scope } from '../access/scopes.js';
import { ERROR_MEANINGS, type ErrorStatus, errorResponses, notFoundMeaning } from '../errors.js';

/** A success answer: what it means, and the body's schema (none for a body the document need not spell out). */
export interface Answer<S extends TSchema = TSchema> {
  description: string;
  schema?: S;
}

type SuccessStatus = 200 | 201 | 202 | 204 | 206;
type Answers = { [Status in SuccessStatus]?: Answer };

/** Every route that wants an API key can answer these; they are documented without being listed. */
const KEYED_ERRORS = [401, 403, 429, 500, 503] as const;
/** What a route lists itself: 404 comes from `notFound`, which names the thing looked up. */
type ListedError = Exclude<ErrorStatus, 404>;

/** A route either needs a scope (and an API key carrying it) or says, in so many words, that it is public. */
type Access = { scope: Scope; public?: never } | { public: true; scope?: never };

interface Declaration<P, Q, B, R extends Answers> {
  /** camelCase, unique in the document: what generated clients name the call (listUploads, getJob). */
  operationId: string;
  summary: string;
  description?: string;
  params?: P;
  querystring?: Q;
  body?: B;
  /** Every success status with what it means. */
  response: R;
  /** Error statuses beyond those every route with a scope answers anyway (401, 403, 429, 500, 503). */
  errors?: readonly ListedError[];
  /** What the route looks up in the caller's organisation; gives the route its 404. */
  notFound?: string;
  consumes?: string[];
  produces?: string[];
  /** Fastify's own route options, for what a declaration does not cover (hooks, body limit, config). */
  options?: Omit<RouteShorthandOptions, 'schema'>;
}

export type RouteDeclaration<P = undefined, Q = undefined, B = undefined, R extends Answers = Answers> = Declaration<P, Q, B, R> & Access;

/** The schema Fastify's TypeBox provider types a handler's request and reply from. */
type SchemaOf<P, Q, B, R extends Answers> = {
  params: P;
  querystring: Q;
  body: B;
  response: { [Status in keyof R]: R[Status] extends Answer<infer S> ? S : never };
};

type Handler<P, Q, B, R extends Answers> = RouteHandlerMethod<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  RouteGenericInterface,
  ContextConfigDefault,
  SchemaOf<P, Q, B, R>,
  TypeBoxTypeProvider
>;

type Declare = <
  P extends TSchema | undefined = undefined,
  Q extends TSchema | undefined = undefined,
  B extends TSchema | undefined = undefined,
  R extends Answers = Answers,
>(
  url: string,
  declaration: RouteDeclaration<P, Q, B, R> & { handler: Handler<P, Q, B, R> } & AtLeastOneAnswer<R>,
) => void;

/** A declaration whose `response` names no success status does not type-check. */
type AtLeastOneAnswer<R> = {} extends R ? { response: never } : unknown;

const CAMEL_CASE = /^[a-z][a-zA-Z0-9]*$/;

/**
 * One declaration per route: the scope (or `public: true`), the OpenAPI operation with a meaning for
 * every answer, and a handler typed from the TypeBox schemas of its params, query and body.
 */
export function routesOf(app: FastifyInstance, shared: { tags: string[] }) {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  const declare =
    (method: HTTPMethods): Declare =>
    (url, declaration) => {
      const { options = {}, handler } = declaration;
      typed.route({
        // `/` under a module's prefix is the prefix with its slash (`GET /api/v1/parts/`, as the references write
        // it); Fastify would register the bare prefix instead. Both still answer: the app ignores trailing slashes.
        prefixTrailingSlash: 'slash',
        ...options,
        method,
        url,
        config: { ...options.config, ...(declaration.scope ? { scope: declaration.scope } : {}) },
        schema: operationOf(declaration, shared.tags),
        handler: handler as RouteHandlerMethod,
      });
    };
  return {
    get: declare('GET'),
    // A HEAD route stays out of the OpenAPI document (@fastify/swagger leaves HEAD routes out).
    head: declare('HEAD'),
    post: declare('POST'),
    put: declare('PUT'),
    patch: declare('PATCH'),
    delete: declare('DELETE'),
  };
}

function operationOf(declaration: RouteDeclaration<unknown, unknown, unknown>, tags: string[]): FastifySchema {
  const { operationId, summary, description, params, querystring, body, consumes, produces } = declaration;
  if (!CAMEL_CASE.test(operationId)) throw new Error(`operationId ${operationId} is not camelCase`);
  return {
    operationId,
    summary,
    tags,
    ...(description ? { description } : {}),
    ...(params ? { params } : {}),
    ...(querystring ? { querystring } : {}),
    ...(body ? { body } : {}),
    ...(consumes ? { consumes } : {}),
    ...(produces ? { produces } : {}),
    // No API key wanted: the document's default requirement does not apply (no lock in /docs).
    ...(declaration.public ? { security: [] } : {}),
    response: { ...successResponses(declaration.response), ...errorResponses(errorMeanings(declaration)) },
  } as FastifySchema;
}

function errorMeanings(declaration: RouteDeclaration<unknown, unknown, unknown>): Partial<Record<ErrorStatus, string>> {
  const statuses = [...(declaration.public ? [] : KEYED_ERRORS), ...(declaration.errors ?? [])];
  const meanings: Partial<Record<ErrorStatus, string>> = Object.fromEntries(statuses.map((status) => [status, ERROR_MEANINGS[status]]));
  if (declaration.notFound) meanings[404] = notFoundMeaning(declaration.notFound);
  return meanings;
}

/**
 * @fastify/swagger takes a response's description from `description` beside a `$ref`, and from
 * `x-response-description` on an inline schema (whose own description stays the body's).
 */
function successResponses(answers: Answers): Record<number, unknown> {
  return Object.fromEntries(
    Object.entries(answers).map(([status, { description, schema = {} }]) => [
      status,
      '$ref' in schema ? { ...schema, description } : { ...schema, 'x-response-description': description },
    ]),
  );
}
