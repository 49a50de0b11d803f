// A factory: stock per bin with anomaly markers, stock-out countdowns, reorder alerts, the
// quantity check (book, measured and counted stock), and the site's open alerts (acknowledge
// for operators and admins). Refreshed every 10 s.
import { api, features, seg, tenantPath } from '../api.js';
import { html, mount } from '../dom.js';
import { dateTime, hours, number } from '../format.js';
import { lang, t } from '../i18n.js';
import { alertList, wireAcknowledge } from '../alerts.js';
import { devices, latestReading, openAlerts } from '../sites.js';
import { newestMs, sensorChart } from '../conditions.js';

// Bins from the API when this server has them, else from the sensors named `{bin}_weight`.
async function loadBins(site, devs) {
  if (features.has('bins')) return api(tenantPath('/bins'), { params: { site } });
  const jobs = devs.flatMap((d) => d.sensors.filter((s) => s.kind === 'bin_weight').map(async (s) => {
    const bin = s.sensor.replace(/_weight$/, '');
    const countSensor = d.sensors.find((c) => c.sensor === `${bin}_count`);
    const [weight, count] = await Promise.all([
      latestReading(site, d.device, s),
      countSensor ? latestReading(site, d.device, countSensor) : null,
    ]);
    return {
      site, device: d.device, bin, item: null, weight_kg: weight?.value ?? null,
      count: count?.value ?? null, level_at: s.last_seen, stockout: null, lead_time_h: null, reorder: false,
    };
  }));
  return Promise.all(jobs);
}

function countdown(s) {
  if (!s) return t('factory.noStockout');
  // At the forecast's horizon the model only says "not within it".
  if (s.horizon_h && s.hours >= s.horizon_h) return t('factory.beyond', { time: hours(s.horizon_h) });
  return html`<span class="countdown">${t('factory.in', { time: hours(s.hours) })}</span><br>
    <span class="small">${dateTime(s.expected_at)}</span><br>
    <span class="small">${t('factory.interval', { low: hours(s.hours_low), high: hours(s.hours_high) })}</span>`;
}

function binFacts(b) {
  const s = b.stockout;
  return html`
    <div class="bin-head">
      <strong translate="no">${b.item || b.bin}</strong>
      ${b.reorder ? html`<span class="badge hot" data-reorder="true">${t('factory.reorder')}</span>` : ''}
    </div>
    <p class="muted small" translate="no">${b.bin} · ${b.device}</p>
    <dl class="facts compact">
      <div><dt>${t('factory.weight')}</dt><dd data-field="weight" data-raw="${b.weight_kg ?? ''}">${number(b.weight_kg, 2)} kg</dd></div>
      <div><dt>${t('factory.count')}</dt><dd data-field="count" data-raw="${b.count ?? ''}">${number(b.count, 0)}</dd></div>
      <div class="key"><dt>${t('factory.stockout')}</dt>
        <dd data-field="stockout" data-hours="${s?.hours ?? ''}" data-expected="${s?.expected_at ?? ''}">${countdown(s)}</dd></div>
      <div><dt>${t('factory.leadTime')}</dt><dd data-field="lead" data-raw="${b.lead_time_h ?? ''}">${b.lead_time_h === null || b.lead_time_h === undefined ? '–' : hours(b.lead_time_h)}</dd></div>
      <div><dt>${t('factory.levelAt')}</dt><dd>${dateTime(b.level_at)}</dd></div>
    </dl>`;
}

