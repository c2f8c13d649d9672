import { AjvCompiler, type ValidatorFactory } from '@fastify/ajv-compiler';

interface RouteDefinition {
  httpPart?: string;
}
type Compile = (route: RouteDefinition) => unknown;
type BuildFromPool = (externalSchemas: unknown, options: { customOptions?: Record<string, unknown> }) => Compile;

/**
 * Fastify's own ajv compiler, twice: query strings, path parameters and headers arrive as text and
 * are coerced to the types their schemas name ('10' → 10, a lone value → an array); JSON bodies
 * arrive typed, so a wrong type there is the client's mistake and answers 422 instead of being
 * quietly converted (`"part_number": 123` stored as "123", `null` turned into 0 or '').
 */
export function validatorsByPart(): { buildValidator: ValidatorFactory } {
  const pool = AjvCompiler() as unknown as BuildFromPool;
  const buildValidator: BuildFromPool = (externalSchemas, options) => {
    const customOptions = options?.customOptions ?? {};
    const forText = pool(externalSchemas, { ...options, customOptions: { ...customOptions, coerceTypes: 'array' } });
    const forBody = pool(externalSchemas, { ...options, customOptions: { ...customOptions, coerceTypes: false } });
    return (route) => (route.httpPart === 'body' ? forBody : forText)(route);
  };
  return { buildValidator: buildValidator as unknown as ValidatorFactory };
}
