// The asset registry: the tenant's sites and, per site, its fields, stands or bins, which
// device measures each, and who changed what when. Operators and admins edit; others read.
import { canManageAssets } from '../api.js';
import { html, mount } from '../dom.js';
import { date, dateTime, number } from '../format.js';
import { t } from '../i18n.js';
import { devices } from '../sites.js';
import { errorText, formMarkup, wireForm } from '../forms.js';
import { tokyoToday } from '../records.js';
import {
  ENTRY_FIELDS, ENTRY_OF_SITE, SITE_FIELDS, attach, attachedSensors, entriesOf, entryHref,
  entryName, entrySummary, history, loadRegistry, retire, saveEntry, saveSite, siteName,
} from '../assets.js';

const HEADINGS = { field: () => t('reg.fields'), stand: () => t('reg.stands'), bin: () => t('reg.bins') };
const ADD = { field: () => t('reg.addField'), stand: () => t('reg.addStand'), bin: () => t('reg.addBin') };
const NONE = { field: () => t('reg.noFields'), stand: () => t('reg.noStands'), bin: () => t('reg.noBins') };

function attachmentLine(kind, e) {
  if (!e.device) return html`<p class="small attach" data-attached="">${t('reg.notAttached')}</p>`;
  const sensors = attachedSensors(kind, e);
  return html`<p class="small attach" data-attached="${e.device}">${t('reg.measuredBy')}
    <span translate="no">${e.device}${sensors.length ? ` (${sensors.join(', ')})` : ` (${t('reg.allChannels')})`}</span></p>`;
}

function seasonsLine(e) {
  if (!e.plantings?.length) return '';
  return html`<p class="small muted seasons-line">${e.plantings.map((p, i) => html`<span class="season-chip">${date(p)} → ${e.expected_harvests?.[i] ? date(e.expected_harvests[i]) : '–'}</span>`)}</p>`;
}

function entryItem(site, kind, e, canEdit) {
  return html`<li class="entry" data-asset="${e.asset}" data-entry-kind="${kind}">
    <div class="entry-head">
      <a class="entry-name" href="${entryHref(site, kind, e.asset)}" translate="no">${entryName(e)}</a>
      <span class="muted small" translate="no">${e.asset}</span>
    </div>
    <p class="small">${entrySummary(kind, e)}</p>
    ${kind === 'field' ? seasonsLine(e) : ''}
    ${attachmentLine(kind, e)}
    <div class="entry-actions">
      ${canEdit ? html`<button type="button" class="small-button" data-action="edit-entry">${t('reg.edit')}</button>
      <button type="button" class="small-button" data-action="attach">${t('reg.attach')}</button>` : ''}
      <button type="button" class="small-button" data-action="history">${t('reg.history')}</button>
      ${canEdit ? html`<button type="button" class="small-button danger" data-action="retire">${t('reg.retire')}</button>` : ''}
    </div>
    <div class="slot" data-slot="entry"></div>
  </li>`;
}

function siteCard(registry, s, canEdit) {
  const kind = ENTRY_OF_SITE[s.kind];
  const entries = entriesOf(registry, s.site, kind).sort((a, b) => a.asset.localeCompare(b.asset));
  return html`<li class="card reg-site" data-site="${s.site}" data-kind="${s.kind}">
    <div class="site-head">
      <a class="site-name" href="#/${s.kind}/${encodeURIComponent(s.site)}" translate="no">${siteName(s)}</a>
      <span class="badge kind">${t(`kind.${s.kind}`)}</span>
    </div>
    <p class="muted small"><span translate="no">${s.site}</span>${s.municipality ? html` · <span translate="no">${s.municipality}</span>` : ''}
      · ${number(s.latitude, 5)}, ${number(s.longitude, 5)} · ${t('reg.elevationOf', { m: number(s.altitude_m, 0) })}</p>
    <div class="entry-actions">
      ${canEdit ? html`<button type="button" class="small-button" data-action="edit-site">${t('reg.editSite')}</button>` : ''}
      <button type="button" class="small-button" data-action="site-history">${t('reg.history')}</button>
    </div>
    <div class="slot" data-slot="site"></div>
    <h3>${HEADINGS[kind]()}</h3>
    ${entries.length ? html`<ul class="entries">${entries.map((e) => entryItem(s.site, kind, e, canEdit))}</ul>`
      : html`<p class="empty" data-empty="entries">${NONE[kind]()}</p>`}
    ${canEdit ? html`<button type="button" class="secondary" data-action="add-entry">${ADD[kind]()}</button>` : ''}
    <div class="slot" data-slot="new-entry"></div>
  </li>`;
}

