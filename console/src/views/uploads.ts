import { api, describeError, getPage } from '../api.js';
import { actionButton, announce, download, formatBytes, h, replaceChildren, time } from '../dom.js';
import { pagedList } from '../paged-list.js';
import { href } from '../router.js';
import type { Folder, Upload, UploadStatus } from '../types.js';
import type { Uploader } from './uploader.js';
import { apiActions } from '../api-action.js';

const STATUSES: UploadStatus[] = ['pending', 'confirmed', 'failed', 'cancelled'];
const POLL_MS = 1000;

/** Drag and drop uploads (tus), then the organisation's uploads: filter, cancel, retry, download, delete, recover. */
export function uploadsView(main: HTMLElement, params: URLSearchParams) {
  const status = params.get('status') ?? '';
  const withDeleted = params.get('deleted') === '1';
  const folderId = params.get('folder');
  const timers = new Set<number>();
  let uploader: Uploader | null = null;
  let left = false;

  const dropZone = h('div', { id: 'uploader', class: 'uploader' }, h('p', {}, 'Loading the uploader…'));
  const destination = h('p', { class: 'help' }, folderId ? 'Uploads go into a folder…' : 'Uploads are not put in a folder.');
  const tracked = h('ul', { class: 'tracked', 'aria-label': 'Uploads of this session' });

  const filter = h('select', { id: 'upload-status', name: 'status' }, h('option', { value: '' }, 'Any status'));
  for (const s of STATUSES) filter.append(h('option', { value: s, selected: s === status }, s));
  const deleted = h('input', { id: 'upload-deleted', type: 'checkbox', name: 'deleted', checked: withDeleted });
  const filters = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Filter uploads' },
    h('label', { for: 'upload-status' }, 'Status'),
    filter,
    h('span', { class: 'check' }, deleted, h('label', { for: 'upload-deleted' }, 'Include the trash')),
  );
  const refilter = () => {
    location.hash = href('uploads', { status: filter.value, deleted: deleted.checked ? '1' : null, folder: folderId });
  };
  filter.addEventListener('change', refilter);
  deleted.addEventListener('change', refilter);
  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    refilter();
  });

  const list = pagedList<Upload>({
    noun: 'uploads',
    one: 'upload',
    empty: 'No uploads match.',
    fetchPage: (cursor) =>
      getPage<Upload>('/uploads', {
        status,
        include_deleted: withDeleted || null,
        cursor,
        limit: 25,
      }),
    renderItem: (upload) => uploadRow(upload, () => void list.reload()),
  });

  main.append(
    h('h1', {}, 'Uploads'),
    h('section', { 'aria-labelledby': 'upload-files' }, h('h2', { id: 'upload-files' }, 'Upload files'), destination, dropZone, tracked),
    h('section', { 'aria-labelledby': 'upload-list' }, h('h2', { id: 'upload-list' }, 'All uploads'), filters, list.element),
  );

  if (folderId) {
    api<Folder>(`/folders/${encodeURIComponent(folderId)}`)
      .then((folder) =>
        replaceChildren(
          destination,
          'Uploads go into the folder ',
          h('strong', {}, folder.path),
          '. ',
          h('a', { href: href('uploads') }, 'Upload without a folder'),
        ),
      )
      .catch((error) => replaceChildren(destination, h('span', { class: 'error' }, `That folder cannot be used: ${describeError(error)}`)));
  }

  /** After the bytes arrive the confirm job checks them: show the upload's status until it settles. */
  function follow(uploadId: string, name: string) {
    const line = h('li', { 'data-upload-id': uploadId }, h('span', { class: 'name' }, name), ' ', badge('pending'), ' checking the bytes…');
    tracked.prepend(line);
    announce(`${name}: uploaded, being confirmed.`);
    const poll = async () => {
      if (left) return;
      try {
        const upload = await api<Upload>(`/uploads/${encodeURIComponent(uploadId)}`);
        if (upload.status === 'pending') {
          timers.add(window.setTimeout(poll, POLL_MS));
          return;
        }
        const reason = upload.failure_reason ? ` (${upload.failure_reason})` : '';
        replaceChildren(
          line,
          h('span', { class: 'name' }, name),
          ' ',
          badge(upload.status),
          upload.status === 'confirmed' ? ' checked and stored' : reason,
        );
        announce(`${name}: ${upload.status}${reason}.`, upload.status === 'failed' ? 'error' : 'info');
        void list.reload();
      } catch (error) {
        replaceChildren(line, h('span', { class: 'name' }, name), ' ', h('span', { class: 'error' }, describeError(error)));
      }
    };
    void list.reload();
    timers.add(window.setTimeout(poll, POLL_MS));
  }

  // Uppy is only loaded on this view.
  import('./uploader.js')
    .then(({ mountUploader }) => {
      if (left) return;
      dropZone.replaceChildren();
      uploader = mountUploader({
        target: dropZone,
        folderId,
        onUploaded: follow,
        onFailed: (name, message) => announce(`${name}: the upload failed: ${message}`, 'error'),
      });
    })
    .catch((error) => replaceChildren(dropZone, h('p', { class: 'error' }, `The uploader could not load: ${describeError(error)}`)));

  return () => {
    left = true;
    for (const timer of timers) clearTimeout(timer);
    uploader?.destroy();
  };
}

function uploadRow(upload: Upload, changed: () => void): HTMLElement {
  const name = upload.name;
  const act = apiActions(name, changed);
  const id = encodeURIComponent(upload.id);
  const actions: HTMLElement[] = [];
  if (upload.deleted_at) {
    actions.push(act('Recover', 'POST', `/uploads/${id}/recover`, 'recovered from the trash'));
  } else {
    if (upload.status === 'pending') actions.push(act('Cancel', 'POST', `/uploads/${id}/cancel`, 'cancelled'));
    if (upload.status === 'pending' || upload.status === 'failed')
      actions.push(act('Retry', 'POST', `/uploads/${id}/retry`, 'queued for another check'));
    if (upload.status === 'confirmed') {
      actions.push(
        actionButton(
          'Download',
          async () => {
            try {
              const { url } = await api<{ url: string }>(`/uploads/${id}/download-url`);
              download(url, name);
            } catch (error) {
              announce(`${name}: ${describeError(error)}`, 'error');
            }
          },
          { 'aria-label': `Download ${name}` },
        ),
      );
    }
    if (upload.status === 'confirmed' || upload.status === 'failed')
      actions.push(act('Delete', 'DELETE', `/uploads/${id}`, 'moved to the trash'));
  }
  return h(
    'li',
    { class: 'row', 'data-upload-id': upload.id },
    h('div', { class: 'row-main' }, h('span', { class: 'name' }, name), ' ', badge(upload.deleted_at ? 'in trash' : upload.status)),
    h(
      'p',
      { class: 'meta' },
      formatBytes(upload.size_bytes),
      ' · ',
      upload.detected_content_type ?? upload.content_type ?? 'unknown type',
      ' · ',
      time(upload.created_at),
      upload.failure_reason ? ` · ${upload.failure_reason}` : '',
      upload.file_id ? ' · ' : '',
      upload.file_id ? h('a', { href: href('file', { id: upload.file_id }) }, 'its file') : '',
    ),
    actions.length ? h('div', { class: 'actions' }, ...actions) : null,
  );
}

export function badge(status: string): HTMLElement {
  return h('span', { class: `badge badge-${status.replace(/\s+/g, '-')}` }, status);
}
