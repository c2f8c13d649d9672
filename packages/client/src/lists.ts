import type { Client } from 'openapi-fetch';
import { unwrap } from './errors.js';
import type { paths } from './openapi.js';

type GetOperation<P extends keyof paths> = paths[P] extends { get: infer O } ? O : never;
type JsonAnswer<O> = O extends { responses: { 200: { content: { 'application/json': infer B } } } } ? B : never;
type ParametersOf<O> = O extends { parameters: infer Q } ? Q : never;
type QueryOf<O> = ParametersOf<O> extends { query?: infer Q } ? NonNullable<Q> : never;

/** The lists that page by `cursor`: `{count, data, next_cursor}` answers. */
export type ListPath = {
  [P in keyof paths]: JsonAnswer<GetOperation<P>> extends { data: unknown[]; next_cursor: string | null } ? P : never;
}[keyof paths];

/** What one row of a list is. */
export type ListItem<P extends ListPath> = JsonAnswer<GetOperation<P>> extends { data: (infer I)[] } ? I : never;

/** A list's filters and path ids; the cursor is the walk's own business. */
export type ListParams<P extends ListPath> = Omit<ParametersOf<GetOperation<P>>, 'query' | 'header' | 'cookie'> & {
  query?: Omit<QueryOf<GetOperation<P>>, 'cursor'>;
};

/**
 * Every row of a list, page after page by `next_cursor` (whose cost does not grow with depth),
 * fetching the next page only when the rows before it have been taken.
 */
export async function* eachRow<P extends ListPath>(
  api: Client<paths>,
  path: P,
  params?: ListParams<P>,
  init: { signal?: AbortSignal } = {},
): AsyncGenerator<ListItem<P>, void, undefined> {
  const base = (params ?? {}) as { query?: Record<string, unknown> };
  let query: Record<string, unknown> = { ...base.query };
  for (;;) {
    // The path is one of the typed lists; the call is made untyped because TypeScript cannot follow a union of paths.
    const get = api.GET as unknown as (path: string, init: unknown) => Promise<{ data?: unknown; error?: unknown; response: Response }>;
    const page = unwrap(await get(path, { params: { ...base, query }, signal: init.signal })) as {
      data: ListItem<P>[];
      next_cursor: string | null;
    };
    yield* page.data;
    if (!page.next_cursor) return;
    // The cursor carries the position, not the filters; an offset only ever applies to the first page.
    const { offset: _offset, ...filters } = query;
    query = { ...filters, cursor: page.next_cursor };
  }
}
