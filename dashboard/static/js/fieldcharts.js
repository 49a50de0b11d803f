// A field's crop analytics on the farm page: the crop's own degree days (積算温度), its growth
// stage (生育ステージ, BBCH), winter chill for apple and grape, VPD (飽差) and apple scab periods.
import { api, seg, tenantPath } from './api.js';
import { html, mount } from './dom.js';
import { date, dateTime, number } from './format.js';
import { lang, t, tOr } from './i18n.js';
import { drawChart } from './chart.js';

/** The analytics of the field at `site` as of a Tokyo day, null when the site has no field. */
export async function loadAnalytics(site, asOf) {
  try {
    return await api(tenantPath(`/fields/${seg(site)}/analytics`), { params: { as_of: asOf } });
  } catch (error) {
    if (error.status === 404) return null;
    throw error;
  }
}

/** Seconds since the epoch of a Tokyo day's midnight. */
const daySeconds = (day) => Date.parse(`${day}T00:00:00+09:00`) / 1000;

// Why a part is missing, in the reader's language; the API's own reason is kept as a tooltip.
function absentText(part) {
  return {
    gdd: t('field.absentGdd'),
    stage: t('field.absentStage'),
    chill: t('field.absentChill'),
    vpd: t('field.absentVpd'),
    scab: t('field.absentScab'),
  }[part];
}

function absentMarkup(a, part) {
  const reason = a.absent?.[part] ?? '';
  return html`<p class="empty" data-empty="field-${part}" title="${reason}">${absentText(part)}</p>`;
}

function stageName(stage) {
  return lang() === 'en' ? stage.name_en : stage.name_ja;
}

function bbch(stage) {
  return `BBCH ${String(stage.bbch).padStart(2, '0')}`;
}

function stageMarkup(a) {
  const s = a.stage;
  if (!s) return absentMarkup(a, 'stage');
  const next = s.next
    ? html`${stageName(s.next)} (${bbch(s.next)}, ${number(s.next.gdd, 0)} °C·d)`
    : t('field.stageLast');
  return html`<dl class="facts" id="field-stage" data-bbch="${s.current.bbch}" data-key="${s.current.key}">
    <div class="key"><dt>${t('field.stage')}</dt><dd><span data-field="stage-name">${stageName(s.current)}</span> <span translate="no">(${bbch(s.current)})</span></dd></div>
    <div><dt>${t('field.stageSum')}</dt><dd>${number(s.cumulative, 0)} °C·d ${t('field.baseShort', { base: number(s.base_c, 1) })}</dd></div>
    <div><dt>${t('field.stageNext')}</dt><dd>${next}</dd></div>
    <div><dt>${t('field.since')}</dt><dd data-raw="${s.start}">${date(s.start)}</dd></div>
    <div><dt>${t('field.source')}</dt><dd class="small"><span translate="no">${s.source}</span>${s.confirmed ? '' : html` <span class="muted">${t('field.unconfirmed')}</span>`}</dd></div>
  </dl>`;
}

function chillMarkup(a) {
  const c = a.chill;
  if (!c) return absentMarkup(a, 'chill');
  return html`<dl class="facts" id="field-chill" data-portions="${c.chill_portions}" data-utah="${c.utah_units}">
    <div class="key"><dt>${t('field.chillPortions')}</dt><dd>${number(c.chill_portions, 1)} CP</dd></div>
    <div><dt>${t('field.utahUnits')}</dt><dd>${number(c.utah_units, 0)} CU</dd></div>
    <div><dt>${t('field.chillingHours')}</dt><dd>${t('unit.hours', { n: number(c.chilling_hours, 0) })}</dd></div>
    <div><dt>${t('field.period')}</dt><dd>${date(c.start)} – ${date(c.end)}</dd></div>
    ${c.hours_missing ? html`<div><dt>${t('field.missingHours')}</dt><dd>${t('unit.hours', { n: c.hours_missing })}</dd></div>` : ''}
  </dl>`;
}

