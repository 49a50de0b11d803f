// What the pages know about sites and devices, from the public API only.
import { api, features, seg, tenantPath } from './api.js';

// A site's kind follows from what its devices measure (the sensor catalogue).
const KIND_BY_SENSOR = [
  ['bin_weight', 'factory'], ['item_count', 'factory'],
  ['stem_radius', 'forest'],
  ['leaf_wetness', 'farm'], ['soil_moisture', 'farm'],
];
const ONLINE_WITHIN_MS = 15 * 60 * 1000;

/** farm, forest or factory for a site, from its devices' sensor kinds. */
export function siteKind(devices) {
  const kinds = new Set(devices.flatMap((d) => d.sensors.map((s) => s.kind)));
  const found = KIND_BY_SENSOR.find(([kind]) => kinds.has(kind));
  return found ? found[1] : 'other';
}

/** online/offline from the device's status messages, or from how recent its data is. */
export function health(device, now = Date.now()) {
  if (device.online === true) return 'online';
  if (device.online === false) return 'offline';
  const seen = device.last_seen ? new Date(device.last_seen).getTime() : 0;
  return now - seen <= ONLINE_WITHIN_MS ? 'online' : 'offline';
}

/** The sites of the tenant: those with readings and those registered (with kind and place). */
export function sites() {
  return api(tenantPath('/sites'));
}

/** The devices of the tenant (or of one site). */
export function devices(site = null) {
  return api(tenantPath('/devices'), { params: { site } });
}

/** Open alerts (of one site), or [] when this server has no alerts yet. */
export async function openAlerts(site = null) {
  if (!features.has('alerts')) return [];
  return api(tenantPath('/alerts'), { params: { state: 'open', site, limit: 200 } });
}

/** The newest reading of a sensor, found from its `last_seen`. */
export async function latestReading(site, device, sensor) {
  if (!sensor.last_seen) return null;
  const at = new Date(sensor.last_seen).getTime();
  const page = await api(
    tenantPath(`/sites/${seg(site)}/devices/${seg(device)}/sensors/${seg(sensor.sensor)}/readings`),
    { params: { start: new Date(at).toISOString(), end: new Date(at + 1000).toISOString(), limit: 1 } },
  );
  const item = page.items[page.items.length - 1];
  return item ? { ...item, unit: page.unit, kind: page.kind } : null;
}

// Range choices of the charts: the bucket width keeps each chart to a few hundred points.
export const RANGES = { '1d': [86400, '15m', 900], '7d': [7 * 86400, '1h', 3600], '30d': [30 * 86400, '6h', 21600] };

/**
 * Mean per bucket of a sensor over `range` ending at `endMs`, as {xs (s), ys, unit, step};
 * only within [fromMs, toMs) when given (the time a device measured one entry).
 */
export async function meanSeries(site, device, sensor, range, endMs, { fromMs = -Infinity, toMs = Infinity } = {}) {
  const [span, interval, step] = RANGES[range];
  const start = Math.max(endMs - span * 1000, fromMs);
  const end = Math.min(endMs + 1, toMs);
  if (start >= end) return { xs: [], ys: [], unit: '', kind: null, step };
  const answer = await api(
    tenantPath(`/sites/${seg(site)}/devices/${seg(device)}/sensors/${seg(sensor)}/aggregates`),
    { params: { start: new Date(start).toISOString(), end: new Date(end).toISOString(), interval, function: 'mean' } },
  );
  return {
    xs: answer.buckets.map((b) => new Date(b.time).getTime() / 1000),
    ys: answer.buckets.map((b) => b.mean),
    unit: answer.unit,
    kind: answer.kind,
    step,
  };
}
