// Latest conditions of a site's devices and the time-range chart blocks shared by site pages.
import { html, mount } from './dom.js';
import { dateTime, quantity, unitLabel } from './format.js';
import { t } from './i18n.js';
import { drawChart, joinSeries, withGaps } from './chart.js';
import { latestReading, meanSeries, RANGES } from './sites.js';

const DIGITS = { item_count: 0, wind_direction: 0, bin_weight: 2 };

// Newest readings already fetched, by site/device/sensor and the `last_seen` they were for:
// a poll asks again only for sensors that reported since, so an idle page costs one request.
const newest = new Map();

/** The newest reading of every sensor of `devs`, fetched only where it changed. */
export async function latestOf(site, devs) {
  const jobs = devs.flatMap((d) => d.sensors.map(async (s) => {
    const key = `${site}/${d.device}/${s.sensor}`;
    const known = newest.get(key);
    if (known && known.lastSeen === s.last_seen) return known.row;
    const reading = await latestReading(site, d.device, s);
    const row = reading && { device: d.device, sensor: s.sensor, ...reading };
    newest.set(key, { lastSeen: s.last_seen, row });
    return row;
  }));
  return (await Promise.all(jobs)).filter(Boolean);
}

/** Markup of the latest readings as a compact list of tiles. */
export function conditionsMarkup(rows) {
  if (!rows.length) return html`<p class="empty">${t('site.noReadings')}</p>`;
  return html`<ul class="tiles">${rows.map((r) => html`
    <li class="tile" data-sensor="${r.sensor}">
      <span class="tile-label">${t(`sensorkind.${r.kind}`)}</span>
      <span class="tile-value" data-value="${r.value}">${quantity(r.value, r.unit, DIGITS[r.kind] ?? 1)}</span>
      <span class="tile-sub"><span translate="no">${r.sensor}</span> · <time datetime="${r.time}">${dateTime(r.time)}</time></span>
    </li>`)}</ul>`;
}

/** The newest `last_seen` of a site's sensors in ms (the end of its charts). */
export function newestMs(devs) {
  const times = devs.flatMap((d) => d.sensors.map((s) => (s.last_seen ? Date.parse(s.last_seen) : 0)));
  return times.length ? Math.max(...times) : Date.now();
}

/** Buttons choosing a chart range; `onChange(range)` is called on a click. */
export function rangePicker(el, current, onChange) {
  mount(el, html`<div class="ranges" role="group" aria-label="${t('chart.range')}">${Object.keys(RANGES).map((r) => html`
    <button type="button" data-range="${r}" aria-pressed="${r === current}">${t(`range.${r}`)}</button>`)}</div>`);
  el.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-range]');
    if (!button) return;
    for (const b of el.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b === button));
    onChange(button.dataset.range);
  });
}

/**
 * Draw one chart of several sensors (`picks`: [{device, sensor, kind}], each optionally only
 * within `intervals` [{fromMs, toMs}] and with a label `suffix`) over `range`, each series
 * broken where data are missing. Returns the chart, or null with an empty note.
 */
export async function sensorChart(el, site, picks, range, endMs, { yLabel = '', markers } = {}) {
  if (!picks.length) {
    mount(el, html`<p class="empty">${t('chart.noSensor')}</p>`);
    return null;
  }
  const list = await Promise.all(picks.map(async (p) => {
    if (!p.intervals) return meanSeries(site, p.device, p.sensor, range, endMs);
    // Several spans of one channel make one series, oldest first.
    const parts = await Promise.all(p.intervals.map((i) => meanSeries(site, p.device, p.sensor, range, endMs, i)));
    const filled = parts.filter((part) => part.xs.length);
    return {
      ...(filled[0] || parts[0]),
      xs: filled.flatMap((part) => part.xs),
      ys: filled.flatMap((part) => part.ys),
    };
  }));
  if (list.every((s) => !s.xs.length)) {
    mount(el, html`<p class="empty">${t('chart.noData')}</p>`);
    return null;
  }
  const step = list[0].step;
  // Each series gets its own gaps before joining, so one sensor's outage breaks only its line.
  const gapped = list.map((s) => {
    const [xs, ys] = withGaps(s.xs, [s.ys], step);
    return { xs, ys };
  });
  const data = joinSeries(gapped);
  const series = picks.map((p, i) => ({
    label: `${t(`sensorkind.${p.kind}`)} ${p.sensor}${p.suffix ?? ''}`,
    unit: unitLabel(list[i].unit),
    digits: DIGITS[p.kind] ?? 1,
    // A few points make no visible line: each is drawn as a dot.
    points: list[i].ys.filter((v) => v !== null).length <= 3,
  }));
  const xRange = [endMs / 1000 - RANGES[range][0], endMs / 1000];
  return drawChart(el, { series, data, yLabel: yLabel || unitLabel(list.find((l) => l.unit)?.unit), markers, xRange });
}
