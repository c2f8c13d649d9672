import { fileView, filesView } from './files.js';
import { partView, partsView } from './parts.js';
import { readingsView } from './readings.js';
import { searchView } from './search.js';
import { uploadsView } from './uploads.js';

/** A view draws itself into `main` and answers what to undo when another view replaces it (timers, Uppy). */
export type View = (main: HTMLElement, params: URLSearchParams) => (() => void) | void;

export const VIEWS: Record<string, View> = {
  uploads: uploadsView,
  files: filesView,
  file: fileView,
  parts: partsView,
  part: partView,
  readings: readingsView,
  search: searchView,
};
