import { api, describeError, getPage } from '../api.js';
import { actionButton, announce, download, formatBytes, h, replaceChildren, time } from '../dom.js';
import { pagedList } from '../paged-list.js';
import { go, href } from '../router.js';
import type { FileVersion, Folder, StoredFile } from '../types.js';
import { badge } from './uploads.js';
import { apiActions } from '../api-action.js';

const nameOf = (file: Pick<StoredFile, 'properties'>) => file.properties.label ?? file.properties.filename;

/** Folders one level at a time with their files, a search by name, and the trash with recover. */
export function filesView(main: HTMLElement, params: URLSearchParams) {
  const folderId = params.get('folder');
  const inTrash = params.get('trash') === '1';
  const q = params.get('q') ?? '';

  const crumbs = h('nav', { class: 'crumbs', 'aria-label': 'Folder path' });
  const tabs = h(
    'p',
    { class: 'tabs' },
    h('a', { href: href('files'), 'aria-current': inTrash ? null : 'page' }, 'Files'),
    h('a', { href: href('files', { trash: '1' }), 'aria-current': inTrash ? 'page' : null }, 'Trash'),
  );
  main.append(h('h1', {}, inTrash ? 'Trash' : 'Files'), tabs);

  if (inTrash) {
    const trash = pagedList<StoredFile>({
      noun: 'files in the trash',
      one: 'file in the trash',
      empty: 'The trash is empty.',
      fetchPage: (cursor) => getPage<StoredFile>('/files', { include_deleted: true, cursor, limit: 100 }),
      keep: (file) => file.deleted_at !== null,
      renderItem: (file) => fileRow(file, () => void trash.reload()),
    });
    main.append(
      h('p', { class: 'help' }, 'Files in the trash are purged after the retention period the server is set to (30 days by default).'),
      trash.element,
    );
    return;
  }

  const search = h('input', { id: 'file-search', type: 'search', name: 'q', value: q });
  const searchForm = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Find files by name' },
    h('label', { for: 'file-search' }, 'Find by name'),
    search,
    h('button', { type: 'submit' }, 'Find'),
  );
  searchForm.addEventListener('submit', (event) => {
    event.preventDefault();
    go('files', { folder: folderId, q: search.value.trim() });
  });

  const folders = pagedList<Folder>({
    noun: 'folders',
    one: 'folder',
    empty: 'No folders here.',
    fetchPage: (cursor) => getPage<Folder>('/folders', { parent_id: folderId, cursor, limit: 100 }),
    renderItem: (folder) =>
      h('li', { class: 'row' }, h('a', { class: 'name folder', href: href('files', { folder: folder.id }) }, `📁 ${folder.name}`)),
  });
  const newFolder = h('input', { id: 'new-folder', name: 'name', required: true, maxlength: 255 });
  const folderForm = h(
    'form',
    { class: 'filters', 'aria-label': 'New folder' },
    h('label', { for: 'new-folder' }, 'New folder name'),
    newFolder,
    h('button', { type: 'submit', class: 'secondary' }, 'Create folder'),
  );
  folderForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const folder = await api<Folder>('/folders', {
        method: 'POST',
        body: { name: newFolder.value, ...(folderId ? { parent_id: folderId } : {}) },
      });
      announce(`Folder ${folder.name} created.`);
      newFolder.value = '';
      void folders.reload();
    } catch (error) {
      announce(`The folder was not created: ${describeError(error)}`, 'error');
    }
  });

  const files = pagedList<StoredFile>({
    noun: 'files',
    one: 'file',
    empty: q ? 'No file name matches.' : 'No files here.',
    fetchPage: (cursor) => getPage<StoredFile>('/files', { folder_id: folderId, q, cursor, limit: 25 }),
    renderItem: (file) => fileRow(file, () => void files.reload()),
  });

  main.append(
    crumbs,
    searchForm,
    h('section', { 'aria-labelledby': 'folders-title' }, h('h2', { id: 'folders-title' }, 'Folders'), folders.element, folderForm),
    h(
      'section',
      { 'aria-labelledby': 'files-title' },
      h('h2', { id: 'files-title' }, folderId ? 'Files in this folder' : 'All files'),
      h('p', {}, h('a', { href: href('uploads', { folder: folderId }) }, folderId ? 'Upload files into this folder' : 'Upload files')),
      files.element,
    ),
  );
  void renderCrumbs(crumbs, folderId);
}

/** Root › a › b: each folder above the current one, found by its parent_id. */
async function renderCrumbs(nav: HTMLElement, folderId: string | null) {
  const trail: Folder[] = [];
  try {
    for (let id = folderId; id && trail.length < 64;) {
      const folder = await api<Folder>(`/folders/${encodeURIComponent(id)}`);
      trail.unshift(folder);
      id = folder.parent_id;
    }
  } catch (error) {
    replaceChildren(nav, h('span', { class: 'error' }, `This folder cannot be shown: ${describeError(error)}`));
    return;
  }
  const items = [{ name: 'All folders', id: null as string | null }, ...trail.map((f) => ({ name: f.name, id: f.id as string | null }))];
  replaceChildren(
    nav,
    h(
      'ol',
      {},
      ...items.map((item, i) =>
        h(
          'li',
          {},
          i === items.length - 1
            ? h('span', { 'aria-current': 'page' }, item.name)
            : h('a', { href: href('files', { folder: item.id }) }, item.name),
        ),
      ),
    ),
  );
}