/** The factory page for `site`. */
export async function render(root, [site]) {
  mount(root, html`
    <p class="crumb"><a href="#/">${t('nav.overview')}</a> › ${t('kind.factory')}${features.has('registry') ? html` · <a href="#/registry" data-registry-link>${t('nav.registry')}</a>` : ''}</p>
    <h1>${site}</h1>
    <section><h2>${t('factory.bins')}</h2><ul class="grid bins" id="bins"><li class="muted">${t('common.loading')}</li></ul>
      <p class="muted small">${t('factory.markerHelp')} ${t('chart.help')}</p></section>
    <section><h2>${t('overview.alerts')}</h2><div id="alerts"></div></section>`);
  const devs = await devices(site);
  const end = newestMs(devs);
  let alerts = [];
  let bins = await loadBins(site, devs).catch(() => []);
  const list = root.querySelector('#bins');
  mount(list, bins.length ? bins.map((b) => html`
    <li class="card bin" data-bin="${b.bin}">
      <div class="bin-facts">${binFacts(b)}</div>
      <div class="bin-quantity" data-quantity="${b.bin}">${features.has('quantity') ? html`<p class="muted small">${t('common.loading')}</p>` : ''}</div>
      <div class="chart-box" data-chart="${b.bin}"></div>
    </li>`) : html`<li class="empty">${t('factory.noBins')}</li>`);
  const markersOf = (b) => () => alerts
    .filter((a) => a.device === b.device && a.sensor.startsWith(`${b.bin}_`))
    .map((a) => ({ x: Date.parse(a.raised_at) / 1000 }));
  const refresh = async ({ quantities = true } = {}) => {
    const [fresh, open] = await Promise.all([loadBins(site, devs).catch(() => bins), openAlerts(site)]);
    alerts = open;
    bins = fresh;
    for (const b of bins) {
      const box = list.querySelector(`[data-bin="${CSS.escape(b.bin)}"] .bin-facts`);
      if (box) mount(box, binFacts(b));
    }
    mount(root.querySelector('#alerts'), alertList(alerts, { showSite: false }));
    if (quantities) await refreshQuantities(list, site, quantityState);
    for (const b of bins) {
      const el = list.querySelector(`[data-chart="${CSS.escape(b.bin)}"]`);
      if (el) el.dataset.markers = String(markersOf(b)().length);
    }
    charts.forEach((c) => c?.redraw());
  };
  const charts = [];
  const quantityState = { polls: 0, history: new Map() };
  await refresh({ quantities: false });
  for (const b of bins) {
    const picks = [{ device: b.device, sensor: `${b.bin}_weight`, kind: 'bin_weight' }];
    const el = list.querySelector(`[data-chart="${CSS.escape(b.bin)}"]`);
    charts.push(await sensorChart(el, site, picks, '7d', end, { markers: markersOf(b) }).catch(() => null));
  }
  // The quantity check comes last: its boxes say "loading" until every figure is in.
  await refreshQuantities(list, site, quantityState);
  const unwire = wireAcknowledge(root.querySelector('#alerts'), refresh);
  return { poll: refresh, dispose: () => { unwire(); charts.forEach((c) => c?.dispose()); } };
}

// --- Quantity check (数量確認): book, measured and counted stock per bin, and discrepancies ---

const HISTORY_EVERY_POLLS = 30; // the 7-day discrepancy history is read again every 5 minutes
const HISTORY_MS = 7 * 86400 * 1000;

const itemsText = (n) => (n === null || n === undefined ? '–' : t('quantity.items', { n: number(n, 1) }));
const signed = (n) => (n === null || n === undefined ? '–' : `${n > 0 ? '+' : ''}${number(n, 1)}`);

// The discrepancy over the range as a small line, with the tolerance band dotted.
function discrepancyChart(history) {
  const pts = history.points.filter((p) => p.discrepancy !== null);
  if (!pts.length) return html`<p class="muted small" data-empty="quantity-history">${t('quantity.noHistory')}</p>`;
  const [w, h] = [300, 64];
  const x0 = Date.parse(history.start);
  const span = Math.max(1, Date.parse(history.end) - x0);
  const tol = history.tolerance;
  const lim = Math.max(tol * 1.5, ...pts.map((p) => Math.abs(p.discrepancy)));
  const x = (p) => (((Date.parse(p.time) - x0) / span) * w).toFixed(1);
  const y = (v) => (h / 2 - (v / lim) * (h / 2 - 3)).toFixed(1);
  const line = pts.map((p, i) => `${i ? 'L' : 'M'}${x(p)},${y(p.discrepancy)}`).join(' ');
  const band = (v) => html`<line x1="0" x2="${w}" y1="${y(v)}" y2="${y(v)}" stroke="#b54708" stroke-dasharray="3 3" stroke-width="1"/>`;
  return html`<svg class="quantity-chart" viewBox="0 0 ${w} ${h}" width="100%" height="${h}" preserveAspectRatio="none" role="img"
      aria-label="${t('quantity.history')}" data-points="${pts.length}" data-over="${pts.filter((p) => p.over_tolerance).length}">
    ${band(tol)}${band(-tol)}
    <line x1="0" x2="${w}" y1="${y(0)}" y2="${y(0)}" stroke="#999" stroke-width="0.5"/>
    <path d="${line}" fill="none" stroke="#2f6b3f" stroke-width="1.5" vector-effect="non-scaling-stroke"/>
    ${pts.filter((p) => p.over_tolerance).map((p) => html`<circle cx="${x(p)}" cy="${y(p.discrepancy)}" r="2.5" fill="#b03a2e"/>`)}
  </svg>`;
}

