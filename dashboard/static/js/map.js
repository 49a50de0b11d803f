// The overview's map of sites (vendored Leaflet), shown only when the server names a tile source
// and its tiles load. Without tiles (no configuration, or no Internet) the site list is all
// there is, which is what an offline installation shows.
import { lang, t } from './i18n.js';

const OFFLINE_AFTER_MS = 8_000;
const KIND_COLOURS = { farm: '#2f7d32', forest: '#1b5e20', factory: '#1565c0', other: '#616161' };

/** The tile source of this server: { tiles, attribution } or null. */
export const mapSource = (() => {
  const meta = document.querySelector('meta[name="shinshu-map"]');
  try { return JSON.parse(meta?.content || 'null'); } catch { return null; }
})();

let leaflet = null;

/** Leaflet, loaded once from the vendored copy beside this module. */
function loadLeaflet() {
  if (leaflet) return leaflet;
  leaflet = new Promise((resolve, reject) => {
    const css = document.createElement('link');
    css.rel = 'stylesheet';
    css.href = new URL('../vendor/leaflet/leaflet.css', import.meta.url).href;
    document.head.append(css);
    const script = document.createElement('script');
    script.src = new URL('../vendor/leaflet/leaflet.js', import.meta.url).href;
    script.onload = () => resolve(window.L);
    script.onerror = () => { leaflet = null; reject(new Error('leaflet')); };
    document.head.append(script);
  });
  return leaflet;
}

function siteName(site) {
  const name = lang() === 'ja' ? site.name_ja || site.name_en : site.name_en || site.name_ja;
  return name || site.site;
}

/**
 * Draw `sites` (those with coordinates) on a map in `container`. Resolves to a handle with
 * `dispose()`, or to null when there is nothing to draw or no tiles load (then `onOffline` is
 * called and the container is left empty, so the page shows its list only).
 */
export async function siteMap(container, sites, { hrefOf, onOffline }) {
  const placed = sites.filter((s) => Number.isFinite(s.latitude) && Number.isFinite(s.longitude));
  if (!mapSource || !placed.length) return null;
  let L;
  try { L = await loadLeaflet(); } catch { onOffline(); return null; }
  container.hidden = false;
  const map = L.map(container, { scrollWheelZoom: false, attributionControl: true });
  let loaded = 0;
  let gaveUp = false;
  const giveUp = () => {
    if (loaded || gaveUp) return;
    gaveUp = true;
    map.remove();
    container.hidden = true;
    container.replaceChildren();
    onOffline();
  };
  const layer = L.tileLayer(mapSource.tiles, { attribution: mapSource.attribution, maxZoom: 18 });
  layer.on('tileload', () => { loaded += 1; container.dataset.tiles = 'loaded'; });
  // `load` fires when every visible tile has finished, loaded or failed.
  layer.on('load', () => { if (!loaded) giveUp(); });
  const timer = setTimeout(giveUp, OFFLINE_AFTER_MS);
  layer.addTo(map);
  const bounds = [];
  for (const site of placed) {
    const at = [site.latitude, site.longitude];
    bounds.push(at);
    const colour = KIND_COLOURS[site.kind] || KIND_COLOURS.other;
    const marker = L.circleMarker(at, { radius: 8, color: colour, fillColor: colour, fillOpacity: 0.8 });
    const link = document.createElement('a');
    const href = hrefOf(site);
    if (href) link.href = href;
    link.textContent = siteName(site);
    link.className = 'map-site';
    link.setAttribute('translate', 'no');
    const label = document.createElement('div');
    label.append(link, document.createElement('br'), t(`kind.${site.kind || 'other'}`));
    marker.bindPopup(label);
    marker.bindTooltip(siteName(site));
    marker.addTo(map);
  }
  if (bounds.length === 1) map.setView(bounds[0], 13);
  else map.fitBounds(bounds, { padding: [24, 24], maxZoom: 14 });
  container.dataset.sites = String(placed.length);
  return { dispose() { clearTimeout(timer); if (!gaveUp) map.remove(); } };
}
