// Notifications: alerts pushed to this browser (anyone who reads), threshold rules (everyone
// reads, operators and admins write), and for operators and admins who else is told (e-mail,
// webhooks) and what could not be delivered (dead letters).
import { api, features, session, tenantPath } from '../api.js';
import { html, mount } from '../dom.js';
import { dateTime, number } from '../format.js';
import { lang, t } from '../i18n.js';
import { errorText, formMarkup, wireForm } from '../forms.js';
import { sites as listSites } from '../sites.js';

const KINDS = [
  'soil_moisture', 'air_temperature', 'soil_temperature', 'relative_humidity', 'leaf_wetness',
  'rainfall', 'wind_speed', 'solar_radiation', 'stem_radius', 'bin_weight', 'item_count',
];
const SEVERITIES = ['info', 'warning', 'critical'];

const canManage = () => ['operator', 'admin'].includes(session.me?.role);

function ruleFields(siteList) {
  return [
    { name: 'name', label: () => t('notify.ruleName'), type: 'text', required: true },
    { name: 'kind', label: () => t('notify.kind'), type: 'select',
      options: KINDS.map((k) => [k, () => t(`sensorkind.${k}`)]) },
    { name: 'comparison', label: () => t('notify.comparison'), type: 'choice',
      options: [['below', () => t('notify.below')], ['above', () => t('notify.above')]] },
    { name: 'threshold', label: () => t('notify.threshold'), type: 'number', required: true },
    { name: 'duration_h', label: () => t('notify.durationH'), type: 'number', required: true, min: 0 },
    { name: 'hysteresis', label: () => t('notify.hysteresis'), type: 'number', min: 0,
      hint: () => t('notify.hysteresisHint') },
    { name: 'site', label: () => t('notify.site'), type: 'select',
      options: [['', () => t('notify.allSites')], ...siteList.map((s) => [s.site, () => s.site])] },
    { name: 'severity', label: () => t('notify.severity'), type: 'select',
      options: SEVERITIES.map((s) => [s, () => t(`severity.${s}`)]) },
  ];
}

function subscriptionFields() {
  return [
    { name: 'channel', label: () => t('notify.channel'), type: 'choice',
      options: [['email', () => t('notify.email')], ['webhook', () => t('notify.webhook')],
        ['apprise', () => t('notify.apprise')]] },
    { name: 'target', label: () => t('notify.target'), type: 'text', required: true,
      hint: () => t('notify.targetHint') },
    { name: 'name', label: () => t('notify.who'), type: 'text' },
    { name: 'lang', label: () => t('notify.lang'), type: 'choice',
      options: [['ja', () => '日本語'], ['en', () => 'English']] },
    { name: 'min_severity', label: () => t('notify.minSeverity'), type: 'select',
      options: SEVERITIES.map((s) => [s, () => t(`severity.${s}`)]) },
    { name: 'quiet_start', label: () => t('notify.quietStart'), type: 'text', hint: () => 'HH:MM' },
    { name: 'quiet_end', label: () => t('notify.quietEnd'), type: 'text', hint: () => 'HH:MM' },
  ];
}

function ruleText(r) {
  const side = r.comparison === 'below' ? t('notify.belowShort') : t('notify.aboveShort');
  return t('notify.ruleText', {
    kind: t(`sensorkind.${r.kind}`), side, threshold: number(r.threshold, 1),
    hours: number(r.duration_min / 60, 1), site: r.site || t('notify.allSites'),
  });
}

function ruleItem(r) {
  return html`<li class="card rule" data-rule="${r.id}">
    <div class="entry-head"><strong>${r.name}</strong>
      <span class="badge">${t(`severity.${r.severity}`)}</span></div>
    <p class="small">${ruleText(r)}</p>
    ${canManage() ? html`<div class="entry-actions">
      <button type="button" class="small-button" data-action="edit-rule">${t('reg.edit')}</button>
      <button type="button" class="small-button danger" data-action="delete-rule">${t('notify.delete')}</button>
    </div>` : ''}
    <div class="slot" data-slot="rule"></div>
  </li>`;
}

