import { ApiError, api, describeError } from '../api.js';
import { announce, h, replaceChildren } from '../dom.js';
import { session } from '../session.js';

/** The sign-in form: the key is tried against the API, and kept for this tab only when it is accepted. */
export function signInView(main: HTMLElement, signedIn: () => void): void {
  const input = h('input', {
    id: 'api-key',
    name: 'api-key',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'aria-describedby': 'api-key-help sign-in-error',
  });
  const error = h('p', { id: 'sign-in-error', class: 'error', role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const form = h(
    'form',
    { class: 'card sign-in', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title' }, 'Sign in'),
    h('label', { for: 'api-key' }, 'API key'),
    input,
    h(
      'p',
      { id: 'api-key-help', class: 'help' },
      'A key looks like stw_…. It is kept in this tab only (sessionStorage) and forgotten when you sign out or close the tab.',
    ),
    error,
    submit,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) return;
    submit.disabled = true;
    replaceChildren(error);
    try {
      await checkKey(key);
      session.signIn(key);
      announce('Signed in.');
      signedIn();
    } catch (failure) {
      replaceChildren(error, `Sign-in failed: ${describeError(failure)}`);
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    } finally {
      submit.disabled = false;
    }
  });
  replaceChildren(main, form);
  input.focus();
}

/** A key is good when the API knows it: a 403 still means a real key, one without the uploads scope. */
async function checkKey(key: string): Promise<void> {
  try {
    await api('/uploads', { key, query: { limit: 1 } });
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) return;
    throw error;
  }
}
