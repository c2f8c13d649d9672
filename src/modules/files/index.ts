import type { Module, ModuleDeps } from '../module.js';

/** Files: versioned documents whose versions form a chain of content ids. */
export function filesModule(_deps: ModuleDeps): Module {
  return { name: 'files', prefix: '/api/v1/files' };
}
