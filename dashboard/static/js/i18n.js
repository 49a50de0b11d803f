// The one translation table: every key has Japanese (default) and English text.
import { TABLE } from './strings.js';

export { TABLE };
const STORE = 'shinshu.lang';
export const LANGUAGES = ['ja', 'en'];

/** The chosen language: Japanese unless English was chosen (kept in localStorage). */
export function lang() {
  const chosen = localStorage.getItem(STORE);
  return LANGUAGES.includes(chosen) ? chosen : 'ja';
}

/** Choose a language; it persists across sessions. */
export function setLang(value) {
  localStorage.setItem(STORE, value);
  document.documentElement.lang = value;
  window.dispatchEvent(new CustomEvent('shinshu:lang'));
}

/** Text of `key` with `{name}` placeholders filled; the key itself if missing (a test catches it). */
export function t(key, params = {}) {
  const entry = TABLE[key];
  if (!entry) {
    console.warn(`missing translation ${key}`);
    return key;
  }
  return entry[lang()].replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ''));
}

/** Text of `key` if the table has it, else `fallback` (for values that come from data). */
export function tOr(key, fallback, params = {}) {
  return TABLE[key] ? t(key, params) : String(fallback ?? '');
}

/** Fill every `data-i18n` element under `root` with its text. */
export function apply(root = document) {
  document.documentElement.lang = lang();
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-label]')) {
    el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  }
}
