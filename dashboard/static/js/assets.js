// The asset registry as the pages see it: what a site, field, stand and bin holds (the form
// definitions), the API paths that change them, and how an entry is named and summarised.
import { api, features, seg, tenantPath } from './api.js';
import { html } from './dom.js';
import { date, hours, number } from './format.js';
import { lang, t, tOr } from './i18n.js';

// Which entries a site of each kind holds, and the registry's list of them.
export const ENTRY_OF_SITE = { farm: 'field', forest: 'stand', factory: 'bin' };
export const LIST_OF = { field: 'fields', stand: 'stands', bin: 'bins' };

const KINDS = [['farm', () => t('kind.farm')], ['forest', () => t('kind.forest')], ['factory', () => t('kind.factory')]];
const CROPS = ['lettuce', 'apple', 'rice', 'grape'].map((c) => [c, () => tOr(`crop.${c}`, c)]);
const SPECIES = ['larch', 'sugi'].map((s) => [s, () => tOr(`species.${s}`, s)]);
const ID_HINT = () => t('reg.idHint');

export const SITE_FIELDS = [
  { name: 'site', label: () => t('reg.siteId'), type: 'id', required: true, createOnly: true, hint: ID_HINT },
  { name: 'name_ja', label: () => t('reg.nameJa'), type: 'text', required: true },
  { name: 'name_en', label: () => t('reg.nameEn'), type: 'text' },
  { name: 'kind', label: () => t('reg.kind'), type: 'choice', options: KINDS, required: true, createOnly: true },
  { name: 'municipality', label: () => t('reg.municipality'), type: 'text' },
  { name: 'latitude', label: () => t('reg.latitude'), type: 'number', min: -90, max: 90, required: true },
  { name: 'longitude', label: () => t('reg.longitude'), type: 'number', min: -180, max: 180, required: true },
  { name: 'altitude_m', label: () => t('reg.elevation'), type: 'number', required: true },
];

export const ENTRY_FIELDS = {
  field: [
    { name: 'asset', label: () => t('reg.fieldId'), type: 'id', required: true, createOnly: true, hint: ID_HINT },
    { name: 'name', label: () => t('reg.name'), type: 'text' },
    { name: 'crop', label: () => t('farm.crop'), type: 'text', list: CROPS, required: true },
    { name: 'variety', label: () => t('reg.variety'), type: 'text' },
    { name: 'area_ha', label: () => t('reg.areaHa'), type: 'number', min: 0, required: true },
    { name: 'seasons', label: () => t('reg.seasons'), type: 'seasons' },
  ],
  stand: [
    { name: 'asset', label: () => t('reg.standId'), type: 'id', required: true, createOnly: true, hint: ID_HINT },
    { name: 'name', label: () => t('reg.name'), type: 'text' },
    { name: 'species', label: () => t('forest.species'), type: 'select', options: SPECIES, required: true },
    { name: 'area_ha', label: () => t('reg.areaHa'), type: 'number', min: 0, required: true },
    { name: 'planting_year', label: () => t('reg.plantingYear'), type: 'year', min: 1600, max: 2100 },
    { name: 'age_on', label: () => t('reg.inventoryDate'), type: 'date', required: true, hint: () => t('reg.inventoryHint') },
    { name: 'age_years', label: () => t('reg.ageYears'), type: 'number', min: 0, hint: () => t('reg.ageHint') },
    { name: 'site_index_m', label: () => t('reg.siteIndex'), type: 'number', min: 0 },
    { name: 'volume_m3_ha', label: () => t('reg.volume'), type: 'number', min: 0 },
  ],
  bin: [
    { name: 'asset', label: () => t('reg.binId'), type: 'id', required: true, createOnly: true, hint: ID_HINT },
    { name: 'item', label: () => t('reg.item'), type: 'text', required: true },
    { name: 'unit_kg', label: () => t('reg.unitKg'), type: 'number', min: 0, required: true },
    { name: 'tare_kg', label: () => t('reg.tareKg'), type: 'number', min: 0 },
    { name: 'capacity', label: () => t('reg.capacity'), type: 'integer', min: 0, required: true },
    { name: 'reorder_point', label: () => t('reg.reorderPoint'), type: 'integer', min: 0 },
    { name: 'lead_time_h', label: () => t('reg.leadTimeH'), type: 'number', min: 0, required: true },
    { name: 'supplier', label: () => t('reg.supplier'), type: 'text' },
    { name: 'tolerance', label: () => t('reg.tolerance'), type: 'integer', min: 0 },
  ],
};

