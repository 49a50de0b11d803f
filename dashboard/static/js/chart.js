// Charts with the vendored uPlot (loaded only by pages that draw): zoom by dragging, double-click
// to reset, and gaps in the data drawn as gaps.
import { t } from './i18n.js';
import { TIME_ZONE, axisLabel, dateTime, number } from './format.js';

const BASE = new URL('../', import.meta.url);
let loading = null;

/** uPlot, loading its script and stylesheet on first use. */
export function loadUplot() {
  if (window.uPlot) return Promise.resolve(window.uPlot);
  loading ??= new Promise((resolve, reject) => {
    const css = document.createElement('link');
    css.rel = 'stylesheet';
    css.href = new URL('vendor/uplot/uPlot.min.css', BASE).href;
    document.head.append(css);
    const script = document.createElement('script');
    script.src = new URL('vendor/uplot/uPlot.iife.min.js', BASE).href;
    script.onload = () => resolve(window.uPlot);
    script.onerror = () => reject(new Error('chart library did not load'));
    document.head.append(script);
  });
  return loading;
}

/**
 * Insert a null after every sampling gap wider than `factor` × `step` (seconds), so that the
 * line breaks there instead of bridging missing data. `step` defaults to the median spacing.
 */
export function withGaps(xs, columns, step = null, factor = 2.5) {
  if (xs.length < 2) return [xs.slice(), ...columns.map((c) => c.slice())];
  if (!step) {
    const diffs = xs.slice(1).map((x, i) => x - xs[i]).sort((a, b) => a - b);
    step = diffs[Math.floor(diffs.length / 2)];
  }
  const outX = [xs[0]];
  const outCols = columns.map((c) => [c[0]]);
  for (let i = 1; i < xs.length; i += 1) {
    if (xs[i] - xs[i - 1] > factor * step) {
      outX.push(xs[i - 1] + step);
      outCols.forEach((c) => c.push(null));
    }
    outX.push(xs[i]);
    outCols.forEach((c, j) => c.push(columns[j][i]));
  }
  return [outX, ...outCols];
}

/** Join several series on their union of timestamps (seconds), nulls where one has no point. */
export function joinSeries(list) {
  const times = [...new Set(list.flatMap((s) => s.xs))].sort((a, b) => a - b);
  const index = new Map(times.map((x, i) => [x, i]));
  const columns = list.map((s) => {
    const col = new Array(times.length).fill(null);
    s.xs.forEach((x, i) => { col[index.get(x)] = s.ys[i]; });
    return col;
  });
  return [times, ...columns];
}

const PALETTE = ['#2f6b3f', '#c0392b', '#2471a3', '#b9770e', '#7d3c98', '#117a65'];
const DAY_S = 86400;

// Tokyo times on the x axis, 24-hour, with the date under the first tick of each day.
function timeTicks(u, splits, _axis, _space, increment) {
  let lastDay = null;
  return splits.map((s) => {
    if (increment >= DAY_S) return axisLabel(s, 'day');
    const day = axisLabel(s, 'day');
    const label = axisLabel(s, day !== lastDay);
    lastDay = day;
    return label;
  });
}

// Vertical marks at given x values (e.g. when an alert was raised), drawn over the plot.
function markerPlugin(markers) {
  return {
    hooks: {
      draw: [(u) => {
        const { ctx } = u;
        const { top, height } = u.bbox;
        ctx.save();
        for (const m of markers()) {
          const x = u.valToPos(m.x, 'x', true);
          if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
          ctx.strokeStyle = m.color || '#c0392b';
          ctx.lineWidth = 2 * devicePixelRatio;
          ctx.setLineDash(m.dashed ? [4 * devicePixelRatio, 4 * devicePixelRatio] : []);
          ctx.beginPath();
          ctx.moveTo(x, top);
          ctx.lineTo(x, top + height);
          ctx.stroke();
          ctx.fillStyle = ctx.strokeStyle;
          ctx.beginPath();
          ctx.moveTo(x - 5 * devicePixelRatio, top);
          ctx.lineTo(x + 5 * devicePixelRatio, top);
          ctx.lineTo(x, top + 8 * devicePixelRatio);
          ctx.fill();
        }
        ctx.restore();
      }],
    },
  };
}

/**
 * Draw a chart into `el` (`xRange`: [min, max] shown when the data alone give no width). `time`: x values are seconds since the epoch shown in Tokyo time,
 * otherwise plain numbers labelled `xLabel`. `series`: [{label, unit, digits}]; `data`: uPlot
 * columns. `markers()` returns [{x, color}] read at each redraw, so updates need only `redraw`.
 */
export async function drawChart(el, { series, data, time = true, xLabel = '', yLabel = '',
  markers = () => [], height = 220, xRange = null }) {
  const uPlot = await loadUplot();
  el.textContent = '';
  el.classList.add('chart');
  const opts = {
    width: Math.max(200, el.clientWidth),
    height,
    // Values under the cursor where there is room for them; just the series names on a phone.
    legend: { live: el.clientWidth >= 600 },
    cursor: { drag: { x: true, y: false, setScale: true } },
    scales: { x: { time } },
    series: [
      time
        ? { label: t('chart.time'), value: (u, v) => (v === null ? '–' : dateTime(new Date(v * 1000).toISOString())) }
        : { label: xLabel, value: (u, v) => (v === null ? '–' : number(v, 1)) },
      ...series.map((s, i) => ({
        label: s.unit ? `${s.label} (${s.unit})` : s.label,
        stroke: s.color || PALETTE[i % PALETTE.length],
        width: 1.5,
        spanGaps: false,
        points: { show: s.points ?? false },
        value: (u, v) => (v === null || v === undefined ? '–' : number(v, s.digits ?? 1)),
      })),
    ],
    axes: [
      time ? { values: timeTicks, space: 50 } : { label: xLabel },
      { label: yLabel, size: 56, values: (u, vals) => vals.map((v) => number(v, 2)) },
    ],
    plugins: [markerPlugin(markers)],
  };
  // Ticks fall on Tokyo midnights and hours.
  if (time) opts.tzDate = (ts) => uPlot.tzDate(new Date(ts * 1e3), TIME_ZONE);
  const chart = new uPlot(opts, data, el);
  // Data that span no width (one point, e.g. from a new device) are shown in `xRange`.
  const xs = (data[0] || []).filter((x) => x !== null);
  if (xRange && (xs.length < 2 || xs[0] === xs[xs.length - 1])) chart.setScale('x', { min: xRange[0], max: xRange[1] });
  el.uplot = chart; // lets tests and the console inspect what is drawn
  const observer = new ResizeObserver(() => {
    const width = Math.max(200, el.clientWidth);
    if (width !== chart.width) chart.setSize({ width, height });
  });
  observer.observe(el);
  chart.dispose = () => { observer.disconnect(); chart.destroy(); };
  return chart;
}
