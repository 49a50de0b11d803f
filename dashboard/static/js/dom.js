// Small DOM helpers: an escaping template tag, so data never becomes markup.

/** Markup that is already safe (built by `html`). */
export class Safe {
  constructor(text) { this.text = text; }
  toString() { return this.text; }
}

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text escaped for use in markup and attribute values. */
export function esc(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

function part(value) {
  if (value instanceof Safe) return value.text;
  if (Array.isArray(value)) return value.map(part).join('');
  if (value === null || value === undefined || value === false) return '';
  return esc(value);
}

/** Template tag: interpolated values are escaped unless they are `Safe` (or arrays of them). */
export function html(strings, ...values) {
  let out = strings[0];
  values.forEach((v, i) => { out += part(v) + strings[i + 1]; });
  return new Safe(out);
}

/** Replace the content of `el` with `markup`. */
export function mount(el, markup) {
  el.innerHTML = part(markup);
  return el;
}

/** The first element matching `selector` under `root`. */
export function $(selector, root = document) {
  return root.querySelector(selector);
}
