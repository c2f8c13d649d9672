import { api, describeError } from './api.js';
import { actionButton, announce } from './dom.js';

/**
 * Buttons that each send one API call about `name` (cancel, retry, delete, recover…), say in the live
 * region how it went, and let the view refresh after a success.
 */
export function apiActions(name: string, changed: () => void) {
  return (label: string, verb: string, path: string, done: string): HTMLButtonElement =>
    actionButton(
      label,
      async () => {
        try {
          await api(path, { method: verb });
          announce(`${name}: ${done}.`);
          changed();
        } catch (error) {
          announce(`${name}: ${describeError(error)}`, 'error');
        }
      },
      { 'aria-label': `${label} ${name}` },
    );
}
