/** Hash routes (`#/files?folder=…`): the server serves one page, and a reload keeps the view. */
export interface Route {
  view: string;
  params: URLSearchParams;
}

export function currentRoute(): Route {
  const [path, query = ''] = location.hash.replace(/^#\/?/, '').split('?', 2);
  return { view: path || 'uploads', params: new URLSearchParams(query) };
}

export function href(view: string, params: Record<string, string | null | undefined> = {}): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) query.set(name, value);
  const search = query.toString();
  return `#/${view}${search ? `?${search}` : ''}`;
}

export function go(view: string, params: Record<string, string | null | undefined> = {}): void {
  location.hash = href(view, params);
}
