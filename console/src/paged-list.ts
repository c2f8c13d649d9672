import { describeError } from './api.js';
import { announce, h, replaceChildren } from './dom.js';
import type { Page } from './types.js';

interface PagedListOptions<T> {
  /** Names what is listed, for the count line and the list's accessible name ("uploads"). */
  noun: string;
  /** One of them ("upload"). */
  one: string;
  fetchPage: (cursor: string | null) => Promise<Page<T>>;
  renderItem: (item: T) => HTMLElement;
  /** Items the page answers but this list does not show (files out of the trash in the trash view). */
  keep?: (item: T) => boolean;
  empty: string;
}

export interface PagedList {
  element: HTMLElement;
  reload(): Promise<void>;
}

/** A list read page by page: the first page, then "Load more" while the API gives a next_cursor. */
export function pagedList<T>(options: PagedListOptions<T>): PagedList {
  const summary = h('p', { class: 'list-summary' });
  const list = h('ul', { class: 'rows', 'aria-label': options.noun });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, `Load more ${options.noun}`);
  const element = h('div', { class: 'paged-list', 'aria-busy': 'false' }, summary, list, more);
  let cursor: string | null = null;
  let generation = 0;

  async function load(reset: boolean) {
    const mine = reset ? ++generation : generation;
    element.setAttribute('aria-busy', 'true');
    more.disabled = true;
    try {
      const page = await options.fetchPage(reset ? null : cursor);
      if (mine !== generation) return;
      if (reset) list.replaceChildren();
      const items = options.keep ? page.data.filter(options.keep) : page.data;
      for (const item of items) list.append(options.renderItem(item));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      const shown = list.children.length;
      const counted = (n: number, capped = false) => `${n}${capped ? '+' : ''} ${n === 1 && !capped ? options.one : options.noun}`;
      replaceChildren(
        summary,
        shown === 0 && !cursor
          ? options.empty
          : options.keep
            ? `Showing ${counted(shown)}${cursor ? ' so far' : ''}`
            : `Showing ${shown} of ${counted(page.count, page.count_capped)}`,
      );
    } catch (error) {
      if (mine !== generation) return;
      replaceChildren(summary, h('span', { class: 'error' }, `Could not load the ${options.noun}: ${describeError(error)}`));
      announce(`Could not load the ${options.noun}: ${describeError(error)}`, 'error');
    } finally {
      if (mine === generation) {
        element.setAttribute('aria-busy', 'false');
        more.disabled = false;
      }
    }
  }

  more.addEventListener('click', () => void load(false));
  void load(true);
  return { element, reload: () => load(true) };
}