function quantityMarkup(q, history) {
  const now = q.now;
  const last = q.last_stocktake;
  const basis = now.basis ? t(now.basis === 'weight' ? 'quantity.basisWeight' : 'quantity.basisCount') : '';
  const tolerance = q.tolerance_default
    ? t('quantity.toleranceDefault', { n: number(q.tolerance, 1) }) : itemsText(q.tolerance);
  const row = (key, field, raw, shown, extra = '') => html`
    <div class="${extra}"><dt>${t(key)}</dt><dd data-field="${field}" data-raw="${raw ?? ''}">${shown}</dd></div>`;
  return html`
    <div class="bin-head"><strong>${t('quantity.heading')}</strong>
      ${q.over_tolerance ? html`<span class="badge hot" data-over="true">${t('quantity.over')}</span>` : ''}</div>
    <dl class="facts compact">
      ${row('quantity.book', 'book', now.book, now.book === null ? t('quantity.noBook') : itemsText(now.book))}
      ${row('quantity.measured', 'measured', now.measured, html`${itemsText(now.measured)} <span class="small muted">${basis}</span>`)}
      ${now.basis === 'weight' && now.counter !== null ? row('quantity.counter', 'counter', now.counter, itemsText(now.counter)) : ''}
      ${row('quantity.counted', 'counted', last?.counted, last
    ? html`${itemsText(last.counted)}<br><span class="small">${dateTime(last.time)}</span>` : t('quantity.noStocktake'))}
      ${last ? row('quantity.stocktakeDiscrepancy', 'stocktake-discrepancy', last.discrepancy, signed(last.discrepancy)) : ''}
      ${row('quantity.discrepancy', 'discrepancy', now.discrepancy, signed(now.discrepancy), 'key')}
      ${row('quantity.tolerance', 'tolerance', q.tolerance, tolerance)}
    </dl>
    ${q.alerts.map((a) => html`<p class="alert kind-quantity_discrepancy quantity-alert" data-quantity-alert="${a.id}">
      <strong>${t('alertkind.quantity_discrepancy')}</strong><br>
      <span translate="no">${lang() === 'ja' ? a.reason_ja : a.reason_en}</span></p>`)}
    <p class="muted small">${t('quantity.history')}</p>
    <div class="quantity-history">${history ? discrepancyChart(history) : ''}</div>`;
}

// Mount each bin's quantity check; the histories are read at first and every few minutes.
async function refreshQuantities(list, site, state) {
  if (!features.has('quantity')) return;
  const quantities = await api(tenantPath('/stock/quantity'), { params: { site } }).catch(() => null);
  if (!quantities) {
    // Nothing to show this time; a box still loading says so instead of waiting forever.
    for (const box of list.querySelectorAll('[data-quantity]')) {
      if (!box.querySelector('dl')) mount(box, html`<p class="muted small">${t('error.load')}</p>`);
    }
    return;
  }
  const fresh = state.polls % HISTORY_EVERY_POLLS === 0;
  state.polls += 1;
  await Promise.all(quantities.map(async (q) => {
    if (fresh || !state.history.has(q.bin)) {
      const path = `/stock/bins/${seg(q.site)}/${seg(q.bin)}/quantity`;
      const end = Date.parse(q.as_of);
      const params = { start: new Date(end - HISTORY_MS).toISOString(), end: new Date(end).toISOString() };
      const history = await api(tenantPath(path), { params }).catch(() => null);
      if (history) state.history.set(q.bin, history);
    }
    const box = list.querySelector(`[data-quantity="${CSS.escape(q.bin)}"]`);
    if (box) mount(box, quantityMarkup(q, state.history.get(q.bin)));
  }));
}
