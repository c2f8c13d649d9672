/**
 * The route table of a running server, read from its own /openapi.json: the fuzz test and the tenant
 * matrix both walk this, so a route added to the API is covered without anyone listing it.
 */

export type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  default?: unknown;
};

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required: boolean;
  schema: JsonSchema;
}

export interface Route {
  method: string;
  /** The OpenAPI template, e.g. /api/v1/parts/{part_id}; the blob wildcard is {*}. */
  template: string;
  pathParams: string[];
  query: Parameter[];
  body: { kind: 'json'; schema: JsonSchema } | { kind: 'form' } | null;
  /** Whether the route wants an API key (it lists 401 among its answers). */
  authenticated: boolean;
}

interface OpenApiOperation {
  parameters?: { name: string; in: string; required?: boolean; schema?: JsonSchema }[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
  responses?: Record<string, unknown>;
}

export async function readRoutes(baseUrl: string): Promise<Route[]> {
  const answer = await fetch(`${baseUrl}/openapi.json`);
  if (answer.status !== 200) throw new Error(`/openapi.json answered ${answer.status}`);
  const doc = (await answer.json()) as { paths: Record<string, Record<string, OpenApiOperation>> };
  const routes: Route[] = [];
  for (const [template, operations] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const parameters = operation.parameters ?? [];
      const content = operation.requestBody?.content ?? {};
      const json = content['application/json']?.schema;
      routes.push({
        method: method.toUpperCase(),
        template,
        pathParams: [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]),
        query: parameters
          .filter((p) => p.in === 'query')
          .map((p) => ({ name: p.name, in: 'query', required: p.required ?? false, schema: p.schema ?? {} })),
        body: json ? { kind: 'json', schema: json } : content['multipart/form-data'] ? { kind: 'form' } : null,
        authenticated: Object.hasOwn(operation.responses ?? {}, '401'),
      });
    }
  }
  return routes;
}

/** The template with each {param} replaced by what `valueOf` gives (already percent-encoded as wanted). */
export function fillPath(template: string, valueOf: (param: string) => string): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => valueOf(name));
}

export const routeName = (route: Pick<Route, 'method' | 'template'>) => `${route.method} ${route.template}`;