// What an entry keeps besides what its form edits (the attachment is set by its own form).
const ATTACHMENT = { field: ['device', 'sensors'], stand: ['device', 'sensors'], bin: ['device', 'weight_sensor', 'count_sensor'] };

/** The whole registry of the tenant: {sites, fields, stands, bins}. */
export async function loadRegistry() {
  const answer = await api(tenantPath('/registry'));
  return { sites: [], fields: [], stands: [], bins: [], ...answer };
}

/** The entries of `site` of one kind. */
export function entriesOf(registry, site, kind) {
  return (registry[LIST_OF[kind]] || []).filter((e) => e.site === site);
}

/** A site's name in the chosen language (the other one, or its id, when missing). */
export function siteName(s) {
  if (!s) return '';
  const own = lang() === 'ja' ? s.name_ja : s.name_en;
  return own || s.name_ja || s.name_en || s.site;
}

/** The name people call an entry: its name, else its item, else its id. */
export function entryName(e) {
  return e.name || e.item || e.asset;
}

/** The sensor channels an entry is attached to (none: not attached). */
export function attachedSensors(kind, e) {
  if (!e.device) return [];
  if (kind === 'bin') return [e.weight_sensor, e.count_sensor].filter(Boolean);
  return e.sensors || [];
}

/** A one-line description of an entry. */
export function entrySummary(kind, e) {
  if (kind === 'field') {
    const crop = tOr(`crop.${e.crop}`, e.crop);
    return [e.variety ? `${crop} (${e.variety})` : crop, `${number(e.area_ha, 2)} ha`].join(' · ');
  }
  if (kind === 'stand') {
    const parts = [tOr(`species.${e.species}`, e.species), `${number(e.area_ha, 2)} ha`];
    if (e.planting_year) parts.push(t('reg.plantedIn', { year: e.planting_year }));
    return parts.join(' · ');
  }
  return [`${number(e.unit_kg, 3)} kg/${t('reg.perItem')}`, t('reg.capacityOf', { n: number(e.capacity, 0) })].join(' · ');
}

/** The API path of an entry (or of its list when `asset` is omitted). */
export function entryPath(site, kind, asset = null) {
  const base = `/registry/sites/${seg(site)}/${LIST_OF[kind]}`;
  return tenantPath(asset === null ? base : `${base}/${seg(asset)}`);
}

/** The page of an entry: its charts and work records. */
export function entryHref(site, kind, asset) {
  return `#/${kind}/${encodeURIComponent(site)}/${encodeURIComponent(asset)}`;
}

// A change names its entry in the path: the body leaves out the site and the entry's id.
function changeOf(values) {
  const { site: _site, asset: _asset, ...rest } = values;
  return rest;
}

// What the form gives, with what it does not edit kept (the device attached), and a stand's
// age worked out from its planting year when only that is given.
function entryBody(kind, values, previous) {
  // An empty input means none, except where the registry counts none as 0 (an empty bin's tare).
  const body = { ...values };
  if (body.tare_kg === null) body.tare_kg = 0;
  delete body.seasons;
  for (const name of ATTACHMENT[kind]) {
    if (previous && name in previous) body[name] = previous[name];
  }
  if (kind === 'stand' && body.age_years === null && Number.isInteger(body.planting_year) && body.age_on) {
    body.age_years = Math.max(0, Number(body.age_on.slice(0, 4)) - body.planting_year);
  }
  return body;
}

/** Create or replace a site. */
export function saveSite(values, existing) {
  if (existing) {
    return api(tenantPath(`/registry/sites/${seg(existing.site)}`), { method: 'PUT', body: { ...changeOf(values), kind: existing.kind } });
  }
  return api(tenantPath('/registry/sites'), { method: 'POST', body: values });
}

