// A research grant as both sides see it: its status badge and terms (sites, licence, embargo,
// expiry), shared by a researcher account's export page and a tenant admin's sharing page.
import { html } from './dom.js';
import { date, dateTime } from './format.js';
import { t, tOr } from './i18n.js';

const DAY_MS = 86_400_000;
const JST_MS = 9 * 3_600_000;

const atJstMidnight = (ms) => (ms + JST_MS) % DAY_MS === 0;

/** The day an embargo opens (a JST midnight, as a date is sent), else its exact time. */
export function opens(iso) {
  if (!iso) return '–';
  return atJstMidnight(Date.parse(iso)) ? date(iso) : dateTime(iso);
}

/** The last day a grant is in force: an expiry at a JST midnight ends the day before it. */
export function lastDay(iso) {
  if (!iso) return '–';
  const ms = Date.parse(iso);
  return atJstMidnight(ms) ? date(new Date(ms - 1).toISOString()) : dateTime(iso);
}

/** The status badge of a grant, in the reader's language. */
export function statusBadge(g) {
  const hot = ['rejected', 'revoked', 'expired'].includes(g.status);
  return html`<span class="badge ${hot ? 'off' : ''}" data-status="${g.status}">${tOr(`grantstatus.${g.status}`, g.status)}</span>`;
}

/** The terms of a grant as a compact list: sites, licence, embargo, expiry (and its note). */
export function termsMarkup(g, { tenant = false } = {}) {
  return html`<dl class="facts compact">
    ${tenant ? html`<div><dt>${t('grant.tenant')}</dt><dd translate="no" data-field="tenant">${g.tenant}</dd></div>` : ''}
    <div><dt>${t('grant.sites')}</dt><dd translate="no" data-field="sites">${g.sites.join(', ')}</dd></div>
    <div><dt>${t('grant.licence')}</dt><dd translate="no" data-field="licence">${g.licence || '–'}</dd></div>
    <div><dt>${t('grant.embargo')}</dt><dd data-field="embargo">${opens(g.embargo)}</dd></div>
    <div><dt>${t('grant.expires')}</dt><dd data-field="expires">${lastDay(g.expires)}</dd></div>
  </dl>
  ${g.purpose ? html`<p class="small"><span class="muted">${t('grant.purpose')}:</span> <span translate="no">${g.purpose}</span></p>` : ''}
  ${g.note ? html`<p class="small" data-field="note"><span class="muted">${t('grant.note')}:</span> <span translate="no">${g.note}</span></p>` : ''}`;
}
