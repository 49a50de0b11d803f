// Research export: choose sites, sensor kinds, a date range and a format; shows the dataset's
// citation and licence from the metadata endpoint, then downloads with the session's key.
// A researcher account (no sites of its own) first chooses a tenant among its grants in force,
// and sees its grants and requests with a form to ask a tenant for more (exportgrants.js).
import { api, seg, session, tenantPath } from '../api.js';
import { html, mount } from '../dom.js';
import { dateTime, number } from '../format.js';
import { t, tOr } from '../i18n.js';
import { grantsCard } from './exportgrants.js';

const DAY_MS = 86_400_000;
// The form survives a language switch (which re-renders the page).
// Kinds are all chosen unless unchecked, so a new range offering new kinds includes them.
// `owner` is the key the choice belongs to; `tenant` an account's chosen tenant.
const state = {
  owner: null, tenant: null, sites: null, excluded: [], start: null, end: null, format: 'csv',
};

function tokyoDate(ms) {
  return new Date(ms + 9 * 3600_000).toISOString().slice(0, 10);
}

/** [start, end) in UTC ISO for the chosen Tokyo dates, the end date included. */
function range() {
  const start = Date.parse(`${state.start}T00:00:00+09:00`);
  const end = Date.parse(`${state.end}T00:00:00+09:00`) + DAY_MS;
  if (Number.isNaN(start) || Number.isNaN(end) || end <= start) return null;
  return { start: new Date(start).toISOString(), end: new Date(end).toISOString() };
}

function params(kinds) {
  const r = range();
  return r && { ...r, site: state.sites, kind: kinds };
}

function metaMarkup(meta) {
  const intervals = [...new Set(meta.series.map((s) => s.sampling_interval_s).filter((v) => v))];
  return html`<dl class="facts" id="metadata" data-dataset="${meta.dataset_id}">
    <div><dt>${t('export.title')}</dt><dd translate="no">${meta.title}</dd></div>
    <div><dt>${t('export.licence')}</dt><dd data-field="licence" translate="no">${meta.licence}</dd></div>
    <div><dt>${t('export.datasetId')}</dt><dd translate="no"><code>${meta.dataset_id}</code></dd></div>
    <div><dt>${t('export.range')}</dt><dd>${dateTime(meta.start)} – ${dateTime(meta.end)}</dd></div>
    <div><dt>${t('export.series')}</dt><dd>${meta.series.length}</dd></div>
    <div><dt>${t('export.interval')}</dt><dd>${intervals.length ? intervals.map((s) => t('unit.seconds', { n: number(s, 0) })).join(', ') : '–'}</dd></div>
  </dl>
  <h3>${t('export.citation')}</h3>
  <blockquote class="citation" data-field="citation" translate="no">${meta.citation}</blockquote>`;
}

function pickerMarkup(reach) {
  return html`<fieldset><legend>${t('export.tenant')}</legend>
    <select name="tenant" id="tenant" translate="no">${reach.map((r) => html`
      <option value="${r.tenant}" ${r.tenant === state.tenant ? html`selected` : ''}>${r.tenant}</option>`)}</select></fieldset>`;
}

function formMarkup(sites, picker) {
  return html`
    <form id="export" class="card" novalidate>
      ${picker}
      <fieldset><legend>${t('export.sites')}</legend><div class="checks">${sites.map((s) => html`
        <label><input type="checkbox" name="site" value="${s}" ${state.sites.includes(s) ? html`checked` : ''}> ${s}</label>`)}</div></fieldset>
      <fieldset><legend>${t('export.rangeLegend')}</legend><div class="row">
        <label>${t('export.from')} <input type="date" name="start" value="${state.start}" min="2000-01-01" max="2099-12-31"></label>
        <label>${t('export.to')} <input type="date" name="end" value="${state.end}" min="2000-01-01" max="2099-12-31"></label>
      </div></fieldset>
      <fieldset><legend>${t('export.kinds')}</legend><div class="checks" id="kinds"><span class="muted">${t('common.loading')}</span></div></fieldset>
      <fieldset><legend>${t('export.format')}</legend><div class="row">
        <label><input type="radio" name="format" value="csv" ${state.format === 'csv' ? html`checked` : ''}> CSV</label>
        <label><input type="radio" name="format" value="parquet" ${state.format === 'parquet' ? html`checked` : ''}> Parquet</label>
      </div></fieldset>
      <p class="error" id="export-error" role="alert" hidden></p>
      <button type="submit" class="primary" id="download">${t('export.download')}</button>
      <p class="muted small" id="progress" aria-live="polite"></p>
    </form>
    <section class="card"><h2>${t('export.metadata')}</h2><div id="meta"><p class="muted">${t('common.loading')}</p></div></section>`;
}

/** Start a new choice when another key signs in: its sites are not the last key's. */
function own(me) {
  if (state.owner === me.key_id) return;
  Object.assign(state, { owner: me.key_id, tenant: null, sites: null, excluded: [] });
}

/** The export page. */
export async function render(root, _params, { me }) {
  if (me.role !== 'researcher') {
    mount(root, html`<h1>${t('export.heading')}</h1><p class="empty" data-empty="export">${t('export.researchersOnly')}</p>`);
    return null;
  }
  own(me);
  state.end ??= tokyoDate(Date.now());
  state.start ??= tokyoDate(Date.now() - 6 * DAY_MS);
  if (me.account) return renderAccount(root);
  state.sites ??= [...me.sites];
  mount(root, html`<h1>${t('export.heading')}</h1>${formMarkup(me.sites, '')}`);
  return wireExport(root, { path: tenantPath });
}

