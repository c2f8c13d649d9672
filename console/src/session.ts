/**
 * The API key of this tab. It lives in sessionStorage only: it goes with the tab, is never shared
 * with other tabs, and is never written to localStorage or a cookie.
 */
const KEY = 'stowage.apiKey';

export const session = {
  key(): string | null {
    return sessionStorage.getItem(KEY);
  },
  signIn(key: string): void {
    sessionStorage.setItem(KEY, key);
  },
  signOut(): void {
    sessionStorage.removeItem(KEY);
  },
};