function historyMarkup(answer, { withDevices = true } = {}) {
  const versions = [...(answer.versions || [])].reverse();
  const attachments = [...(answer.attachments || [])].reverse();
  return html`<div class="history" data-history>
    <h4>${t('reg.versions')}</h4>
    <ol class="versions">${versions.map((v) => html`<li data-change="${v.change}">
      <time datetime="${v.at}">${dateTime(v.at)}</time> · ${t(`change.${v.change}`)} · <span translate="no">${v.by || '–'}</span></li>`)}</ol>
    ${withDevices ? html`<h4>${t('reg.attachments')}</h4>
    ${attachments.length ? html`<ol class="attachments">${attachments.map((a) => html`<li data-device="${a.device}">
      <span translate="no">${a.device}${a.sensors?.length ? ` (${a.sensors.join(', ')})` : ''}</span>
      · <time datetime="${a.from}">${dateTime(a.from)}</time> – ${a.to ? html`<time datetime="${a.to}">${dateTime(a.to)}</time>` : t('reg.untilNow')}</li>`)}</ol>`
      : html`<p class="empty small">${t('reg.neverAttached')}</p>`}` : ''}
  </div>`;
}

function attachFields(kind, devs, deviceId) {
  const options = [['', () => t('reg.noDevice')], ...devs.map((d) => [d.device, () => d.device])];
  const device = devs.find((d) => d.device === deviceId);
  const option = (s) => [s.sensor, () => `${s.sensor} · ${t(`sensorkind.${s.kind}`)}`];
  const sensors = device?.sensors || [];
  const channels = sensors.map(option);
  // A bin's load cell and counter are offered from the channels of those kinds.
  const ofKind = (kind) => {
    const found = sensors.filter((s) => s.kind === kind);
    return (found.length ? found : sensors).map(option);
  };
  const fields = [{ name: 'device', label: () => t('reg.device'), type: 'select', options }];
  if (kind === 'bin') {
    const none = ['', () => t('reg.noChannel')];
    fields.push(
      { name: 'weight_sensor', label: () => t('reg.weightSensor'), type: 'select', options: [none, ...ofKind('bin_weight')] },
      { name: 'count_sensor', label: () => t('reg.countSensor'), type: 'select', options: [none, ...ofKind('item_count')] },
    );
  } else {
    fields.push({ name: 'sensors', label: () => t('reg.channels'), type: 'checks', options: channels, hint: () => t('reg.channelsHint') });
  }
  return fields;
}

