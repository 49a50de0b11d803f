// Work records (作業記録) as the pages see them: which kinds fit a field, stand or bin, their
// units, the quick entry form, and the list shown beside the charts.
import { api, seg, tenantPath } from './api.js';
import { html } from './dom.js';
import { date, number, unitLabel } from './format.js';
import { t } from './i18n.js';

export const KINDS_OF_ENTRY = {
  field: ['planting', 'fertilising', 'spraying', 'irrigation', 'harvest'],
  stand: ['inventory', 'thinning', 'felling'],
  bin: ['delivery', 'withdrawal', 'stocktake'],
};

// The kind the quick form proposes first on each kind of entry.
export const DEFAULT_KIND = { field: 'harvest', stand: 'thinning', bin: 'delivery' };

// The units each kind is entered in (those the models read it in), the first one proposed.
export const UNITS = {
  planting: [''],
  fertilising: ['kg', 'L'],
  spraying: ['L', 'kg'],
  irrigation: ['mm', 'm3'],
  harvest: ['kg'],
  inventory: ['m3'],
  thinning: ['m3'],
  felling: ['m3'],
  delivery: ['items'],
  withdrawal: ['items'],
  stocktake: ['items'],
  book_stock: ['items'],
};
// Kinds whose quantity is asked for, and those with a quality grade or a product used.
const WITH_QUANTITY = new Set(['fertilising', 'spraying', 'irrigation', 'harvest', 'inventory',
  'thinning', 'felling', 'delivery', 'withdrawal', 'stocktake']);
const WITH_GRADE = new Set(['harvest']);
const WITH_PRODUCT = new Set(['planting', 'fertilising', 'spraying']);

/** A unit as people read it ("items" is 個 in Japanese). */
export function unitText(unit) {
  return unitLabel(unit);
}

/** Today in Tokyo as YYYY-MM-DD. */
export function tokyoToday(now = Date.now()) {
  return new Date(now + 9 * 3600_000).toISOString().slice(0, 10);
}

/** The records of one entry in [startMs, endMs), newest first. */
export async function loadRecords(site, asset, startMs, endMs) {
  const list = await api(tenantPath('/records'), {
    params: { site, asset, start: new Date(startMs).toISOString(), end: new Date(endMs).toISOString(), include_void: true },
  });
  const order = (r) => `${r.at}|${r.entered ?? ''}`;
  return [...(list || [])].sort((a, b) => order(b).localeCompare(order(a)));
}

/** Enter a record. */
export function addRecord(body) {
  return api(tenantPath('/records'), { method: 'POST', body });
}

/** Void a record (it stays, marked void). */
export function voidRecord(site, record) {
  return api(tenantPath(`/sites/${seg(site)}/records/${seg(record)}`), { method: 'DELETE' });
}

