import { api, describeError, getPage } from '../api.js';
import { formatBytes, h, replaceChildren, time } from '../dom.js';
import { pagedList } from '../paged-list.js';
import { go, href } from '../router.js';
import type { DatasetLink, Part, Preview, Revision } from '../types.js';
import { showPreview } from './preview.js';

/** Parts, searched by number and description. */
export function partsView(main: HTMLElement, params: URLSearchParams) {
  const q = params.get('q') ?? '';
  const search = h('input', { id: 'part-search', type: 'search', name: 'q', value: q });
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Find parts' },
    h('label', { for: 'part-search' }, 'Part number or description'),
    search,
    h('button', { type: 'submit' }, 'Find'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    go('parts', { q: search.value.trim() });
  });
  const parts = pagedList<Part>({
    noun: 'parts',
    one: 'part',
    empty: q ? 'No part matches.' : 'No parts yet.',
    fetchPage: (cursor) => getPage<Part>('/parts/', { q, cursor, limit: 25 }),
    renderItem: (part) =>
      h(
        'li',
        { class: 'row' },
        h('div', { class: 'row-main' }, h('a', { class: 'name', href: href('part', { id: part.id }) }, part.part_number)),
        h('p', { class: 'meta' }, part.description ?? 'No description', ' · ', time(part.created_at)),
      ),
  });
  main.append(h('h1', {}, 'Parts'), form, parts.element);
}

/** One part: its revisions, the datasets of one revision, and the 3D preview. */
export function partView(main: HTMLElement, params: URLSearchParams) {
  const partId = params.get('id') ?? '';
  const chosenRevision = params.get('rev');
  const datasetPreview = params.get('dataset');
  const base = `/parts/${encodeURIComponent(partId)}`;
  const stops: (() => void)[] = [];
  let left = false;

  const heading = h('h1', {}, 'Part');
  const facts = h('p', { class: 'meta' });
  const previewTitle = h('h2', { id: 'preview-title' }, '3D preview');
  const previewBox = h('div', { class: 'preview', id: 'preview', 'aria-live': 'polite' });
  const revisionsBox = h('div', {});
  const datasetsSection = h('section', { 'aria-labelledby': 'datasets-title' }, h('h2', { id: 'datasets-title' }, 'Datasets'));
  main.append(
    h('p', {}, h('a', { href: href('parts') }, '← Parts')),
    heading,
    facts,
    h('section', { 'aria-labelledby': 'preview-title' }, previewTitle, previewBox),
    h('section', { 'aria-labelledby': 'revisions-title' }, h('h2', { id: 'revisions-title' }, 'Revisions'), revisionsBox),
    datasetsSection,
  );

  const load = async () => {
    let part: Part;
    let revisions: Revision[];
    try {
      part = await api<Part>(base);
      revisions = (await getPage<Revision>(`${base}/revisions`, { limit: 200 })).data;
    } catch (error) {
      replaceChildren(facts, h('span', { class: 'error' }, `This part cannot be shown: ${describeError(error)}`));
      return;
    }
    if (left) return;
    replaceChildren(heading, part.part_number);
    replaceChildren(facts, part.description ?? 'No description', ' · created ', time(part.created_at));
    const label = datasetPreview ? `dataset of ${part.part_number}` : part.part_number;
    replaceChildren(previewTitle, datasetPreview ? '3D preview of a dataset' : '3D preview of the newest revision');
    stops.push(
      showPreview(previewBox, label, () =>
        api<Preview>(datasetPreview ? `/parts/datasets/${encodeURIComponent(datasetPreview)}/preview-url` : `${base}/preview-url`),
      ),
    );

    if (!revisions.length) {
      replaceChildren(revisionsBox, h('p', {}, 'No revisions yet.'));
      return;
    }
    // Lists are newest first: the newest revision is the one shown unless another is chosen.
    const current = revisions.find((r) => r.id === chosenRevision) ?? revisions[0];
    replaceChildren(
      revisionsBox,
      h(
        'ul',
        { class: 'chips', 'aria-label': 'Revisions' },
        ...revisions.map((revision) =>
          h(
            'li',
            {},
            h(
              'a',
              { href: href('part', { id: partId, rev: revision.id }), 'aria-current': revision.id === current.id ? 'true' : null },
              `Revision ${revision.revision_code}`,
            ),
          ),
        ),
      ),
    );
    const datasets = pagedList<DatasetLink>({
      noun: `datasets of revision ${current.revision_code}`,
      one: `dataset of revision ${current.revision_code}`,
      empty: 'No datasets are linked to this revision.',
      fetchPage: (cursor) => getPage<DatasetLink>(`${base}/revisions/${encodeURIComponent(current.id)}/datasets`, { cursor, limit: 50 }),
      renderItem: (link) =>
        h(
          'li',
          { class: 'row' },
          h(
            'div',
            { class: 'row-main' },
            h('span', { class: 'name' }, link.filename),
            ' ',
            h('span', { class: 'badge' }, link.role),
            link.is_primary ? h('span', { class: 'badge badge-confirmed' }, 'primary') : null,
          ),
          h('p', { class: 'meta' }, formatBytes(link.size_bytes), ' · ', link.content_type ?? 'unknown type'),
          link.role === 'cad_3d'
            ? h(
                'div',
                { class: 'actions' },
                h(
                  'a',
                  {
                    class: 'button secondary',
                    href: href('part', { id: partId, rev: current.id, dataset: link.data_source_id }),
                    'aria-label': `Preview ${link.filename} in 3D`,
                  },
                  'Preview in 3D',
                ),
              )
            : null,
        ),
    });
    replaceChildren(datasetsSection, h('h2', { id: 'datasets-title' }, `Datasets of revision ${current.revision_code}`), datasets.element);
  };
  void load();
  return () => {
    left = true;
    stops.forEach((stop) => stop());
  };
}
