// A farm field: latest conditions, the harvest forecast with its interval and window, the
// crop's growth stage, degree days, chill, VPD and scab periods, and charts of soil moisture,
// temperature and growing-degree-day accumulation.
import { api, features, seg, tenantPath } from '../api.js';
import { html, mount } from '../dom.js';
import { date, dateTime, number } from '../format.js';
import { t, tOr } from '../i18n.js';
import { drawChart } from '../chart.js';
import { devices } from '../sites.js';
import { entryLinks } from '../assets.js';
import { conditionsMarkup, latestOf, newestMs, rangePicker, sensorChart } from '../conditions.js';
import { analyticsMarkup, drawAnalytics, loadAnalytics } from '../fieldcharts.js';

function picksOf(devs, kinds) {
  return devs.flatMap((d) => d.sensors.filter((s) => kinds.includes(s.kind))
    .map((s) => ({ device: d.device, sensor: s.sensor, kind: s.kind })));
}

// As of the day of the field's newest reading (Tokyo): today for a live field, and the last
// day with data for one that stopped reporting or holds a historical record.
async function loadForecast(site, endMs) {
  if (!features.has('fields') || !features.has('forecast')) return null;
  const params = { as_of: tokyoDay(endMs) };
  // The list tells which sites are fields, so the forecast is asked for only where one exists.
  const fields = await api(tenantPath('/fields'), { params });
  if (!fields.some((f) => f.site === site)) return null;
  return api(tenantPath(`/fields/${seg(site)}/forecast`), { params });
}

/** The Asia/Tokyo calendar day (YYYY-MM-DD) of an instant in ms. */
function tokyoDay(ms) {
  return new Date(ms + 9 * 3600_000).toISOString().slice(0, 10);
}

function forecastMarkup(f) {
  if (!f) return html`<p class="empty" data-empty="forecast">${t('farm.noForecast')}</p>`;
  if (f.status && f.status !== 'ok') {
    return html`<p class="empty" data-empty="forecast" data-status="${f.status}">${tOr(`forecaststatus.${f.status}`, t('farm.noForecast'))}</p>`;
  }
  const m = f.maturity || {};
  const y = f.yield || {};
  const w = f.harvest_window || {};
  return html`<dl class="facts" id="forecast" data-model="${f.model_version ?? ''}">
    <div><dt>${t('farm.crop')}</dt><dd>${tOr(`crop.${f.crop}`, f.crop)} <span translate="no">(${f.field})</span></dd></div>
    <div><dt>${t('farm.planted')}</dt><dd data-raw="${f.planting_date ?? ''}">${date(f.planting_date)}</dd></div>
    <div class="key"><dt>${t('farm.maturity')}</dt><dd data-field="maturity" data-raw="${m.date ?? ''}">${date(m.date)}</dd></div>
    <div><dt>${t('farm.interval')}</dt><dd data-field="maturity-interval" data-low="${m.low ?? ''}" data-high="${m.high ?? ''}">${date(m.low)} – ${date(m.high)}</dd></div>
    <div class="key"><dt>${t('farm.window')}</dt><dd data-field="window" data-start="${w.start ?? ''}" data-end="${w.end ?? ''}">${date(w.start)} – ${date(w.end)}</dd></div>
    <div><dt>${t('farm.yield')}</dt><dd data-field="yield" data-value="${y.value ?? ''}" data-low="${y.low ?? ''}" data-high="${y.high ?? ''}">${number(y.value, 1)} ${y.unit ?? ''} (${number(y.low, 1)} – ${number(y.high, 1)})</dd></div>
    <div><dt>${t('farm.asOf')}</dt><dd data-raw="${f.as_of ?? ''}">${dateTime(f.as_of)}</dd></div>
    <div><dt>${t('farm.model')}</dt><dd translate="no">${f.model_version ?? '–'}</dd></div>
  </dl>`;
}

async function gddChart(el, forecast) {
  const points = forecast?.gdd || [];
  if (!points.length) {
    mount(el, html`<p class="empty">${t('farm.noGdd')}</p>`);
    return null;
  }
  const xs = points.map((p) => Date.parse(`${p.date}T00:00:00+09:00`) / 1000);
  const ys = points.map((p) => p.gdd);
  return drawChart(el, { series: [{ label: t('farm.gdd'), unit: '°C·d' }], data: [xs, ys], yLabel: '°C·d' });
}

/** The farm field page for `site`. */
export async function render(root, [site]) {
  mount(root, html`
    <p class="crumb"><a href="#/">${t('nav.overview')}</a> › ${t('kind.farm')}</p>
    <h1>${site}</h1>
    <div id="entry-links"></div>
    <div class="columns">
      <section class="card"><h2>${t('farm.forecast')}</h2><div id="forecast-box"><p class="muted">${t('common.loading')}</p></div></section>
      <section class="card"><h2>${t('site.latest')}</h2><div id="latest"><p class="muted">${t('common.loading')}</p></div></section>
    </div>
    <section class="card"><h2>${t('farm.charts')}</h2><div id="ranges"></div>
      <h3>${t('farm.soilMoisture')}</h3><div id="chart-moisture" class="chart-box"></div>
      <h3>${t('farm.temperature')}</h3><div id="chart-temp" class="chart-box"></div>
      <h3>${t('farm.gdd')}</h3><div id="chart-gdd" class="chart-box"></div>
      <p class="muted small">${t('chart.help')}</p>
    </section>
    <section class="card" id="field-card"><h2>${t('field.title')}</h2><div id="field-box"><p class="muted">${t('common.loading')}</p></div></section>`);
  const devs = await devices(site);
  const end = newestMs(devs);
  const charts = []; // of the chosen range; the GDD chart does not depend on it
  let gdd = null;
  let fieldCharts = [];
  const dropRange = () => { charts.splice(0).forEach((c) => c?.dispose()); };
  const dispose = () => { dropRange(); gdd?.dispose(); fieldCharts.forEach((c) => c?.dispose()); };
  const drawRange = async (range) => {
    dropRange();
    charts.push(
      await sensorChart(root.querySelector('#chart-moisture'), site, picksOf(devs, ['soil_moisture']), range, end),
      await sensorChart(root.querySelector('#chart-temp'), site, picksOf(devs, ['air_temperature', 'soil_temperature']), range, end),
    );
  };
  const refreshLatest = async () => {
    const fresh = await devices(site);
    mount(root.querySelector('#latest'), conditionsMarkup(await latestOf(site, fresh)));
  };
  const links = root.querySelector('#entry-links');
  const fieldBox = root.querySelector('#field-box');
  const [forecast, analytics] = await Promise.all([
    loadForecast(site, end).catch(() => null),
    // As of the same day as the forecast; a failure leaves the rest of the page working.
    (features.has('fields') ? loadAnalytics(site, tokyoDay(end)) : Promise.resolve(null)).catch(() => undefined),
    refreshLatest(),
    drawRange('7d'),
    entryLinks(site, 'farm').then((m) => mount(links, m)).catch(() => {}),
  ]);
  mount(root.querySelector('#forecast-box'), forecastMarkup(forecast));
  gdd = await gddChart(root.querySelector('#chart-gdd'), forecast);
  if (analytics === undefined) {
    mount(fieldBox, html`<p class="empty" data-empty="field-error">${t('error.load')}</p>`);
  } else {
    mount(fieldBox, analyticsMarkup(analytics));
    fieldCharts = await drawAnalytics(fieldBox, analytics);
  }
  rangePicker(root.querySelector('#ranges'), '7d', (range) => drawRange(range));
  return { poll: refreshLatest, dispose };
}
