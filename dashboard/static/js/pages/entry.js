// One field, stand or bin: the readings of the device attached to it, charted, with the work
// records of the same days beside them and a quick form to enter one (operators and admins).
import { canManageAssets } from '../api.js';
import { html, mount } from '../dom.js';
import { t } from '../i18n.js';
import { devices, RANGES } from '../sites.js';
import { conditionsMarkup, latestOf, newestMs, rangePicker, sensorChart } from '../conditions.js';
import { clearErrors, errorText, showErrors } from '../forms.js';
import {
  ENTRY_OF_SITE, attachedSensors, entriesOf, entryFacts, entryName, entrySummary, history,
  loadRegistry, siteName,
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

/**
 * The time spans of the devices that measured the entry, from its history: a device moved
 * away is charted here only until it left, one attached later only from then on. The first
 * one also before it was attached (a device is usually installed before it is registered).
 */
function spansOf(kind, entry, attached) {
  if (!attached) {
    return entry.device ? [{ device: entry.device, sensors: attachedSensors(kind, entry), fromMs: -Infinity, toMs: Infinity }] : [];
  }
  return attached.map((a, i) => ({
    device: a.device,
    sensors: a.sensors || [],
    fromMs: i === 0 ? -Infinity : Date.parse(a.from),
    toMs: a.to ? Date.parse(a.to) : Infinity,
  }));
}

// Every channel charted over the spans it measured the entry, labelled with its device when
// there were several.
function spanPicks(spans, devs) {
  const several = new Set(spans.map((s) => s.device)).size > 1;
  const picks = new Map();
  for (const span of spans) {
    const device = devs.find((d) => d.device === span.device);
    for (const s of device?.sensors || []) {
      if (span.sensors.length && !span.sensors.includes(s.sensor)) continue;
      const key = `${span.device}\u0000${s.sensor}`;
      if (!picks.has(key)) {
        picks.set(key, {
          device: span.device, sensor: s.sensor, kind: s.kind, intervals: [], suffix: several ? ` (${span.device})` : '',
        });
      }
      picks.get(key).intervals.push({ fromMs: span.fromMs, toMs: span.toMs });
    }
  }
  return [...picks.values()];
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
  const loading = root.firstElementChild;
  const registry = await loadRegistry();
  // Another page (or this one in the other language) took over meanwhile.
  if (!root.contains(loading)) return null;
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

  // The page's parts, held from here: a language switch re-renders the page while this one
  // may still be loading, and the old one must then only write into its own detached parts.
  const part = (id) => root.querySelector(`#${id}`);
  const els = {
    range: part('records-range'), list: part('record-list'), charts: part('charts'),
    latest: part('latest'), form: part('record-form-box'), ranges: part('ranges'),
  };
  const [siteDevices, attached] = await Promise.all([
    devices(site),
    history(site, asset).then((h) => h.attachments).catch(() => null),
  ]);
  let devs = siteDevices;
  let chosen = picksOf(kind, entry, devs);
  const spans = spansOf(kind, entry, attached);
  // The charts end at the newest reading taken for the entry (a device moved away: when it left).
  const newestOf = () => {
    const ends = spans.map((span) => {
      const device = devs.find((d) => d.device === span.device);
      return device ? Math.min(newestMs([device]), span.toMs) : 0;
    });
    const newest = Math.max(0, ...ends);
    return newest > 0 ? newest : Date.now();
  };
  let end = newestOf();
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
    mount(els.range, t('entry.recordsRange', {
      from: new Date(from + TOKYO_MS).toISOString().slice(0, 10),
      to: new Date(to - DAY_MS + TOKYO_MS).toISOString().slice(0, 10),
    }));
    mount(els.list, recordList(records, { canEdit }));
    charts.forEach((c) => c?.redraw());
  };
  const dropCharts = () => { charts.splice(0).forEach((c) => c?.dispose()); };
  const drawCharts = async () => {
    dropCharts();
    const box = els.charts;
    const groups = byKind(spanPicks(spans, devs));
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
    mount(els.latest, chosen.device
      ? conditionsMarkup(await latestOf(site, [chosen.device])) : '');
  };

  const formBox = els.form;
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

  const { list } = els;
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
  rangePicker(els.ranges, range, async (r) => {
    range = r;
    await drawCharts();
    await drawRecords();
  });

  // New readings move the charts' end; the latest tiles follow every poll.
  const poll = async () => {
    devs = await devices(site);
    chosen = picksOf(kind, entry, devs);
    const newest = newestOf();
    await drawLatest();
    if (spans.length && newest !== end) {
      end = newest;
      await drawCharts();
    }
  };
  return { poll, dispose: () => { dropCharts(); list.removeEventListener('click', onVoid); } };
}
