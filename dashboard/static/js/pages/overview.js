// Overview: every site with its kind, device health and open alerts; refreshed every 10 s.
import { html, mount } from '../dom.js';
import { ago, dateTime } from '../format.js';
import { t } from '../i18n.js';
import { alertList, wireAcknowledge } from '../alerts.js';
import { mapSource, siteMap } from '../map.js';
import { devices, health, openAlerts, siteKind, sites as listSites } from '../sites.js';

function groupBySite(list) {
  const sites = new Map();
  for (const d of list) {
    if (!sites.has(d.site)) sites.set(d.site, []);
    sites.get(d.site).push(d);
  }
  return [...sites.entries()].sort(([a], [b]) => a.localeCompare(b));
}

function siteHref(site, kind) {
  return ['farm', 'forest', 'factory'].includes(kind) ? `#/${kind}/${encodeURIComponent(site)}` : null;
}

function siteCard(site, devs, alertCount, registered) {
  const kind = registered?.kind || siteKind(devs);
  const href = siteHref(site, kind);
  const online = devs.filter((d) => health(d) === 'online').length;
  return html`
    <li class="card site" data-site="${site}" data-kind="${kind}">
      <div class="site-head">
        ${href ? html`<a href="${href}" class="site-name" translate="no">${site}</a>` : html`<span class="site-name" translate="no">${site}</span>`}
        <span class="badge kind">${t(`kind.${kind}`)}</span>
      </div>
      ${registered?.municipality ? html`<p class="muted place">${registered.municipality}</p>` : ''}
      <p class="site-stats">
        <span>${t('overview.devicesOnline', { online, total: devs.length })}</span>
        <span class="${alertCount ? 'alert-count hot' : 'alert-count'}">${t('overview.openAlerts', { n: alertCount })}</span>
      </p>
      <ul class="devices">${devs.map((d) => {
        const state = health(d);
        return html`<li data-device="${d.device}">
          <span class="dot ${state}" aria-hidden="true"></span>
          <span class="device-name" translate="no">${d.device}</span>
          <span class="state">${t(`health.${state}`)}</span>
          <time class="seen" datetime="${d.last_seen || ''}" title="${dateTime(d.last_seen)}">${t('overview.lastSeen', { when: ago(d.last_seen) })}</time>
        </li>`;
      })}</ul>
    </li>`;
}

/** The overview page. */
export async function render(root) {
  mount(root, html`
    <h1>${t('overview.title')}</h1>
    <section class="summary" id="summary"></section>
    <div class="site-map" id="site-map" hidden aria-label="${t('overview.map')}"></div>
    <p class="muted" id="map-offline" hidden>${t('overview.mapOffline')}</p>
    <div class="columns">
      <section><h2>${t('overview.sites')}</h2><ul class="grid" id="sites"><li class="muted">${t('common.loading')}</li></ul></section>
      <section><h2>${t('overview.alerts')}</h2><div id="alerts"></div></section>
    </div>`);
  let registered = new Map();
  const refresh = async () => {
    const [list, alerts, known] = await Promise.all([devices(), openAlerts(), listSites()]);
    registered = new Map(known.filter((s) => s.kind).map((s) => [s.site, s]));
    const bySite = groupBySite(list);
    for (const site of registered.keys()) {
      if (!bySite.some(([name]) => name === site)) bySite.push([site, []]);
    }
    bySite.sort(([a], [b]) => a.localeCompare(b));
    const online = list.filter((d) => health(d) === 'online').length;
    mount(root.querySelector('#summary'), html`
      <div class="stat"><span class="big">${bySite.length}</span><span>${t('overview.statSites')}</span></div>
      <div class="stat"><span class="big">${online}/${list.length}</span><span>${t('overview.statOnline')}</span></div>
      <div class="stat"><span class="big" id="alert-total">${alerts.length}</span><span>${t('overview.statAlerts')}</span></div>`);
    const sites = root.querySelector('#sites');
    mount(sites, bySite.length
      ? bySite.map(([site, devs]) => siteCard(site, devs, alerts.filter((a) => a.site === site).length, registered.get(site)))
      : html`<li class="empty">${t('overview.noSites')}</li>`);
    mount(root.querySelector('#alerts'), alertList(alerts));
  };
  await refresh();
  const unwire = wireAcknowledge(root.querySelector('#alerts'), refresh);
  let map = null;
  if (mapSource) {
    const offline = () => { root.querySelector('#map-offline').hidden = false; };
    map = await siteMap(root.querySelector('#site-map'), [...registered.values()], {
      hrefOf: (site) => siteHref(site.site, site.kind),
      onOffline: offline,
    });
  }
  return { poll: refresh, dispose() { unwire(); map?.dispose(); } };
}
