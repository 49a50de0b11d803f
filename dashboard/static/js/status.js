// The public disaster page: every shared site's landslide level, without signing in.
import { apply, lang, setLang, t } from './i18n.js';
import { dateTime } from './format.js';

const REFRESH_MS = 60_000;
let sites = [];

/** The level's name in the chosen language; a site without a gauge reading has none. */
function levelText(level) {
  const names = {
    none: t('disaster.level.none'),
    caution: t('disaster.level.caution'),
    warning: t('disaster.level.warning'),
    danger: t('disaster.level.danger'),
  };
  return level ? names[level] : t('disaster.noData');
}

/** One table cell with text (never HTML: the values come from the tenants). */
function cell(text, className = '') {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** Draw the table from the last answer. */
function render() {
  const body = document.getElementById('sites');
  body.replaceChildren();
  if (!sites.length) {
    const row = document.createElement('tr');
    const td = cell(t('disaster.empty'), 'empty');
    td.colSpan = 5;
    row.append(td);
    body.append(row);
    return;
  }
  for (const site of sites) {
    const row = document.createElement('tr');
    const where = site.latitude == null ? '' : `${site.latitude.toFixed(4)}, ${site.longitude.toFixed(4)}`;
    row.append(
      cell(site.municipality || site.tenant),
      cell(site.site),
      cell(where),
      cell(levelText(site.level), `level-${site.level || 'unknown'}`),
      cell(site.at ? dateTime(site.at) : ''),
    );
    row.children[0].translate = false;
    row.children[1].translate = false;
    body.append(row);
  }
}

/** Fetch the shared list and redraw; a failure is shown, and tried again later. */
async function load() {
  const updated = document.getElementById('updated');
  try {
    const response = await fetch('/api/v1/public/disaster', { headers: { Accept: 'application/json' } });
    if (!response.ok) throw new Error(String(response.status));
    sites = await response.json();
    render();
    updated.textContent = t('disaster.updated', { time: dateTime(new Date().toISOString()) });
  } catch {
    updated.textContent = t('disaster.failed');
  }
}

document.getElementById('lang').addEventListener('click', () => setLang(lang() === 'ja' ? 'en' : 'ja'));
window.addEventListener('shinshu:lang', () => { apply(); render(); });
apply();
load();
setInterval(load, REFRESH_MS);
