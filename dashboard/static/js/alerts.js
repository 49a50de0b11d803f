// The alert list shared by the overview and factory pages, with acknowledge for operators.
import { api, canAcknowledge, tenantPath } from './api.js';
import { html } from './dom.js';
import { dateTime, number } from './format.js';
import { lang, t } from './i18n.js';

// Alerts explain themselves in both languages; an old alert stored with an English reason only
// keeps it folded away in the Japanese view.
function reason(alert) {
  if (lang() === 'ja' && alert.reason_ja) return html`<div class="alert-reason">${alert.reason_ja}</div>`;
  if (!alert.reason) return '';
  if (lang() === 'en') return html`<div class="alert-reason" translate="no">${alert.reason}</div>`;
  return html`<details class="alert-reason"><summary>${t('alerts.detail')}</summary><span translate="no">${alert.reason}</span></details>`;
}

/** Markup of a list of alerts; the acknowledge button only for roles that may use it. */
export function alertList(alerts, { showSite = true } = {}) {
  if (!alerts.length) return html`<p class="empty" data-empty="alerts">${t('alerts.none')}</p>`;
  const ack = canAcknowledge();
  return html`<ul class="alerts">${alerts.map((a) => html`
    <li class="alert kind-${a.kind}" data-alert-id="${a.id}">
      <div class="alert-head">
        <strong>${t(`alertkind.${a.kind}`)}</strong>
        <span class="score" title="${t('alerts.score')}">${number(a.score, 2)}</span>
      </div>
      <div class="alert-where" translate="no">${showSite ? `${a.site} / ` : ''}${a.device} / ${a.sensor}</div>
      ${reason(a)}
      <div class="alert-foot">
        <time datetime="${a.raised_at}">${dateTime(a.raised_at)}</time>
        ${ack ? html`<button type="button" class="ack" data-ack="${a.id}">${t('alerts.acknowledge')}</button>` : ''}
      </div>
    </li>`)}</ul>`;
}

/** Handle clicks on acknowledge buttons under `root`; `after` refreshes the page's data. */
export function wireAcknowledge(root, after) {
  const onClick = async (event) => {
    const button = event.target.closest('button[data-ack]');
    if (!button || !canAcknowledge()) return;
    button.disabled = true;
    try {
      await api(tenantPath(`/alerts/${encodeURIComponent(button.dataset.ack)}/acknowledge`), { method: 'POST' });
      button.closest('[data-alert-id]')?.remove();
    } catch {
      button.disabled = false;
      button.textContent = t('alerts.retry');
    }
    await after();
  };
  root.addEventListener('click', onClick);
  return () => root.removeEventListener('click', onClick);
}
