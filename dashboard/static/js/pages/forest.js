// A forest stand: latest conditions, the rotation recommendation, and the growth and value
// curves it rests on.
import { api, features, seg, tenantPath } from '../api.js';
import { html, mount } from '../dom.js';
import { number } from '../format.js';
import { t, tOr } from '../i18n.js';
import { drawChart } from '../chart.js';
import { devices } from '../sites.js';
import { entryLinks } from '../assets.js';
import { conditionsMarkup, latestOf } from '../conditions.js';

// The stand list says whether the site has a stand with a recommendation, so the rotation is
// asked for only where there is one.
async function loadRotation(site) {
  if (!features.has('stands') || !features.has('rotation')) return null;
  const stands = await api(tenantPath('/stands'), { params: { site } });
  const stand = stands.find((s) => s.rotation_age_years !== null);
  if (!stand) return null;
  return api(tenantPath(`/stands/${seg(site)}/rotation`), { params: { stand: stand.stand } });
}

function rotationMarkup(r) {
  if (!r) return html`<p class="empty" data-empty="rotation">${t('forest.noRotation')}</p>`;
  const p = r.parameters || {};
  const thinning = (r.thinning_years || []).join(', ') || '–';
  return html`<dl class="facts" id="rotation">
    <div><dt>${t('forest.species')}</dt><dd>${tOr(`species.${r.species}`, r.species)} <span translate="no">(${r.stand})</span></dd></div>
    <div><dt>${t('forest.age')}</dt><dd data-field="age" data-raw="${r.age_years}">${t('unit.years', { n: number(r.age_years, 1) })}</dd></div>
    <div><dt>${t('forest.volume')}</dt><dd data-field="volume" data-raw="${r.volume_m3_ha}">${number(r.volume_m3_ha, 1)} m³/ha</dd></div>
    <div class="key"><dt>${t('forest.rotationAge')}</dt><dd data-field="rotation-age" data-raw="${r.rotation_age_years}">${t('unit.years', { n: number(r.rotation_age_years, 1) })}</dd></div>
    <div class="key"><dt>${t('forest.harvestYear')}</dt><dd data-field="harvest-year" data-raw="${r.harvest_year}">${r.harvest_year ?? '–'}</dd></div>
    <div><dt>${t('forest.levAtRotation')}</dt><dd data-field="lev" data-raw="${r.lev ?? ''}">${number(r.lev, 0)}</dd></div>
    <div><dt>${t('forest.maiAge')}</dt><dd>${t('unit.years', { n: number(r.mai_culmination_age_years, 1) })}</dd></div>
    ${r.overdue ? html`<div><dt>${t('forest.overdue')}</dt><dd><span class="badge hot">${t('forest.overdueYes')}</span></dd></div>` : ''}
    <div><dt>${t('forest.thinning')}</dt><dd data-field="thinning" data-raw="${(r.thinning_years || []).join(',')}">${thinning}</dd></div>
    <div><dt>${t('forest.price')}</dt><dd>${number(p.price, 0)}</dd></div>
    <div><dt>${t('forest.harvestCost')}</dt><dd>${number(p.harvest_cost, 0)}</dd></div>
    <div><dt>${t('forest.plantingCost')}</dt><dd>${number(p.planting_cost, 0)}</dd></div>
    <div><dt>${t('forest.discount')}</dt><dd>${number((p.discount_rate ?? NaN) * 100, 2)} %</dd></div>
  </dl>`;
}

async function curve(el, points, key, label, unit, marks) {
  if (!points?.length) {
    mount(el, html`<p class="empty">${t('chart.noData')}</p>`);
    return null;
  }
  return drawChart(el, {
    time: false,
    xLabel: t('forest.ageAxis'),
    yLabel: unit,
    series: [{ label, unit }],
    data: [points.map((p) => p.age), points.map((p) => p[key])],
    markers: () => marks,
  });
}

/** The forest stand page for `site`. */
export async function render(root, [site]) {
  mount(root, html`
    <p class="crumb"><a href="#/">${t('nav.overview')}</a> › ${t('kind.forest')}</p>
    <h1>${site}</h1>
    <div id="entry-links"></div>
    <div class="columns">
      <section class="card"><h2>${t('forest.rotation')}</h2><div id="rotation-box"><p class="muted">${t('common.loading')}</p></div></section>
      <section class="card"><h2>${t('site.latest')}</h2><div id="latest"><p class="muted">${t('common.loading')}</p></div></section>
    </div>
    <section class="card"><h2>${t('forest.growth')}</h2><div id="chart-growth" class="chart-box"></div>
      <h2>${t('forest.value')}</h2><div id="chart-value" class="chart-box"></div>
      <p class="muted small">${t('forest.curveHelp')}</p>
    </section>`);
  const refreshLatest = async () => {
    const devs = await devices(site);
    mount(root.querySelector('#latest'), conditionsMarkup(await latestOf(site, devs)));
  };
  const links = root.querySelector('#entry-links');
  const [rotation] = await Promise.all([
    loadRotation(site).catch(() => null),
    refreshLatest(),
    entryLinks(site, 'forest').then((m) => mount(links, m)).catch(() => {}),
  ]);
  mount(root.querySelector('#rotation-box'), rotationMarkup(rotation));
  // Today's age (solid) and the recommended rotation age (dashed) on both curves.
  const marks = rotation ? [
    { x: rotation.age_years, color: '#2471a3' },
    { x: rotation.rotation_age_years, color: '#c0392b', dashed: true },
  ] : [];
  const charts = [
    await curve(root.querySelector('#chart-growth'), rotation?.growth_curve, 'volume', t('forest.volume'), 'm³/ha', marks),
    await curve(root.querySelector('#chart-value'), rotation?.value_curve, 'lev', t('forest.lev'), '', marks),
  ];
  return { poll: refreshLatest, dispose: () => charts.forEach((c) => c?.dispose()) };
}
