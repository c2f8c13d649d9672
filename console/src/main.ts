import { whenKeyRefused } from './api.js';
import { announce, h, replaceChildren } from './dom.js';
import { currentRoute, go } from './router.js';
import { session } from './session.js';
import { signInView } from './views/sign-in.js';
import { VIEWS, type View } from './views/index.js';

const SECTIONS: [view: string, label: string][] = [
  ['uploads', 'Uploads'],
  ['files', 'Files'],
  ['parts', 'Parts'],
  ['readings', 'Readings'],
  ['search', 'Search'],
];
/** Views reached from a section's list belong to that section in the navigation. */
const SECTION_OF: Record<string, string> = { file: 'files', part: 'parts' };

const main = document.getElementById('main') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;
let leave: (() => void) | void = undefined;

function show() {
  if (leave) leave();
  leave = undefined;
  if (!session.key()) {
    nav.hidden = true;
    leave = signInView(main, () => show());
    return;
  }
  const route = currentRoute();
  const view: View | undefined = VIEWS[route.view];
  if (!view) {
    go('uploads');
    return;
  }
  renderNav(SECTION_OF[route.view] ?? route.view);
  main.replaceChildren();
  leave = view(main, route.params);
  // The new view's heading, so keyboard and screen-reader users start at the top of what changed.
  const heading = main.querySelector('h1');
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
}

function renderNav(active: string) {
  nav.hidden = false;
  const links = SECTIONS.map(([view, label]) =>
    h('li', {}, h('a', { href: `#/${view}`, 'aria-current': view === active ? 'page' : null }, label)),
  );
  const signOut = h('button', { type: 'button', class: 'secondary' }, 'Sign out');
  signOut.addEventListener('click', () => {
    session.signOut();
    announce('Signed out. The key is gone from this tab.');
    show();
  });
  replaceChildren(nav, h('ul', {}, ...links), signOut);
}

whenKeyRefused((error) => {
  session.signOut();
  show();
  announce(`Signed out: ${error.message}`, 'error');
});

document.querySelector('.skip-link')?.addEventListener('click', (event) => {
  // The hash is the router's: move focus instead of following the link.
  event.preventDefault();
  main.focus();
});

window.addEventListener('hashchange', show);
show();