function scabMarkup(a) {
  const s = a.scab;
  if (!s) return absentMarkup(a, 'scab');
  const found = s.events.filter((e) => e.infection);
  if (!found.length) return html`<p class="empty" data-empty="field-scab-events">${t('field.noScab')}</p>`;
  return html`<table class="table" id="field-scab"><thead><tr>
      <th>${t('field.wetStart')}</th><th>${t('field.wetEnd')}</th><th>${t('field.wetHours')}</th>
      <th>${t('field.wetTemp')}</th><th>${t('field.needHours')}</th></tr></thead><tbody>
    ${found.map((e) => html`<tr data-start="${e.start}"><td>${dateTime(e.start)}</td><td>${dateTime(e.end)}</td>
      <td>${e.wet_hours}</td><td>${number(e.mean_temp_c, 1)} °C</td><td>${number(e.required_hours, 1)}</td></tr>`)}
  </tbody></table>`;
}

function baseLabel(g) {
  return g.upper_c === null || g.upper_c === undefined
    ? t('field.base', { base: number(g.base_c, 1) })
    : t('field.baseUpper', { base: number(g.base_c, 1), upper: number(g.upper_c, 1) });
}

/** Markup of the analytics card's body (charts are drawn into it by `drawAnalytics`). */
export function analyticsMarkup(a) {
  if (!a) return html`<p class="empty" data-empty="field">${t('field.none')}</p>`;
  return html`<div id="field-analytics" data-crop="${a.crop}">
    <p class="muted small">${tOr(`crop.${a.crop}`, a.crop)} · ${t('field.asOf', { day: date(a.as_of) })}</p>
    <h3>${t('field.stageTitle')}</h3>${stageMarkup(a)}
    <h3>${t('field.gddTitle')}</h3>
    ${a.gdd ? html`<p class="small" id="field-gdd-base">${baseLabel(a.gdd)} · ${t('field.since')} ${date(a.gdd.start)} · ${t('field.total', { total: number(a.gdd.total, 0) })}</p><div id="chart-field-gdd" class="chart-box"></div>` : absentMarkup(a, 'gdd')}
    ${['apple', 'grape'].includes(a.crop) ? html`<h3>${t('field.chillTitle')}</h3>${chillMarkup(a)}${a.chill ? html`<div id="chart-field-chill" class="chart-box"></div>` : ''}` : ''}
    <h3>${t('field.vpdTitle')}</h3>
    ${a.vpd?.days.length ? html`<div id="chart-field-vpd" class="chart-box"></div>` : absentMarkup(a, 'vpd')}
    ${a.crop === 'apple' ? html`<h3>${t('field.scabTitle')}</h3>${scabMarkup(a)}` : ''}
  </div>`;
}

/** Draw the analytics charts into the card; returns the charts (to dispose). */
export async function drawAnalytics(root, a) {
  if (!a) return [];
  const charts = [];
  const gddBox = root.querySelector('#chart-field-gdd');
  if (gddBox && a.gdd.cumulative.length) {
    charts.push(await drawChart(gddBox, {
      series: [{ label: `${t('field.gddSeries')} (${baseLabel(a.gdd)})`, unit: '°C·d', digits: 0 }],
      data: [a.gdd.cumulative.map((d) => daySeconds(d.date)), a.gdd.cumulative.map((d) => d.value)],
      yLabel: '°C·d',
    }));
  }
  const chillBox = root.querySelector('#chart-field-chill');
  if (chillBox && a.chill.portions_series.length) {
    const days = a.chill.portions_series;
    charts.push(await drawChart(chillBox, {
      series: [{ label: t('field.chillPortions'), unit: 'CP' }],
      data: [days.map((d) => daySeconds(d.date)), days.map((d) => d.value)],
      yLabel: 'CP',
    }));
  }
  const vpdBox = root.querySelector('#chart-field-vpd');
  if (vpdBox) {
    const days = a.vpd.days;
    charts.push(await drawChart(vpdBox, {
      series: [{ label: t('field.vpdMean'), unit: 'kPa', digits: 2 }, { label: t('field.vpdMax'), unit: 'kPa', digits: 2 }],
      data: [days.map((d) => daySeconds(d.date)), days.map((d) => d.value), days.map((d) => d.max)],
      yLabel: 'kPa',
    }));
  }
  return charts;
}
