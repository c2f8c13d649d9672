import { describeError } from '../api.js';
import { announce, h, replaceChildren } from '../dom.js';
import type { Preview } from '../types.js';

const POLL_MS = 2000;

const FAILED_BECAUSE: Record<string, string> = {
  unreadable: 'the file is not a valid model of its format',
  empty_model: 'the model holds no geometry',
  unsupported: 'this format or feature is not converted',
  timeout: 'the conversion took too long',
  memory_limit: 'the conversion needed too much memory',
  crashed: 'the converter crashed',
  upload_failed: 'the upload failed',
  upload_cancelled: 'the upload was cancelled',
};

/**
 * The 3D preview of a part or dataset in `box`: <model-viewer> on the GLB once the API says `ok`,
 * asking again every 2 s while it is `pending`. model-viewer (three.js) is loaded only here.
 * Answers a function that stops the polling.
 */
export function showPreview(box: HTMLElement, label: string, fetchPreview: () => Promise<Preview>): () => void {
  let stopped = false;
  let timer = 0;
  box.dataset.state = 'loading';
  replaceChildren(box, h('p', {}, 'Asking for the preview…'));

  const settle = (state: string, ...content: (Node | string)[]) => {
    box.dataset.state = state;
    replaceChildren(box, ...content);
  };

  const ask = async () => {
    if (stopped) return;
    let preview: Preview;
    try {
      preview = await fetchPreview();
    } catch (error) {
      settle('error', h('p', { class: 'error' }, `The preview cannot be shown: ${describeError(error)}`));
      return;
    }
    if (stopped) return;
    if (preview.status === 'pending') {
      settle(
        'pending',
        h('p', {}, h('span', { class: 'badge badge-pending' }, 'pending'), ' The preview is being made; this view updates by itself.'),
      );
      timer = window.setTimeout(ask, POLL_MS);
      return;
    }
    if (preview.status === 'failed') {
      const why = preview.reason ? (FAILED_BECAUSE[preview.reason] ?? preview.reason) : 'no reason given';
      settle('failed', h('p', {}, h('span', { class: 'badge badge-failed' }, 'failed'), ` No preview: ${why}.`));
      announce(`The 3D preview of ${label} failed: ${why}.`, 'error');
      return;
    }
    if (preview.status === 'no_dataset' || !preview.url) {
      settle('none', h('p', {}, 'Nothing to preview: no 3D model is linked here.'));
      return;
    }
    await showModel(box, label, preview.url, () => stopped);
  };
  void ask();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

async function showModel(box: HTMLElement, label: string, url: string, stopped: () => boolean) {
  try {
    await import('@google/model-viewer');
  } catch (error) {
    box.dataset.state = 'error';
    replaceChildren(box, h('p', { class: 'error' }, `The 3D viewer could not load: ${describeError(error)}`));
    return;
  }
  if (stopped()) return;
  const viewer = document.createElement('model-viewer');
  viewer.setAttribute('src', url);
  viewer.setAttribute('alt', `3D preview of ${label}`);
  viewer.setAttribute('camera-controls', '');
  viewer.setAttribute('loading', 'eager');
  viewer.setAttribute('reveal', 'auto');
  viewer.setAttribute('touch-action', 'pan-y');
  viewer.setAttribute('interaction-prompt', 'none');
  // From above and to the side, so a part looks like a solid at first sight rather than a flat face.
  viewer.setAttribute('camera-orbit', '35deg 65deg auto');
  viewer.className = 'model';
  viewer.addEventListener('load', () => {
    box.dataset.state = 'loaded';
    announce(`3D preview of ${label} loaded. Drag or use the arrow keys to turn it.`);
  });
  viewer.addEventListener('error', () => {
    box.dataset.state = 'error';
    box.append(h('p', { class: 'error' }, 'The 3D model could not be displayed (its link may have expired: reload the page).'));
  });
  box.dataset.state = 'viewer';
  replaceChildren(
    box,
    viewer,
    h('p', { class: 'help' }, 'Drag to turn, scroll or pinch to zoom; with the viewer focused, the arrow keys turn it.'),
  );
}
