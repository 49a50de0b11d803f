// Forms built from a list of field definitions: labelled inputs sized for a phone, values read
// back typed, and the API's field-level errors shown next to their inputs in the chosen language.
import { html } from './dom.js';
import { lang, t } from './i18n.js';

let serial = 0;

/*
 * A field definition: { name, label: () => text, type, required, options: [[value, () => text]],
 * step, min, max, list, createOnly, hint: () => text }. Types: text, id (an identifier), number,
 * integer, year, date, choice (a row of radio buttons), select, checks (several values), seasons
 * (rows of planting and expected harvest dates, read as `plantings` and `expected_harvests`).
 */

function inputMarkup(f, value, id, locked) {
  const common = { id, name: f.name };
  if (f.type === 'choice') {
    return html`<div class="choices" role="radiogroup" id="${id}">${f.options.map(([v, label]) => html`
      <label class="choice"><input type="radio" name="${f.name}" value="${v}" ${String(value ?? '') === v ? html`checked` : ''} ${locked ? html`disabled` : ''}> ${label()}</label>`)}</div>`;
  }
  if (f.type === 'select') {
    return html`<select id="${id}" name="${f.name}">${f.options.map(([v, label]) => html`
      <option value="${v}" ${String(value ?? '') === v ? html`selected` : ''}>${label()}</option>`)}</select>`;
  }
  if (f.type === 'checks') {
    const chosen = new Set(value || []);
    if (!f.options.length) return html`<p class="muted small" id="${id}">${t('form.noChoices')}</p>`;
    return html`<div class="checks" id="${id}">${f.options.map(([v, label]) => html`
      <label><input type="checkbox" name="${f.name}" value="${v}" ${chosen.has(v) ? html`checked` : ''}> ${label()}</label>`)}</div>`;
  }
  if (f.type === 'seasons') return seasonsMarkup(value, id);
  const numeric = ['number', 'integer', 'year'].includes(f.type);
  const type = { date: 'date', number: 'number', integer: 'number', year: 'number' }[f.type] || 'text';
  const step = f.step ?? (f.type === 'number' ? 'any' : numeric ? '1' : null);
  const mode = f.type === 'number' ? 'decimal' : numeric ? 'numeric' : null;
  return html`<input id="${common.id}" name="${common.name}" type="${type}" value="${value ?? ''}"
    ${step ? html`step="${step}"` : ''} ${mode ? html`inputmode="${mode}"` : ''}
    ${f.min !== undefined ? html`min="${f.min}"` : ''} ${f.max !== undefined ? html`max="${f.max}"` : ''}
    ${f.list ? html`list="${id}-list"` : ''} ${f.type === 'id' ? html`spellcheck="false" autocapitalize="off" translate="no"` : ''}
    ${f.required ? html`aria-required="true"` : ''} ${locked ? html`readonly` : ''}>
    ${f.list ? html`<datalist id="${id}-list">${f.list.map(([v, label]) => html`<option value="${v}">${label()}</option>`)}</datalist>` : ''}`;
}

function seasonRow(planting = '', harvest = '') {
  return html`<div class="season" data-season>
    <label>${t('form.planting')} <input type="date" name="planting" value="${planting}"></label>
    <label>${t('form.expectedHarvest')} <input type="date" name="harvest" value="${harvest}"></label>
    <button type="button" class="small-button" data-drop-season aria-label="${t('form.dropSeason')}">×</button>
  </div>`;
}

function seasonsMarkup(value, id) {
  const plantings = value?.plantings || [];
  const harvests = value?.expected_harvests || [];
  return html`<div class="seasons" id="${id}">
    <div data-seasons>${plantings.map((p, i) => seasonRow(p, harvests[i] || ''))}</div>
    <button type="button" class="small-button" data-add-season>${t('form.addSeason')}</button>
  </div>`;
}

/**
 * Markup of a form for `fields` filled with `values`. `creating` unlocks create-only fields
 * (an entry's id and a site's kind cannot change once it exists).
 */
export function formMarkup(name, fields, values = {}, { creating = true, submit } = {}) {
  serial += 1;
  return html`<form class="editor" data-form="${name}" novalidate autocomplete="off">
    ${fields.map((f) => {
      const id = `f${serial}-${f.name}`;
      const value = f.type === 'seasons' ? values : values[f.name];
      const locked = f.createOnly && !creating;
      const errorFor = f.type === 'seasons' ? 'plantings expected_harvests' : f.name;
      const group = ['choice', 'checks', 'seasons'].includes(f.type);
      return html`<div class="field" data-field="${f.name}">
        ${group ? html`<span class="label" id="${id}-label">${f.label()}${f.required ? ' *' : ''}</span>`
          : html`<label for="${id}">${f.label()}${f.required ? ' *' : ''}</label>`}
        ${inputMarkup(f, value, id, locked)}
        ${f.hint ? html`<span class="hint">${f.hint()}</span>` : ''}
        <p class="field-error" data-error-for="${errorFor}" role="alert" hidden></p>
      </div>`;
    })}
    <p class="error form-error" role="alert" hidden></p>
    <div class="actions">
      <button type="submit" class="primary" data-save>${submit ? submit() : t('form.save')}</button>
      <button type="button" class="secondary" data-cancel>${t('form.cancel')}</button>
    </div>
  </form>`;
}

