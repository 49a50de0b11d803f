// One field, stand or bin: the readings of the device attached to it, charted, with the work
// records of the same days beside them and a quick form to enter one (operators and admins).
import { canManageAssets } from '../api.js';
import { html, mount } from '../dom.js';
import { t } from '../i18n.js';
import { devices, RANGES } from '../sites.js';
import { conditionsMarkup, latestOf, newestMs, rangePicker, sensorChart } from '../conditions.js';
import { clearErrors, errorText, showErrors } from '../forms.js';
import {
  ENTRY_OF_SITE, attachedSensors, entriesOf, entryFacts, entryName, entrySummary, loadRegistry,
  siteName,
} from '../assets.js';
import {
  DEFAULT_KIND, KINDS_OF_ENTRY, addRecord, loadRecords, recordBody, recordFormMarkup, recordList, voidRecord,
} from '../records.js';

const DAY_MS = 86_400_000;
const TOKYO_MS = 9 * 3600_000;
const HEADINGS = { field: () => t('reg.field'), stand: () => t('reg.stand'), bin: () => t('reg.bin') };
const SITE_PAGES = { field: 'farm', stand: 'forest', bin: 'factory' };
// The record kind chosen last on each kind of entry, kept across re-renders (language switch).
const chosenKind = {};

/** Tokyo midnight at or before `ms`. */
function dayStart(ms) {
  return Math.floor((ms + TOKYO_MS) / DAY_MS) * DAY_MS - TOKYO_MS;
}

// The channels that measure the entry, with their kinds, from the device's catalogue.
function picksOf(kind, entry, devs) {
  const device = devs.find((d) => d.device === entry.device);
  if (!device) return { device: null, picks: [] };
  const named = attachedSensors(kind, entry);
  const sensors = device.sensors.filter((s) => !named.length || named.includes(s.sensor));
  return {
    device: { ...device, sensors },
    picks: sensors.map((s) => ({ device: device.device, sensor: s.sensor, kind: s.kind })),
  };
}

function byKind(picks) {
  const groups = new Map();
  for (const p of picks) {
    if (!groups.has(p.kind)) groups.set(p.kind, []);
    groups.get(p.kind).push(p);
  }
  return [...groups.entries()];
}

