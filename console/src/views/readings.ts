import { apiBlob, getPage } from '../api.js';
import { h, time } from '../dom.js';
import { pagedList } from '../paged-list.js';
import { href } from '../router.js';
import type { Reading } from '../types.js';
import { badge } from './uploads.js';

const KINDS = ['pdf', 'csv', 'json', 'jsonl', 'image', 'text', 'cad', 'unsupported'];
const STATUSES = ['pending', 'ready', 'failed'];

/** What the server read in each confirmed upload, filtered by kind and status. */
export function readingsView(main: HTMLElement, params: URLSearchParams) {
  const kind = params.get('kind') ?? '';
  const status = params.get('status') ?? '';
  const kindSelect = select('reading-kind', 'kind', 'Any kind', KINDS, kind);
  const statusSelect = select('reading-status', 'status', 'Any status', STATUSES, status);
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Filter readings' },
    h('label', { for: 'reading-kind' }, 'Kind'),
    kindSelect,
    h('label', { for: 'reading-status' }, 'Status'),
    statusSelect,
  );
  const refilter = () => (location.hash = href('readings', { kind: kindSelect.value, status: statusSelect.value }));
  form.addEventListener('change', refilter);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    refilter();
  });
  const thumbnails: string[] = [];
  const readings = pagedList<Reading>({
    noun: 'readings',
    one: 'reading',
    empty: 'No readings match.',
    fetchPage: (cursor) => getPage<Reading>('/readings', { kind, status, cursor, limit: 25 }),
    renderItem: (reading) => readingRow(reading, thumbnails),
  });
  main.append(
    h('h1', {}, 'Readings'),
    h('p', { class: 'help' }, 'What Stowage found in the bytes of each confirmed upload.'),
    form,
    readings.element,
  );
  return () => thumbnails.forEach((url) => URL.revokeObjectURL(url));
}

function select(id: string, name: string, any: string, values: string[], chosen: string): HTMLSelectElement {
  const element = h('select', { id, name }, h('option', { value: '' }, any));
  for (const value of values) element.append(h('option', { value, selected: value === chosen }, value));
  return element;
}

function readingRow(reading: Reading, thumbnails: string[]): HTMLElement {
  const content = reading.edited_content ?? reading.content;
  const row = h(
    'li',
    { class: 'row' },
    h('div', { class: 'row-main' }, h('span', { class: 'name' }, `${reading.kind} reading`), ' ', badge(reading.status)),
    h(
      'p',
      { class: 'meta' },
      summaryOf(reading),
      ' · ',
      time(reading.created_at),
      ' · upload ',
      h('code', {}, reading.data_source_id),
      reading.file_id ? ' · ' : '',
      reading.file_id ? h('a', { href: href('file', { id: reading.file_id }) }, 'its file') : '',
    ),
    reading.error ? h('p', { class: 'error' }, `${reading.error.reason}: ${reading.error.message}`) : null,
    content ? h('details', {}, h('summary', {}, 'What was read'), h('pre', {}, JSON.stringify(content, null, 2))) : null,
  );
  if (reading.has_thumbnail) {
    apiBlob(`/uploads/${encodeURIComponent(reading.data_source_id)}/thumbnail`)
      .then((blob) => {
        const url = URL.createObjectURL(blob);
        thumbnails.push(url);
        row.prepend(h('img', { class: 'thumbnail', src: url, alt: `Thumbnail of the ${reading.kind} upload`, width: 64, height: 64 }));
      })
      .catch(() => {});
  }
  return row;
}

/** A few words on what was read, per kind. */
function summaryOf(reading: Reading): string {
  const c = (reading.edited_content ?? reading.content ?? {}) as Record<string, unknown>;
  switch (reading.kind) {
    case 'pdf':
      return `${c.pages ?? '?'} pages${c.title ? `, “${c.title}”` : ''}`;
    case 'csv':
      return `${c.row_count ?? '?'} rows × ${c.column_count ?? '?'} columns`;
    case 'image':
      return `${c.width ?? '?'} × ${c.height ?? '?'} ${c.format ?? ''}`.trim();
    case 'cad':
      return `${c.triangle_count ?? '?'} triangles${c.unit ? `, in ${c.unit}` : ''}`;
    case 'text':
      return `${c.line_count ?? '?'} lines`;
    case 'json':
    case 'jsonl':
      return String(c.kind ?? reading.kind);
    default:
      return reading.status === 'pending' ? 'being read' : String(c.content_type ?? reading.kind);
  }
}
