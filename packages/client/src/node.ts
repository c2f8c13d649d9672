/**
 * @stowage/client/node: moving files between disk and a Stowage server, for Node only. The API
 * client itself comes from `@stowage/client` (createStowageClient).
 */
export {
  type DownloadFileOptions,
  type DownloadOptions,
  type DownloadProgress,
  type Downloaded,
  downloadFile,
  downloadToStream,
} from './node/download.js';
export { hashFile } from './node/hash.js';
export type { UploadProgress } from './node/progress.js';
export { defaultStateDir } from './node/resume-state.js';
export { DEFAULT_PART_SIZE, type UploadFileOptions, uploadFile } from './node/upload.js';
