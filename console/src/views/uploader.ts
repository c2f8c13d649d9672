import Uppy, { type UppyFile } from '@uppy/core';
import Dashboard from '@uppy/dashboard';
import Tus from '@uppy/tus';
import { session } from '../session.js';

type Meta = { filename?: string; filetype?: string; folder_id?: string };
type Body = Record<string, never>;

export interface Uploader {
  destroy(): void;
}

interface UploaderOptions {
  target: HTMLElement;
  folderId: string | null;
  /** A file's bytes all arrived: its upload's id (the tus id is the upload's id) and name. */
  onUploaded: (uploadId: string, name: string) => void;
  onFailed: (name: string, message: string) => void;
}

/**
 * Uppy's Dashboard (drag and drop, per-file progress) over the tus endpoint. Each file is one tus
 * upload whose metadata is exactly what the endpoint reads: filename, filetype and, when the view
 * has one, folder_id.
 */
export function mountUploader(options: UploaderOptions): Uploader {
  const uppy = new Uppy<Meta, Body>({ autoProceed: false, allowMultipleUploadBatches: true });
  uppy.use(Dashboard, {
    inline: true,
    target: options.target,
    width: '100%',
    height: 320,
    theme: 'auto',
    proudlyDisplayPoweredByUppy: false,
    note: options.folderId ? 'Files go into the folder named above.' : 'Files are kept as uploads; give them a folder from the Files view.',
  });
  uppy.use(Tus, {
    endpoint: '/api/v1/tus',
    headers: () => ({ 'X-API-Key': session.key() ?? '' }),
    // The key is per tab; tus-js-client keeps resume fingerprints in localStorage, and they go once a file is done.
    removeFingerprintOnSuccess: true,
    retryDelays: [0, 1000, 3000, 5000],
    limit: 3,
  });
  uppy.on('file-added', (file: UppyFile<Meta, Body>) => {
    const meta: Meta = { filename: file.name ?? 'upload', filetype: file.type || 'application/octet-stream' };
    if (options.folderId) meta.folder_id = options.folderId;
    uppy.setFileMeta(file.id, meta);
    uppy.setFileState(file.id, { tus: { allowedMetaFields: Object.keys(meta) } });
  });
  uppy.on('upload-success', (file, response) => {
    const id = response.uploadURL?.split('/').pop();
    if (file && id) options.onUploaded(decodeURIComponent(id), file.name ?? id);
  });
  uppy.on('upload-error', (file, error) => {
    options.onFailed(file?.name ?? 'a file', error.message);
  });
  return { destroy: () => uppy.destroy() };
}