/** An account's page: a tenant among its grants in force, then the same form, then its grants. */
async function renderAccount(root) {
  // Grants change while an account is signed in: what it may read now is asked afresh.
  let me;
  try {
    me = await api('/whoami');
  } catch {
    mount(root, html`<h1>${t('export.heading')}</h1><p class="error" role="alert">${t('error.load')}</p>`);
    return null;
  }
  session.me = me;
  const reach = me.reach || [];
  mount(root, html`<h1>${t('export.heading')}</h1><div id="export-box"></div><div id="grants-box"></div>`);
  const box = root.querySelector('#export-box');
  let current = null;
  const draw = async (tenant) => {
    current?.dispose();
    const found = reach.find((r) => r.tenant === tenant) || reach[0];
    if (!found) {
      mount(box, html`<p class="card empty" data-empty="grants">${t('export.noGrants')}</p>`);
      current = null;
      return;
    }
    if (state.tenant !== found.tenant) {
      state.tenant = found.tenant;
      state.sites = [...found.sites];
    }
    // A grant may have narrowed or ended since the choice was made.
    state.sites = (state.sites ?? found.sites).filter((s) => found.sites.includes(s));
    mount(box, formMarkup(found.sites, pickerMarkup(reach)));
    const path = (rest) => `/tenants/${seg(found.tenant)}${rest}`;
    current = await wireExport(box, { path, onTenant: draw });
  };
  await Promise.all([draw(state.tenant), grantsCard(root.querySelector('#grants-box'))]);
  return { dispose: () => current?.dispose() };
}

/** Wire the export form under `root`; `path(rest)` names the tenant's route, `onTenant` a new choice. */
async function wireExport(root, { path, onTenant }) {
  const form = root.querySelector('#export');
  const error = root.querySelector('#export-error');
  const show = (text) => { error.textContent = text; error.hidden = !text; };
  let available = [];
  let offered = null;
  let seq = 0;
  const chosenKinds = () => available.map((k) => k.kind).filter((k) => !state.excluded.includes(k));

  const loadMeta = async () => {
    const mine = ++seq;
    const all = params(null);
    if (!all) { show(t('export.badRange')); return; }
    if (!state.sites.length) { show(t('export.noSites')); return; }
    show('');
    try {
      const everything = await api(path('/exports/metadata'), { params: all });
      if (mine !== seq) return;
      available = everything.kinds;
      // Redrawn only when the kinds on offer change, never under the user's fingers.
      const offer = available.map((k) => k.kind).join(',');
      if (offer !== offered) {
        offered = offer;
        mount(root.querySelector('#kinds'), available.length ? available.map((k) => html`
          <label><input type="checkbox" name="kind" value="${k.kind}" ${state.excluded.includes(k.kind) ? '' : html`checked`}> ${tOr(`sensorkind.${k.kind}`, k.kind)} (${k.unit})</label>`)
          : html`<span class="empty">${t('export.noData')}</span>`);
      }
      const chosen = chosenKinds();
      if (available.length && !chosen.length) { show(t('export.noKinds')); return; }
      const meta = chosen.length === available.length ? everything
        : await api(path('/exports/metadata'), { params: params(chosen.length ? chosen : null) });
      if (mine !== seq) return;
      mount(root.querySelector('#meta'), metaMarkup(meta));
    } catch (err) {
      if (mine === seq) show(t('error.load'));
    }
  };

  let timer = null;
  form.addEventListener('change', (event) => {
    if (event.target.name === 'tenant') { onTenant?.(event.target.value); return; }
    const data = new FormData(form);
    state.sites = data.getAll('site');
    state.start = data.get('start');
    state.end = data.get('end');
    state.format = data.get('format');
    if (event.target.name === 'kind') {
      const checked = data.getAll('kind');
      state.excluded = available.map((k) => k.kind).filter((k) => !checked.includes(k));
    }
    clearTimeout(timer);
    timer = setTimeout(loadMeta, 250);
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!available.length) { show(t('export.noData')); return; }
    const kinds = chosenKinds();
    if (!kinds.length) { show(t('export.noKinds')); return; }
    const query = params(kinds.length < available.length ? kinds : null);
    if (!query || !state.sites.length) return;
    const button = form.querySelector('#download');
    const progress = form.querySelector('#progress');
    button.disabled = true;
    try {
      const response = await api(path(`/exports/readings.${state.format}`), { params: query, raw: true });
      // Read in chunks to show progress; the file is handed over once complete.
      const reader = response.body.getReader();
      const parts = [];
      let size = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parts.push(value);
        size += value.length;
        progress.textContent = t('export.received', { n: number(size / 1024, 0) });
      }
      const name = /filename="([^"]+)"/.exec(response.headers.get('Content-Disposition') || '')?.[1]
        || `shinshu.${state.format}`;
      const link = document.createElement('a');
      link.href = URL.createObjectURL(new Blob(parts, { type: response.headers.get('Content-Type') || '' }));
      link.download = name;
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
      progress.textContent = t('export.done', { name, n: number(size / 1024, 0) });
    } catch {
      show(t('error.load'));
    } finally {
      button.disabled = false;
    }
  });

  await loadMeta();
  return { dispose: () => clearTimeout(timer) };
}