/** The quick entry form: kind buttons, date (today), and the inputs the kind needs. */
export function recordFormMarkup(entryKind, kind) {
  const kinds = KINDS_OF_ENTRY[entryKind];
  const units = UNITS[kind] || [''];
  return html`<form class="record-form" data-form="record" novalidate autocomplete="off">
    <div class="kind-buttons" role="group" aria-label="${t('record.kind')}">${kinds.map((k) => html`
      <button type="button" data-kind="${k}" aria-pressed="${k === kind}">${t(`recordkind.${k}`)}</button>`)}</div>
    <p class="field-error" data-error-for="kind" role="alert" hidden></p>
    <div class="record-inputs">
      <div class="field" data-field="at"><label for="record-at">${t('record.date')}</label>
        <input id="record-at" name="at" type="date" value="${tokyoToday()}" required>
        <p class="field-error" data-error-for="at" role="alert" hidden></p></div>
      ${WITH_QUANTITY.has(kind) ? html`
      <div class="field" data-field="quantity"><label for="record-quantity">${kind === 'stocktake' ? t('record.counted') : t('record.quantity')}</label>
        <input id="record-quantity" name="quantity" type="number" step="any" min="0" inputmode="decimal">
        <p class="field-error" data-error-for="quantity" role="alert" hidden></p></div>
      <div class="field" data-field="unit"><label for="record-unit">${t('record.unit')}</label>
        <select id="record-unit" name="unit">${units.map((u) => html`<option value="${u}">${unitText(u)}</option>`)}</select>
        <p class="field-error" data-error-for="unit" role="alert" hidden></p></div>` : ''}
      ${WITH_GRADE.has(kind) ? html`
      <div class="field" data-field="grade"><label for="record-grade">${t('record.grade')}</label>
        <input id="record-grade" name="grade" type="text" list="record-grades">
        <datalist id="record-grades"><option value="秀"><option value="優"><option value="良"><option value="A"><option value="B"></datalist>
        <p class="field-error" data-error-for="grade" role="alert" hidden></p></div>` : ''}
      ${WITH_PRODUCT.has(kind) ? html`
      <div class="field" data-field="product"><label for="record-product">${kind === 'planting' ? t('record.variety') : t('record.product')}</label>
        <input id="record-product" name="product" type="text">
        <p class="field-error" data-error-for="product" role="alert" hidden></p></div>` : ''}
      <div class="field" data-field="note"><label for="record-note">${t('record.note')}</label>
        <input id="record-note" name="note" type="text">
        <p class="field-error" data-error-for="note" role="alert" hidden></p></div>
    </div>
    <p class="error form-error" role="alert" hidden></p>
    <p class="ok" data-saved role="status" hidden></p>
    <button type="submit" class="primary" data-save>${t('record.add')}</button>
  </form>`;
}

/** The body of a record from the quick form. */
export function recordBody(form, site, asset, kind) {
  const value = (name) => form.elements.namedItem(name)?.value?.trim() ?? '';
  // Work entered as done today is stamped now (it shows where it belongs on today's charts);
  // an earlier day is a date, which the registry takes as noon in Japan.
  const day = value('at');
  const body = { site, asset, kind, at: day === tokyoToday() ? new Date().toISOString() : day };
  const quantity = value('quantity');
  if (quantity !== '') body.quantity = Number.isNaN(Number(quantity)) ? quantity : Number(quantity);
  for (const name of ['unit', 'grade', 'product', 'note']) {
    if (value(name)) body[name] = value(name);
  }
  if (body.quantity === undefined) delete body.unit;
  return body;
}

/** Markup of a list of records; the void button only when `canEdit`. */
export function recordList(records, { canEdit }) {
  if (!records.length) return html`<p class="empty" data-empty="records">${t('record.none')}</p>`;
  return html`<ul class="records">${records.map((r) => html`
    <li class="record${r.voided_by ? ' void' : ''}" data-record="${r.record}" data-kind="${r.kind}">
      <div class="record-head">
        <strong>${t(`recordkind.${r.kind}`)}</strong>
        <time datetime="${r.at}">${date(r.at)}</time>
      </div>
      <div class="record-body">
        ${r.quantity !== null && r.quantity !== undefined ? html`<span data-field="quantity" data-raw="${r.quantity}">${number(r.quantity, 3)} ${unitText(r.unit)}</span>` : ''}
        ${r.grade ? html`<span>${t('record.grade')}: <span translate="no">${r.grade}</span></span>` : ''}
        ${r.product ? html`<span translate="no">${r.product}</span>` : ''}
        ${r.note ? html`<span class="muted" translate="no">${r.note}</span>` : ''}
      </div>
      <div class="record-foot small muted">
        <span>${t('record.by')} <span translate="no">${r.by || '–'}</span></span>
        ${r.voided_by ? html`<span class="badge">${t('record.voided')}</span>` : ''}
        ${canEdit && !r.voided_by ? html`<button type="button" class="link-button" data-void="${r.record}">${t('record.void')}</button>` : ''}
      </div>
    </li>`)}</ul>`;
}
