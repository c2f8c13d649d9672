import { getPage } from '../api.js';
import { h, snippetNodes } from '../dom.js';
import { pagedList } from '../paged-list.js';
import { go, href } from '../router.js';
import type { SearchHit } from '../types.js';

/** Full-text search over names and what was read in the bytes. */
export function searchView(main: HTMLElement, params: URLSearchParams) {
  const q = params.get('q') ?? '';
  const input = h('input', { id: 'search-q', type: 'search', name: 'q', value: q, required: true });
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Search uploads and files' },
    h('label', { for: 'search-q' }, 'Words to find'),
    input,
    h('button', { type: 'submit' }, 'Search'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    go('search', { q: input.value.trim() });
  });
  main.append(
    h('h1', {}, 'Search'),
    h(
      'p',
      { class: 'help' },
      'Finds uploads and files by their names and the text read from them. "exact phrase", or, -without work as on the web.',
    ),
    form,
  );
  if (!q) return;
  const results = pagedList<SearchHit>({
    noun: 'results',
    one: 'result',
    empty: `Nothing matches “${q}”.`,
    fetchPage: (cursor) => getPage<SearchHit>('/search', { q, cursor, limit: 25 }),
    renderItem: (hit) =>
      h(
        'li',
        { class: 'row' },
        h(
          'div',
          { class: 'row-main' },
          hit.kind === 'file'
            ? h('a', { class: 'name', href: href('file', { id: hit.id }) }, hit.name)
            : h('span', { class: 'name' }, hit.name),
          ' ',
          h('span', { class: 'badge' }, hit.kind),
        ),
        hit.snippet ? h('p', { class: 'snippet' }, ...snippetNodes(hit.snippet)) : h('p', { class: 'meta' }, 'The name matched.'),
      ),
  });
  main.append(results.element);
}