function fileRow(file: StoredFile, changed: () => void): HTMLElement {
  const name = nameOf(file);
  return h(
    'li',
    { class: 'row', 'data-file-id': file.id },
    h(
      'div',
      { class: 'row-main' },
      h('a', { class: 'name', href: href('file', { id: file.id }) }, name),
      ' ',
      badge(file.deleted_at ? 'in trash' : file.status),
    ),
    h(
      'p',
      { class: 'meta' },
      `version ${file.ver}`,
      ' · ',
      formatBytes(file.properties.size),
      ' · ',
      file.properties.content_type ?? '',
      ' · ',
      time(file.created_at),
    ),
    h('div', { class: 'actions' }, ...fileActions(file, changed)),
  );
}

function fileActions(file: StoredFile, changed: () => void, onItsPage = false): HTMLElement[] {
  const name = nameOf(file);
  const id = encodeURIComponent(file.id);
  const run = apiActions(name, changed);
  if (file.deleted_at) return [run('Recover', 'POST', `/files/${id}/recover`, 'recovered from the trash')];
  const actions: HTMLElement[] = onItsPage
    ? []
    : [h('a', { class: 'button secondary', href: href('file', { id: file.id }), 'aria-label': `Versions of ${name}` }, 'Versions')];
  if (file.status === 'ready') actions.push(downloadButton(file, null));
  actions.push(run('Delete', 'DELETE', `/files/${id}`, 'moved to the trash'));
  return actions;
}

function downloadButton(file: StoredFile, ver: number | null): HTMLButtonElement {
  const name = nameOf(file);
  return actionButton(
    'Download',
    async () => {
      try {
        const { url } = await api<{ url: string }>(`/files/${encodeURIComponent(file.id)}/download-url`, { query: { ver } });
        download(url, file.properties.filename);
      } catch (error) {
        announce(`${name}: ${describeError(error)}`, 'error');
      }
    },
    { 'aria-label': ver === null ? `Download ${name}` : `Download version ${ver} of ${name}` },
  );
}

/** One file: what its tip holds, and every version, each downloadable. */
export function fileView(main: HTMLElement, params: URLSearchParams) {
  const id = params.get('id') ?? '';
  const heading = h('h1', {}, 'File');
  const summary = h('div', { class: 'card' }, h('p', {}, 'Loading…'));
  const versionsSection = h('section', { 'aria-labelledby': 'versions-title' }, h('h2', { id: 'versions-title' }, 'Version history'));
  main.append(h('p', {}, h('a', { href: href('files') }, '← Files')), heading, summary, versionsSection);

  const load = async () => {
    let file: StoredFile;
    try {
      file = await api<StoredFile>(`/files/${encodeURIComponent(id)}`);
    } catch (error) {
      replaceChildren(summary, h('p', { class: 'error' }, `This file cannot be shown: ${describeError(error)}`));
      return;
    }
    replaceChildren(heading, nameOf(file));
    const facts: [string, Node | string][] = [
      ['Status', file.deleted_at ? badge('in trash') : badge(file.status)],
      ['Version', String(file.ver)],
      ['File name', file.properties.filename],
      ['Size', formatBytes(file.properties.size)],
      ['Content type', file.properties.content_type ?? '—'],
      ['Changed', time(file.ts ?? file.created_at)],
      ['Tip CID', h('code', {}, file.cid ?? '—')],
    ];
    replaceChildren(
      summary,
      h('dl', { class: 'facts' }, ...facts.flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value)])),
      h('div', { class: 'actions' }, ...fileActions(file, () => void load(), true)),
    );
    const versions = pagedList<FileVersion>({
      noun: 'versions',
      one: 'version',
      empty: 'No version yet: the file awaits its content.',
      fetchPage: (cursor) => getPage<FileVersion>(`/files/${encodeURIComponent(id)}/versions`, { cursor, limit: 50 }),
      renderItem: (version) =>
        h(
          'li',
          { class: 'row' },
          h('div', { class: 'row-main' }, h('span', { class: 'name' }, `Version ${version.ver}`), ' ', time(version.ts)),
          h(
            'p',
            { class: 'meta' },
            version.properties.filename,
            ' · ',
            formatBytes(version.properties.size),
            version.edited_by?.user_label ? ` · by ${version.edited_by.user_label}` : '',
            version.note ? ` · “${version.note}”` : '',
          ),
          h('p', { class: 'meta' }, h('code', {}, version.cid)),
          file.deleted_at ? null : h('div', { class: 'actions' }, downloadButton(file, version.ver)),
        ),
    });
    versionsSection.querySelector('.paged-list')?.remove();
    versionsSection.append(versions.element);
  };
  void load();
}
