/**
 * Building the page from code: elements with text and attributes, never markup from strings, so
 * nothing the API answers (names, snippets) can turn into HTML.
 */
type Child = Node | string | number | null | undefined | false;
type Attributes = Record<string, string | number | boolean | null | undefined | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.replace(/^on/, ''), value);
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, String(value));
  }
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

/** A button that runs `action` once at a time: disabled while it runs, so a double click sends one request. */
export function actionButton(label: string, action: () => Promise<void>, attributes: Attributes = {}): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'secondary', ...attributes }, label);
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await action();
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

const live = () => document.getElementById('announcer');
const INFO_SHOWN_MS = 10_000;
let fading = 0;

/**
 * Says something to everyone: shown in the status line and read out by screen readers (aria-live).
 * News goes after a while so the line does not cover the page; an error stays until the next message.
 */
export function announce(message: string, kind: 'info' | 'error' = 'info'): void {
  const region = live();
  if (!region) return;
  clearTimeout(fading);
  region.dataset.kind = kind;
  // A repeat of the same words is still announced when the text changes first.
  region.textContent = '';
  requestAnimationFrame(() => (region.textContent = message));
  if (kind === 'info') fading = window.setTimeout(() => (region.textContent = ''), INFO_SHOWN_MS);
}

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatTime(iso: string | number | null | undefined): string {
  if (iso === null || iso === undefined) return '—';
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** A time element for a moment: readable text, the exact value for machines. */
export function time(iso: string | number | null | undefined): HTMLElement {
  if (iso === null || iso === undefined) return h('span', {}, '—');
  return h('time', { datetime: new Date(iso).toISOString() }, formatTime(iso));
}

const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'", '&#x27;': "'" };

/** A search snippet (HTML-escaped text, matches in <mark>) as nodes: only <mark> becomes an element. */
export function snippetNodes(snippet: string): Node[] {
  return snippet.split(/(<mark>.*?<\/mark>)/s).map((piece) => {
    const marked = /^<mark>(.*)<\/mark>$/s.exec(piece);
    const text = (marked ? marked[1] : piece).replace(/&(?:amp|lt|gt|quot|#39|#x27);/g, (entity) => ENTITIES[entity]);
    return marked ? h('mark', {}, text) : document.createTextNode(text);
  });
}

/** Starts a download of a signed URL without leaving the page. */
export function download(url: string, filename?: string): void {
  const link = h('a', { href: url, download: filename ?? '', hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
}
