import type { Module, ModuleDeps } from '../module.js';

/** Folders that files live in: nested, named uniquely among siblings. */
export function foldersModule(_deps: ModuleDeps): Module {
  return { name: 'folders', prefix: '/api/v1/folders' };
}