/** The registry page. */
export async function render(root) {
  const canEdit = canManageAssets();
  mount(root, html`
    <h1>${t('reg.title')}</h1>
    <p class="muted">${canEdit ? t('reg.intro') : t('reg.introRead')}</p>
    ${canEdit ? html`<button type="button" class="primary" data-action="add-site">${t('reg.addSite')}</button>` : ''}
    <div class="slot" data-slot="new-site"></div>
    <p class="ok" id="reg-status" role="status" hidden></p>
    <ul class="grid reg-sites" id="reg-sites"><li class="muted">${t('common.loading')}</li></ul>`);
  const list = root.querySelector('#reg-sites');
  const status = root.querySelector('#reg-status');
  let registry = await loadRegistry();

  const draw = () => {
    const sites = [...registry.sites].sort((a, b) => a.site.localeCompare(b.site));
    mount(list, sites.length ? sites.map((s) => siteCard(registry, s, canEdit))
      : html`<li class="empty" data-empty="sites">${t('reg.noSites')}</li>`);
  };
  // The confirmation is shown where the change was made (a phone shows little of the page).
  const said = (text, where) => {
    const card = where?.site && list.querySelector(`[data-site="${CSS.escape(where.site)}"]`);
    const item = card && where.asset && card.querySelector(`[data-asset="${CSS.escape(where.asset)}"]`);
    const slot = item?.querySelector('[data-slot="entry"]') || card?.querySelector('[data-slot="site"]');
    status.hidden = Boolean(slot);
    if (slot) {
      mount(slot, html`<p class="ok" role="status">${text}</p>`);
      slot.scrollIntoView({ block: 'nearest' });
    } else {
      status.textContent = text;
    }
  };
  const closeAll = () => { for (const slot of root.querySelectorAll('.slot')) mount(slot, ''); };
  const reload = async (text, where) => {
    registry = await loadRegistry();
    closeAll();
    draw();
    if (text) said(text, where);
  };
  const openForm = (slot, name, fields, values, creating, save, site = null) => {
    closeAll();
    mount(slot, formMarkup(name, fields, values, { creating }));
    const form = slot.querySelector('form');
    const done = (saved) => reload(t('reg.saved'), { site: saved?.site ?? site ?? values.site, asset: name === 'site' ? null : saved?.asset ?? values.asset });
    wireForm(form, fields, { save, done, cancel: () => mount(slot, '') });
    form.querySelector('input:not([readonly]):not([type="radio"]), select')?.focus();
    return form;
  };

  const openAttach = async (slot, site, kind, entry) => {
    closeAll();
    mount(slot, html`<p class="muted">${t('common.loading')}</p>`);
    let devs = await devices(site);
    const build = (deviceId, values) => {
      const fields = attachFields(kind, devs, deviceId);
      mount(slot, html`${devs.length ? '' : html`<p class="empty small">${t('reg.noDevices')}</p>`}
        ${formMarkup('attach', fields, values, { submit: () => t('reg.attachSave') })}`);
      const form = slot.querySelector('form');
      // A device that has just begun to send may not be listed yet: the list can be asked again.
      form.querySelector('[data-field="device"]').insertAdjacentHTML('beforeend',
        html`<button type="button" class="small-button" data-reload-devices>${t('reg.reloadDevices')}</button>`.text);
      wireForm(form, fields, {
        save: (v) => attach(site, kind, entry, v.device ? v
          : { device: '', ...(kind === 'bin' ? { weight_sensor: '', count_sensor: '' } : { sensors: [] }) }),
        done: () => reload(t('reg.attached'), { site, asset: entry.asset }),
        cancel: () => mount(slot, ''),
      });
      // The channels offered are those of the chosen device.
      form.elements.namedItem('device').addEventListener('change', (event) => {
        build(event.target.value, { device: event.target.value });
        slot.querySelector('select[name="device"]').focus();
      });
      form.querySelector('[data-reload-devices]').addEventListener('click', async () => {
        const chosen = form.elements.namedItem('device').value;
        devs = await devices(site);
        build(chosen, { device: chosen });
        slot.querySelector('[data-reload-devices]').focus();
      });
    };
    const current = { device: entry.device, sensors: entry.sensors, weight_sensor: entry.weight_sensor, count_sensor: entry.count_sensor };
    build(entry.device, current);
  };

  const openHistory = async (slot, site, asset, options) => {
    if (slot.querySelector('[data-history]')) { mount(slot, ''); return; }
    closeAll();
    mount(slot, html`<p class="muted">${t('common.loading')}</p>`);
    try {
      mount(slot, historyMarkup(await history(site, asset), options));
    } catch {
      mount(slot, html`<p class="error">${t('error.load')}</p>`);
    }
  };

  const onClick = async (event) => {
    const button = event.target.closest('button[data-action]');
    if (!button) return;
    const action = button.dataset.action;
    const card = button.closest('[data-site]');
    const site = card?.dataset.site;
    const siteEntry = registry.sites.find((s) => s.site === site);
    const item = button.closest('[data-asset]');
    const kind = item?.dataset.entryKind || (siteEntry && ENTRY_OF_SITE[siteEntry.kind]);
    const entry = item && entriesOf(registry, site, kind).find((e) => e.asset === item.dataset.asset);
    const slotOf = (name) => (item || card || root).querySelector(`[data-slot="${name}"]`);
    if (action === 'add-site') {
      openForm(root.querySelector('[data-slot="new-site"]'), 'site', SITE_FIELDS, { kind: 'farm' }, true, (v) => saveSite(v, null));
    } else if (action === 'edit-site') {
      openForm(slotOf('site'), 'site', SITE_FIELDS, siteEntry, false, (v) => saveSite(v, siteEntry));
    } else if (action === 'site-history') {
      await openHistory(slotOf('site'), site, '_site', { withDevices: false });
    } else if (action === 'add-entry') {
      openForm(slotOf('new-entry'), kind, ENTRY_FIELDS[kind], kind === 'stand' ? { age_on: tokyoToday() } : {}, true, (v) => saveEntry(site, kind, v, null), site);
    } else if (action === 'edit-entry') {
      openForm(slotOf('entry'), kind, ENTRY_FIELDS[kind], entry, false, (v) => saveEntry(site, kind, v, entry), site);
    } else if (action === 'attach') {
      await openAttach(slotOf('entry'), site, kind, entry);
    } else if (action === 'history') {
      await openHistory(slotOf('entry'), site, entry.asset);
    } else if (action === 'retire') {
      // A second tap confirms: retiring hides the entry (its history stays).
      if (button.dataset.confirm !== 'yes') {
        button.dataset.confirm = 'yes';
        button.textContent = t('reg.retireConfirm');
        return;
      }
      button.disabled = true;
      try {
        await retire(site, kind, entry.asset);
        await reload(t('reg.retired'), { site });
      } catch (err) {
        button.disabled = false;
        mount(slotOf('entry'), html`<p class="error" role="alert">${errorText(err)}</p>`);
      }
    }
  };
  root.addEventListener('click', onClick);
  draw();
  return { dispose: () => root.removeEventListener('click', onClick) };
}