/** Create or replace an entry of `site`, keeping what its form does not edit. */
export function saveEntry(site, kind, values, existing) {
  const body = entryBody(kind, values, existing);
  if (existing) {
    return api(entryPath(site, kind, existing.asset), { method: 'PUT', body: changeOf({ ...existing, ...body }) });
  }
  const { site: _site, ...created } = body;
  return api(entryPath(site, kind), { method: 'POST', body: created });
}

/** Attach a device (and channels) to an entry, or detach it with device ''. */
export function attach(site, kind, entry, attachment) {
  return api(entryPath(site, kind, entry.asset), { method: 'PUT', body: changeOf({ ...entry, ...attachment }) });
}

/** Retire an entry: it leaves the registry and keeps its history. */
export function retire(site, kind, asset) {
  return api(entryPath(site, kind, asset), { method: 'DELETE' });
}

/** Who changed an entry when, and which device measured it when. */
export function history(site, asset) {
  return api(tenantPath(`/registry/sites/${seg(site)}/assets/${seg(asset)}/history`));
}

/**
 * Links to the registered entries of `site` (for a farm, forest or factory page), or '' when
 * this server has no registry or the site holds none.
 */
export async function entryLinks(site, siteKind) {
  if (!features.has('registry')) return '';
  const kind = ENTRY_OF_SITE[siteKind];
  const entries = entriesOf(await loadRegistry(), site, kind).sort((a, b) => a.asset.localeCompare(b.asset));
  if (!entries.length) return '';
  return html`<nav class="entry-links" aria-label="${t('reg.entriesOfSite')}">${entries.map((e) => html`
    <a href="${entryHref(site, kind, e.asset)}" class="small-button" data-entry-link="${e.asset}" translate="no">${entryName(e)}</a>`)}</nav>`;
}

function fact(label, value, raw = '') {
  return html`<div><dt>${label}</dt><dd data-raw="${raw}">${value}</dd></div>`;
}

/** What the registry says of an entry, as a list of facts. */
export function entryFacts(kind, e) {
  const none = '–';
  const rows = [];
  if (kind === 'field') {
    rows.push(
      fact(t('farm.crop'), tOr(`crop.${e.crop}`, e.crop), e.crop),
      fact(t('reg.variety'), e.variety || none),
      fact(t('reg.areaHa'), number(e.area_ha, 2), e.area_ha),
      ...(e.plantings || []).map((p, i) => fact(t('form.planting'),
        `${date(p)} → ${e.expected_harvests?.[i] ? date(e.expected_harvests[i]) : none}`, p)),
    );
  } else if (kind === 'stand') {
    rows.push(
      fact(t('forest.species'), tOr(`species.${e.species}`, e.species), e.species),
      fact(t('reg.areaHa'), number(e.area_ha, 2), e.area_ha),
      fact(t('reg.plantingYear'), e.planting_year ?? none, e.planting_year ?? ''),
      fact(t('reg.ageYears'), `${number(e.age_years, 1)} (${date(e.age_on)})`, e.age_years),
      fact(t('reg.siteIndex'), number(e.site_index_m, 1), e.site_index_m ?? ''),
      fact(t('reg.volume'), number(e.volume_m3_ha, 1), e.volume_m3_ha ?? ''),
    );
  } else {
    rows.push(
      fact(t('reg.item'), e.item),
      fact(t('reg.unitKg'), number(e.unit_kg, 4), e.unit_kg),
      fact(t('reg.tareKg'), number(e.tare_kg, 2), e.tare_kg),
      fact(t('reg.capacity'), number(e.capacity, 0), e.capacity),
      fact(t('reg.reorderPoint'), number(e.reorder_point, 0), e.reorder_point ?? ''),
      fact(t('reg.leadTimeH'), hours(e.lead_time_h), e.lead_time_h),
      fact(t('reg.supplier'), e.supplier || none),
      fact(t('reg.tolerance'), number(e.tolerance, 0), e.tolerance ?? ''),
    );
  }
  return html`<dl class="facts compact" id="entry-facts">${rows}</dl>`;
}