/** The page of entry `asset` (a `kind`: field, stand or bin) of `site`. */
export async function render(root, [kind, site, asset]) {
  const canEdit = canManageAssets();
  mount(root, html`<p class="muted">${t('common.loading')}</p>`);
  const registry = await loadRegistry();
  const siteEntry = registry.sites.find((s) => s.site === site);
  const entry = entriesOf(registry, site, kind).find((e) => e.asset === asset);
  if (!entry || !siteEntry || ENTRY_OF_SITE[siteEntry.kind] !== kind) {
    mount(root, html`<p class="crumb"><a href="#/registry">${t('nav.registry')}</a></p>
      <h1>${t('reg.notFound')}</h1><p class="empty" data-empty="entry">${t('reg.notFoundHelp')}</p>`);
    return null;
  }
  mount(root, html`
    <p class="crumb"><a href="#/">${t('nav.overview')}</a> ›
      <a href="#/${SITE_PAGES[kind]}/${encodeURIComponent(site)}" translate="no">${siteName(siteEntry)}</a> ›
      <a href="#/registry">${t('nav.registry')}</a></p>
    <h1><span class="muted small">${HEADINGS[kind]()}</span> <span translate="no">${entryName(entry)}</span></h1>
    <p class="small">${entry.device ? html`${t('reg.measuredBy')} <span translate="no" data-device="${entry.device}">${entry.device}</span>`
        : html`<span data-attached="">${t('reg.notAttached')}</span>`}</p>
    <details class="card entry-facts"><summary>${t('entry.facts')} · ${entrySummary(kind, entry)}</summary>${entryFacts(kind, entry)}</details>
    <div class="entry-layout">
      <section class="card" id="readings"><h2>${t('entry.readings')}</h2>
        <div id="latest"><p class="muted">${t('common.loading')}</p></div>
        <div id="ranges"></div>
        <div id="charts"></div>
        <p class="muted small">${t('chart.help')} ${t('entry.markerHelp')}</p>
      </section>
      <section class="card" id="records"><h2>${t('entry.records')}</h2>
        ${canEdit ? html`<div id="record-form-box"></div>` : ''}
        <p class="muted small" id="records-range"></p>
        <div id="record-list"><p class="muted">${t('common.loading')}</p></div>
      </section>
    </div>`);

  let devs = await devices(site);
  let chosen = picksOf(kind, entry, devs);
  const newestOf = (c) => (c.device && newestMs([c.device]) > 0 ? newestMs([c.device]) : Date.now());
  let end = newestOf(chosen);
  let range = '7d';
  let records = [];
  const charts = [];
  const markers = () => records.filter((r) => !r.voided_by)
    .map((r) => ({ x: Date.parse(r.at) / 1000, color: '#2471a3', dashed: true }));

  // The records of the charts' days, through today when the charts end earlier.
  const recordWindow = () => {
    const from = dayStart(end - RANGES[range][0] * 1000);
    const to = dayStart(Math.max(end, Date.now())) + DAY_MS;
    return [from, to];
  };
  const drawRecords = async () => {
    const [from, to] = recordWindow();
    records = await loadRecords(site, asset, from, to);
    mount(root.querySelector('#records-range'), t('entry.recordsRange', {
      from: new Date(from + TOKYO_MS).toISOString().slice(0, 10),
      to: new Date(to - DAY_MS + TOKYO_MS).toISOString().slice(0, 10),
    }));
    mount(root.querySelector('#record-list'), recordList(records, { canEdit }));
    charts.forEach((c) => c?.redraw());
  };
  const dropCharts = () => { charts.splice(0).forEach((c) => c?.dispose()); };
  const drawCharts = async () => {
    dropCharts();
    const box = root.querySelector('#charts');
    const groups = byKind(chosen.picks);
    if (!groups.length) {
      mount(box, html`<p class="empty" data-empty="charts">${entry.device ? t('entry.noChannels') : t('entry.noDevice')}</p>`);
      return;
    }
    mount(box, groups.map(([sensorKind]) => html`<h3>${t(`sensorkind.${sensorKind}`)}</h3>
      <div class="chart-box" data-chart-kind="${sensorKind}"></div>`));
    for (const [sensorKind, picks] of groups) {
      const el = box.querySelector(`[data-chart-kind="${CSS.escape(sensorKind)}"]`);
      charts.push(await sensorChart(el, site, picks, range, end, { markers }).catch(() => null));
    }
  };
  const drawLatest = async () => {
    mount(root.querySelector('#latest'), chosen.device
      ? conditionsMarkup(await latestOf(site, [chosen.device])) : '');
  };

  const formBox = root.querySelector('#record-form-box');
  const drawForm = () => {
    const kinds = KINDS_OF_ENTRY[kind];
    const recordKind = kinds.includes(chosenKind[kind]) ? chosenKind[kind] : DEFAULT_KIND[kind];
    mount(formBox, recordFormMarkup(kind, recordKind));
    const form = formBox.querySelector('form');
    form.addEventListener('click', (event) => {
      const button = event.target.closest('button[data-kind]');
      if (!button) return;
      chosenKind[kind] = button.dataset.kind;
      drawForm();
      formBox.querySelector(`button[data-kind="${CSS.escape(button.dataset.kind)}"]`)?.focus();
    });
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const save = form.querySelector('[data-save]');
      const saved = form.querySelector('[data-saved]');
      saved.hidden = true;
      save.disabled = true;
      clearErrors(form);
      try {
        await addRecord(recordBody(form, site, asset, recordKind));
        const quantity = form.elements.namedItem('quantity');
        if (quantity) quantity.value = '';
        saved.textContent = t('record.saved');
        saved.hidden = false;
        await drawRecords();
      } catch (err) {
        showErrors(form, err);
      } finally {
        save.disabled = false;
      }
    });
  };
  if (formBox) drawForm();

  const list = root.querySelector('#record-list');
  const onVoid = async (event) => {
    const button = event.target.closest('button[data-void]');
    if (!button || !canEdit) return;
    if (button.dataset.confirm !== 'yes') {
      button.dataset.confirm = 'yes';
      button.textContent = t('record.voidConfirm');
      return;
    }
    button.disabled = true;
    try {
      await voidRecord(site, button.dataset.void);
      await drawRecords();
    } catch (err) {
      button.disabled = false;
      button.textContent = errorText(err);
    }
  };
  list.addEventListener('click', onVoid);

  await Promise.all([drawLatest(), drawRecords().catch(() => {
    mount(list, html`<p class="error">${t('error.load')}</p>`);
  })]);
  await drawCharts();
  rangePicker(root.querySelector('#ranges'), range, async (r) => {
    range = r;
    await drawCharts();
    await drawRecords();
  });

  // New readings move the charts' end; the latest tiles follow every poll.
  const poll = async () => {
    devs = await devices(site);
    chosen = picksOf(kind, entry, devs);
    const newest = chosen.device ? newestMs([chosen.device]) : 0;
    await drawLatest();
    if (newest > 0 && newest !== end) {
      end = newest;
      await drawCharts();
    }
  };
  return { poll, dispose: () => { dropCharts(); list.removeEventListener('click', onVoid); } };
}
