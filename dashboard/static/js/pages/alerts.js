// The alert inbox: every kind of alert of the tenant, filtered by site, kind and state;
// operators and admins acknowledge or resolve each with a note of what they saw or did.
import { api, canAcknowledge, tenantPath } from '../api.js';
import { html, mount } from '../dom.js';
import { dateTime } from '../format.js';
import { lang, t } from '../i18n.js';
import { errorText } from '../forms.js';
import { sites as listSites } from '../sites.js';

const KINDS = [
  'offline', 'spool_dropping', 'sensor_silent', 'sensor_stuck', 'threshold', 'drop',
  'count_jump', 'spike', 'flat_line', 'drift', 'dead_cell', 'pilferage', 'temperature_drift',
  'reorder', 'quantity_discrepancy', 'harvest_window',
  'landslide_risk', 'landslide_danger',
  'frost_risk', 'scab_infection',
];
const STATES = ['open', 'acknowledged', 'resolved', 'all'];

function reason(a) {
  const text = lang() === 'ja' ? (a.reason_ja || a.reason) : a.reason;
  return text ? html`<p class="alert-reason">${text}</p>` : '';
}

function handled(a) {
  const parts = [];
  if (a.acknowledged_at) {
    parts.push(html`<p class="small" data-handled="acknowledged">${t('inbox.acknowledgedBy', { when: dateTime(a.acknowledged_at), who: a.acknowledged_by })}${a.acknowledged_note ? ` — ${a.acknowledged_note}` : ''}</p>`);
  }
  if (a.resolved_at) {
    parts.push(html`<p class="small" data-handled="resolved">${t('inbox.resolvedBy', { when: dateTime(a.resolved_at), who: a.resolved_by })}${a.resolution_note ? ` — ${a.resolution_note}` : ''}</p>`);
  }
  return parts;
}

function actions(a) {
  if (!canAcknowledge() || a.state === 'resolved') return '';
  return html`<form class="inbox-actions" data-for="${a.id}">
    <label>${t('inbox.note')} <input name="note" maxlength="1000" autocomplete="off"></label>
    ${a.state === 'open' ? html`<button type="submit" value="acknowledge">${t('alerts.acknowledge')}</button>` : ''}
    <button type="submit" value="resolve">${t('inbox.resolve')}</button>
    <p class="small error" role="alert" data-slot="error"></p>
  </form>`;
}

function item(a) {
  const kind = KINDS.includes(a.kind) ? t(`alertkind.${a.kind}`) : a.kind;
  return html`<li class="card alert kind-${a.kind}" data-alert-id="${a.id}" data-state="${a.state}">
    <div class="alert-head"><strong>${kind}</strong>
      <span class="badge">${t(`inbox.state.${a.state}`)}</span></div>
    <div class="alert-where" translate="no">${a.site} / ${a.device} / ${a.sensor}</div>
    ${reason(a)}
    <p class="small"><time datetime="${a.raised_at}">${dateTime(a.raised_at)}</time></p>
    ${handled(a)}
    ${actions(a)}
  </li>`;
}

function select(name, options, chosen) {
  return html`<label>${t(`inbox.${name}`)}
    <select name="${name}">${options.map(([value, label]) => html`<option value="${value}" ${value === chosen ? html`selected` : ''}>${label}</option>`)}</select></label>`;
}

/** The inbox page. */
export async function render(root) {
  const filters = { state: 'open', site: '', kind: '' };
  const siteList = await listSites();
  mount(root, html`
    <h1>${t('inbox.title')}</h1>
    <form id="inbox-filters" class="filters">
      ${select('state', STATES.map((s) => [s, t(`inbox.state.${s}`)]), filters.state)}
      ${select('site', [['', t('inbox.allSites')], ...siteList.map((s) => [s.site, s.site])], '')}
      ${select('kind', [['', t('inbox.allKinds')], ...KINDS.map((k) => [k, t(`alertkind.${k}`)])], '')}
    </form>
    <ul class="grid" id="inbox" aria-live="polite"></ul>`);
  const list = root.querySelector('#inbox');
  // A poll never throws away a note someone is writing, not even one begun while it waited.
  const writing = () => [...list.querySelectorAll('input[name="note"]')]
    .some((input) => input.value || input === document.activeElement);
  // Only the newest request's answer is shown: a slower, older one (the list before a filter
  // changed) never replaces it. The list is aria-busy while any request is out.
  let asked = 0;
  let pending = 0;
  const refresh = async ({ poll = false } = {}) => {
    if (poll && writing()) return;
    const params = { state: filters.state, limit: 200 };
    if (filters.site) params.site = filters.site;
    if (filters.kind) params.kind = filters.kind;
    const mine = ++asked;
    pending += 1;
    list.setAttribute('aria-busy', 'true');
    let alerts;
    try {
      alerts = await api(tenantPath('/alerts'), { params });
    } finally {
      pending -= 1;
      if (!pending) list.removeAttribute('aria-busy');
    }
    if (mine !== asked || (poll && writing())) return;
    remount(alerts);
  };
  // Notes typed while the list was being fetched stay with their alerts, and so does the
  // cursor: a note being written keeps its focus and selection.
  const remount = (alerts) => {
    const typed = new Map([...list.querySelectorAll('form[data-for]')]
      .filter((f) => f.elements.note.value).map((f) => [f.dataset.for, f.elements.note.value]));
    const focused = list.contains(document.activeElement) ? document.activeElement : null;
    const focusedFor = focused?.name === 'note' ? focused.form?.dataset.for : undefined;
    const [start, end] = focusedFor ? [focused.selectionStart, focused.selectionEnd] : [0, 0];
    mount(list, alerts.length ? alerts.map(item)
      : html`<li class="empty" data-empty="alerts">${t('inbox.none')}</li>`);
    for (const form of list.querySelectorAll('form[data-for]')) {
      const note = form.elements.note;
      if (typed.has(form.dataset.for)) note.value = typed.get(form.dataset.for);
      if (form.dataset.for === focusedFor) {
        note.focus();
        note.setSelectionRange(start, end);
      }
    }
  };
  root.querySelector('#inbox-filters').addEventListener('change', async (event) => {
    filters[event.target.name] = event.target.value;
    await refresh();
  });
  list.addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.target;
    const action = event.submitter?.value || 'acknowledge';
    const note = form.elements.note.value.trim();
    const error = form.querySelector('[data-slot="error"]');
    if (action === 'resolve' && !note) { error.textContent = t('inbox.noteNeeded'); return; }
    for (const b of form.querySelectorAll('button')) b.disabled = true;
    try {
      await api(tenantPath(`/alerts/${encodeURIComponent(form.dataset.for)}/${action}`), {
        method: 'POST', body: { note },
      });
      await refresh();
    } catch (err) {
      error.textContent = errorText(err);
      for (const b of form.querySelectorAll('button')) b.disabled = false;
    }
  });
  await refresh();
  return { poll: () => refresh({ poll: true }) };
}
