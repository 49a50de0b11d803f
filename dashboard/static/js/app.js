// The single-page shell: sign-in state, hash routes, the language switch and live polling.
import { api, features, session, signOut } from './api.js';
import { apply, lang, setLang, t } from './i18n.js';
import { html, mount } from './dom.js';

const POLL_MS = 10_000;
const app = document.getElementById('app');
let current = null; // { page, timer, view }
let generation = 0;

// Routes: a hash pattern, the page module, whether researchers (exports only) may open it, and
// whether only admins may (the API refuses the others anyway; the page is not even offered).
const ROUTES = [
  { re: /^#\/signin$/, page: 'signin', open: true },
  { re: /^#\/export$/, page: 'export', research: true },
  { re: /^#\/farm\/([^/]+)$/, page: 'farm' },
  { re: /^#\/forest\/([^/]+)$/, page: 'forest' },
  { re: /^#\/factory\/([^/]+)$/, page: 'factory' },
  { re: /^#\/registry$/, page: 'registry' },
  { re: /^#\/notifications$/, page: 'notifications' },
  { re: /^#\/alerts$/, page: 'alerts' },
  { re: /^#\/research$/, page: 'research', admin: true },
  { re: /^#\/(field|stand|bin)\/([^/]+)\/([^/]+)$/, page: 'entry' },
  { re: /^#\/?$/, page: 'overview' },
];

async function whoami() {
  if (!session.me && session.key) session.me = await api('/whoami');
  return session.me;
}

function chrome() {
  const me = session.me;
  document.getElementById('nav').hidden = !me;
  document.getElementById('signout').hidden = !me;
  const who = document.getElementById('who');
  who.hidden = !me;
  if (me) who.textContent = `${me.tenant} · ${t(`role.${me.role}`)}`;
  for (const a of document.querySelectorAll('[data-nav]')) {
    const researchOnly = a.dataset.nav === 'export';
    a.hidden = me?.role === 'researcher' ? !researchOnly : researchOnly;
    if (a.dataset.nav === 'registry' && !features.has('registry')) a.hidden = true;
    if (a.dataset.nav === 'research' && (me?.role !== 'admin' || !features.has('research'))) {
      a.hidden = true;
    }
  }
  apply(document);
  document.title = t('app.title');
}

function stop() {
  if (!current) return;
  clearInterval(current.timer);
  current.view?.dispose?.();
  current = null;
}

/** Render the page the hash names; pages are loaded on first use. */
async function route() {
  const mine = ++generation;
  stop();
  const hash = location.hash || '#/';
  const found = ROUTES.map((r) => ({ r, m: hash.match(r.re) })).find((x) => x.m);
  if (!found) { location.hash = '#/'; return; }
  let me = null;
  if (!found.r.open) {
    if (!session.key) { location.hash = '#/signin'; return; }
    try {
      me = await whoami();
    } catch (err) {
      if (mine !== generation) return;
      if (err.status === 401) { location.hash = '#/signin'; return; }
      chrome();
      mount(app, html`<p class="error" role="alert">${t('error.load')}</p>`);
      return;
    }
    if (me.role === 'researcher' && !found.r.research) { location.hash = '#/export'; return; }
    if (found.r.admin && me.role !== 'admin') { location.hash = '#/'; return; }
    // A prefecture key may read no tenant page: its list is the shared one.
    if (me.role === 'prefecture') { location.href = '/status'; return; }
  }
  if (mine !== generation) return;
  chrome();
  const highlighted = {
    export: 'export', registry: 'registry', entry: 'registry', notifications: 'notifications',
    alerts: 'alerts', research: 'research',
  }[found.r.page] || 'overview';
  for (const a of document.querySelectorAll('[data-nav]')) {
    a.classList.toggle('active', a.dataset.nav === highlighted);
  }
  const module = await import(`./pages/${found.r.page}.js`);
  if (mine !== generation) return;
  app.dataset.page = found.r.page;
  let params;
  try { params = found.m.slice(1).map(decodeURIComponent); } catch { location.hash = '#/'; return; }
  const view = await module.render(app, params, { me, features });
  if (mine !== generation) { view?.dispose?.(); return; }
  current = { page: found.r.page, view, timer: null };
  if (view?.poll) {
    // Polling pauses while the tab is hidden and catches up when it is shown again.
    current.timer = setInterval(() => {
      if (!document.hidden) view.poll().catch(() => {});
    }, POLL_MS);
  }
}

document.getElementById('lang').addEventListener('click', () => {
  setLang(lang() === 'ja' ? 'en' : 'ja');
});
document.getElementById('signout').addEventListener('click', () => {
  signOut();
  location.hash = '#/signin';
});
window.addEventListener('shinshu:lang', () => { chrome(); route(); });
window.addEventListener('shinshu:signedout', () => { location.hash = '#/signin'; });
window.addEventListener('hashchange', route);
document.addEventListener('visibilitychange', () => {
  if (!document.hidden && current?.view?.poll) current.view.poll().catch(() => {});
});

apply(document);
route();
// The service worker shows pushed alerts; the page works the same without it.
if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js').catch(() => {});