/** Wire the season rows' add and remove buttons of `form`. */
export function wireSeasons(form) {
  form.addEventListener('click', (event) => {
    if (event.target.closest('[data-add-season]')) {
      const rows = form.querySelector('[data-seasons]');
      rows.insertAdjacentHTML('beforeend', seasonRow().text);
      rows.lastElementChild.querySelector('input')?.focus();
    }
    const drop = event.target.closest('[data-drop-season]');
    if (drop) drop.closest('[data-season]').remove();
  });
}

function numberOf(text) {
  if (text.trim() === '') return null;
  const value = Number(text);
  // Unreadable text goes to the server as it is, so the answer says what is wrong with it.
  return Number.isNaN(value) ? text.trim() : value;
}

/** The values of `form` for `fields`: numbers as numbers (null when empty), ids trimmed. */
export function readForm(form, fields) {
  const out = {};
  for (const f of fields) {
    if (f.type === 'seasons') {
      const rows = [...form.querySelectorAll('[data-season]')]
        .map((row) => [row.querySelector('[name="planting"]').value, row.querySelector('[name="harvest"]').value])
        .filter(([p, h]) => p || h);
      out.plantings = rows.map(([p]) => p);
      out.expected_harvests = rows.map(([, h]) => h);
    } else if (f.type === 'checks') {
      out[f.name] = [...form.querySelectorAll(`input[name="${f.name}"]:checked`)].map((i) => i.value);
    } else if (f.type === 'choice') {
      out[f.name] = form.querySelector(`input[name="${f.name}"]:checked`)?.value ?? '';
    } else {
      const el = form.elements.namedItem(f.name);
      const text = el ? String(el.value) : '';
      out[f.name] = ['number', 'integer', 'year'].includes(f.type)
        ? numberOf(text) : text.trim();
    }
  }
  return out;
}

/** What went wrong with a request, in the chosen language (field errors joined). */
export function errorText(err) {
  const problems = typeof err?.fieldErrors === 'function' ? err.fieldErrors() : [];
  if (problems.length) return problems.map((p) => (lang() === 'ja' ? p.ja : p.en)).join(' ');
  if (err?.status === 403) return t('form.forbidden');
  if (err?.status === 409) return t('form.conflict');
  if (err?.status === 404) return t('form.gone');
  return t('form.failed');
}

/** Hide every error message of `form`. */
export function clearErrors(form) {
  for (const el of form.querySelectorAll('.field-error, .form-error')) {
    el.hidden = true;
    el.textContent = '';
  }
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

/**
 * Show what the API refused: each field's message next to its input in the chosen language,
 * anything not about a field of this form (or another failure) at the end of the form.
 */
export function showErrors(form, err) {
  clearErrors(form);
  const problems = typeof err?.fieldErrors === 'function' ? err.fieldErrors() : [];
  const general = [];
  for (const p of problems) {
    const text = lang() === 'ja' ? p.ja : p.en;
    const slot = p.field && [...form.querySelectorAll('[data-error-for]')]
      .find((el) => el.dataset.errorFor.split(' ').includes(p.field));
    if (!slot) { general.push(text); continue; }
    slot.textContent = slot.hidden ? text : `${slot.textContent} ${text}`;
    slot.hidden = false;
    const box = slot.closest('[data-field]');
    for (const input of box.querySelectorAll('input, select')) input.setAttribute('aria-invalid', 'true');
  }
  if (!problems.length) general.push(errorText(err));
  const box = form.querySelector('.form-error');
  if (general.length) {
    box.textContent = general.join(' ');
    box.hidden = false;
  }
  form.querySelector('[aria-invalid="true"]')?.focus();
}

/**
 * Handle `form`'s submit: `save(values)` is called with the read values; a refusal shows its
 * errors, success calls `done(answer)`. Cancel calls `cancel()`.
 */
export function wireForm(form, fields, { save, done, cancel }) {
  wireSeasons(form);
  form.querySelector('[data-cancel]')?.addEventListener('click', () => cancel?.());
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = form.querySelector('[data-save]');
    button.disabled = true;
    clearErrors(form);
    try {
      const answer = await save(readForm(form, fields));
      await done?.(answer);
    } catch (err) {
      showErrors(form, err);
    } finally {
      button.disabled = false;
    }
  });
}