function subscriptionItem(s) {
  const quiet = s.quiet_start ? t('notify.quietOf', { start: s.quiet_start, end: s.quiet_end }) : '';
  return html`<li class="card subscription" data-subscription="${s.id}">
    <div class="entry-head"><strong>${t(`notify.${s.channel}`)}</strong>
      <span class="small muted" translate="no">${s.target}</span></div>
    <p class="small">${s.name || ''} · ${s.lang === 'ja' ? '日本語' : 'English'} ·
      ${t('notify.fromSeverity', { severity: t(`severity.${s.min_severity}`) })} ${quiet}</p>
    <div class="entry-actions">
      <button type="button" class="small-button" data-action="test-subscription">${t('notify.test')}</button>
      <button type="button" class="small-button danger" data-action="delete-subscription">${t('notify.delete')}</button></div>
    <p class="small" role="status" data-slot="test"></p>
  </li>`;
}

function deadItem(d) {
  return html`<li class="dead" data-key="${d.key}"><span class="badge">${t(`notify.${d.channel}`)}</span>
    <span class="small">${dateTime(d.done_at || d.queued_at)}</span>
    <span class="small" translate="no">${d.last_error}</span></li>`;
}

function base64Bytes(text) {
  const padded = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

/** Subscribe this browser to pushed alerts; resolves to a status key of `notify.push*`. */
async function enablePush() {
  if (!('serviceWorker' in navigator) || !('PushManager' in window)) return 'pushUnsupported';
  const { application_server_key: key } = await api('/push/key');
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') return 'pushDenied';
  const registration = await navigator.serviceWorker.ready;
  const existing = await registration.pushManager.getSubscription();
  const subscription = existing || await registration.pushManager.subscribe({
    userVisibleOnly: true, applicationServerKey: base64Bytes(key),
  });
  await api(tenantPath('/notifications/push'), {
    method: 'POST', body: { subscription: subscription.toJSON(), lang: lang() },
  });
  return 'pushOn';
}

/** The notifications page. */
export async function render(root) {
  mount(root, html`
    <h1>${t('notify.title')}</h1>
    <section class="card" id="push">
      <h2>${t('notify.pushTitle')}</h2>
      <p class="small">${t('notify.pushHelp')}</p>
      <button type="button" id="push-on" ${features.has('push') ? '' : html`hidden`}>${t('notify.pushButton')}</button>
      <button type="button" id="push-test" class="small-button" ${features.has('push') ? '' : html`hidden`}>${t('notify.pushTest')}</button>
      <p class="small" id="push-status" role="status"></p>
    </section>
    <section><h2>${t('notify.rules')}</h2>
      ${canManage() ? html`<button type="button" id="add-rule">${t('notify.addRule')}</button>` : ''}
      <div class="slot" id="rule-form"></div>
      <ul class="grid" id="rules"></ul></section>
    ${canManage() ? html`<section><h2>${t('notify.subscriptions')}</h2>
      <button type="button" id="add-subscription">${t('notify.addSubscription')}</button>
      <div class="slot" id="subscription-form"></div>
      <div id="secret" hidden class="card secret" role="status"></div>
      <ul class="grid" id="subscriptions"></ul></section>
    <section><h2>${t('notify.dead')}</h2><ul id="dead" class="deads"></ul></section>` : ''}`);
  const siteList = await listSites();
  let rules = [];
  const refresh = async () => {
    rules = await api(tenantPath('/alert-rules'));
    mount(root.querySelector('#rules'), rules.length ? rules.map(ruleItem)
      : html`<li class="empty">${t('notify.noRules')}</li>`);
    if (!canManage()) return;
    const [subs, dead] = await Promise.all([
      api(tenantPath('/notifications/subscriptions')),
      api(tenantPath('/notifications/outbox'), { params: { state: 'dead', limit: 50 } }),
    ]);
    const shown = subs.filter((s) => s.channel !== 'push');
    mount(root.querySelector('#subscriptions'), shown.length ? shown.map(subscriptionItem)
      : html`<li class="empty">${t('notify.noSubscriptions')}</li>`);
    mount(root.querySelector('#dead'), dead.length ? dead.map(deadItem)
      : html`<li class="empty">${t('notify.noDead')}</li>`);
  };
  const ruleForm = (slot, existing) => {
    const fields = ruleFields(siteList);
    const values = existing
      ? { ...existing, duration_h: existing.duration_min / 60 }
      : { comparison: 'below', kind: 'soil_moisture', severity: 'warning', hysteresis: 0 };
    mount(slot, formMarkup('rule', fields, values, { creating: !existing }));
    wireForm(slot.querySelector('form'), fields, {
      save: (v) => {
        const body = { ...v, duration_min: typeof v.duration_h === 'number' ? v.duration_h * 60 : v.duration_h };
        delete body.duration_h;
        if (body.hysteresis === null) body.hysteresis = 0;
        return existing
          ? api(tenantPath(`/alert-rules/${encodeURIComponent(existing.id)}`), { method: 'PUT', body })
          : api(tenantPath('/alert-rules'), { method: 'POST', body });
      },
      done: async () => { mount(slot, ''); await refresh(); },
      cancel: () => mount(slot, ''),
    });
  };
  root.querySelector('#add-rule')?.addEventListener('click', () => ruleForm(root.querySelector('#rule-form')));
  root.querySelector('#rules').addEventListener('click', async (event) => {
    const button = event.target.closest('[data-action]');
    if (!button) return;
    const item = button.closest('[data-rule]');
    const rule = rules.find((r) => r.id === item.dataset.rule);
    if (button.dataset.action === 'edit-rule') ruleForm(item.querySelector('[data-slot]'), rule);
    if (button.dataset.action === 'delete-rule' && window.confirm(t('notify.confirmDelete'))) {
      try {
        await api(tenantPath(`/alert-rules/${encodeURIComponent(rule.id)}`), { method: 'DELETE' });
        await refresh();
      } catch (err) { item.querySelector('[data-slot]').textContent = errorText(err); }
    }
  });
  root.querySelector('#add-subscription')?.addEventListener('click', () => {
    const slot = root.querySelector('#subscription-form');
    const fields = subscriptionFields();
    mount(slot, formMarkup('subscription', fields, { channel: 'email', lang: lang(), min_severity: 'warning' }));
    wireForm(slot.querySelector('form'), fields, {
      save: (v) => {
        const body = { ...v };
        for (const k of ['quiet_start', 'quiet_end', 'name']) if (!body[k]) delete body[k];
        return api(tenantPath('/notifications/subscriptions'), { method: 'POST', body });
      },
      done: async (made) => {
        mount(slot, '');
        const box = root.querySelector('#secret');
        if (made.secret) {
          mount(box, html`<p>${t('notify.secretOnce')}</p><code translate="no">${made.secret}</code>`);
          box.hidden = false;
        }
        await refresh();
      },
      cancel: () => mount(slot, ''),
    });
  });
  root.querySelector('#subscriptions')?.addEventListener('click', async (event) => {
    const tester = event.target.closest('[data-action="test-subscription"]');
    if (tester) {
      const item = tester.closest('[data-subscription]');
      const status = item.querySelector('[data-slot="test"]');
      try {
        await api(tenantPath(`/notifications/subscriptions/${encodeURIComponent(item.dataset.subscription)}/test`), { method: 'POST' });
        status.textContent = t('notify.testQueued');
        status.dataset.state = 'queued';
      } catch (err) { status.textContent = errorText(err); }
      return;
    }
    const button = event.target.closest('[data-action="delete-subscription"]');
    if (!button || !window.confirm(t('notify.confirmDelete'))) return;
    const id = button.closest('[data-subscription]').dataset.subscription;
    await api(tenantPath(`/notifications/subscriptions/${encodeURIComponent(id)}`), { method: 'DELETE' });
    await refresh();
  });
  root.querySelector('#push-on').addEventListener('click', async () => {
    const status = root.querySelector('#push-status');
    status.textContent = t('common.loading');
    try {
      const outcome = await enablePush();
      status.textContent = t(`notify.${outcome}`);
      status.dataset.state = outcome;
    } catch (err) {
      status.textContent = `${t('notify.pushFailed')} ${err?.message || errorText(err)}`;
      status.dataset.state = 'failed';
    }
  });
  root.querySelector('#push-test').addEventListener('click', async () => {
    const status = root.querySelector('#push-status');
    try {
      await api(tenantPath('/notifications/push/test'), { method: 'POST' });
      status.textContent = t('notify.testQueued');
      status.dataset.state = 'testQueued';
    } catch (err) {
      status.textContent = err?.status === 404 ? t('notify.pushNone') : errorText(err);
      status.dataset.state = 'testFailed';
    }
  });
  await refresh();
  return {};
}
