// A factory: stock per bin with anomaly markers, stock-out countdowns, reorder alerts, and the
// site's open alerts (acknowledge for operators and admins). Refreshed every 10 s.
import { api, features, tenantPath } from '../api.js';
import { html, mount } from '../dom.js';
import { dateTime, hours, number } from '../format.js';
import { t } from '../i18n.js';
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
      <div class="chart-box" data-chart="${b.bin}"></div>
    </li>`) : html`<li class="empty">${t('factory.noBins')}</li>`);
  const markersOf = (b) => () => alerts
    .filter((a) => a.device === b.device && a.sensor.startsWith(`${b.bin}_`))
    .map((a) => ({ x: Date.parse(a.raised_at) / 1000 }));
  const refresh = async () => {
    const [fresh, open] = await Promise.all([loadBins(site, devs).catch(() => bins), openAlerts(site)]);
    alerts = open;
    bins = fresh;
    for (const b of bins) {
      const box = list.querySelector(`[data-bin="${CSS.escape(b.bin)}"] .bin-facts`);
      if (box) mount(box, binFacts(b));
    }
    mount(root.querySelector('#alerts'), alertList(alerts, { showSite: false }));
    for (const b of bins) {
      const el = list.querySelector(`[data-chart="${CSS.escape(b.bin)}"]`);
      if (el) el.dataset.markers = String(markersOf(b)().length);
    }
    charts.forEach((c) => c?.redraw());
  };
  const charts = [];
  await refresh();
  for (const b of bins) {
    const picks = [{ device: b.device, sensor: `${b.bin}_weight`, kind: 'bin_weight' }];
    const el = list.querySelector(`[data-chart="${CSS.escape(b.bin)}"]`);
    charts.push(await sensorChart(el, site, picks, '7d', end, { markers: markersOf(b) }).catch(() => null));
  }
  const unwire = wireAcknowledge(root.querySelector('#alerts'), refresh);
  return { poll: refresh, dispose: () => { unwire(); charts.forEach((c) => c?.dispose()); } };
}
