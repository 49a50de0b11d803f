// Research sharing, for a tenant's admins: researcher accounts' requests to approve (with a
// licence, an expiry, an optional embargo, the sites narrowed if they like) or reject with a
// note; the grants with their status and a revoke button; and who downloaded what, when.
import { api, seg, tenantPath } from '../api.js';
import { html, mount } from '../dom.js';
import { dateTime, number } from '../format.js';
import { t, tOr } from '../i18n.js';
import { errorText, formMarkup, wireForm } from '../forms.js';
import { statusBadge, termsMarkup } from '../grants.js';

const LICENCE = 'CC-BY-4.0';
const REVOCABLE = ['active', 'embargoed'];

const grantPath = (id, rest = '') => tenantPath(`/research/grants/${seg(id)}${rest}`);

function approveFields(g) {
  return [
    { name: 'licence', label: () => t('grant.licence'), type: 'text', required: true },
    {
      name: 'expires', label: () => t('grant.expires'), type: 'date', required: true,
      min: '2000-01-01', max: '2099-12-31', hint: () => t('research.expiresHint'),
    },
    {
      name: 'embargo', label: () => t('grant.embargo'), type: 'date',
      min: '2000-01-01', max: '2099-12-31', hint: () => t('research.embargoHint'),
    },
    {
      name: 'sites', label: () => t('grant.sites'), type: 'checks',
      options: g.sites.map((s) => [s, () => s]), hint: () => t('research.sitesHint'),
    },
    { name: 'note', label: () => t('grant.note'), type: 'text' },
  ];
}

const REJECT_FIELDS = [{ name: 'note', label: () => t('research.rejectNote'), type: 'text' }];

/** A refusal made here, shown like the API's own: next to its input. */
function refusal(field, key) {
  const text = t(key);
  return { fieldErrors: () => [{ field, en: text, ja: text }] };
}

function head(g) {
  return html`<div class="entry-head"><span class="entry-name" translate="no">${g.researcher}</span>${statusBadge(g)}</div>`;
}

function pendingItem(g) {
  return html`<li class="entry" data-grant="${g.id}" data-status="${g.status}">
    ${head(g)}
    ${termsMarkup(g)}
    <p class="small muted">${t('grant.requested')}: ${dateTime(g.requested)}</p>
    <div class="entry-actions">
      <button type="button" class="small-button" data-action="approve">${t('research.approve')}</button>
      <button type="button" class="small-button danger" data-action="reject">${t('research.reject')}</button>
    </div>
    <div data-slot="form"></div>
  </li>`;
}

function grantItem(g) {
  return html`<li class="entry" data-grant="${g.id}" data-status="${g.status}">
    ${head(g)}
    ${termsMarkup(g)}
    ${g.decided ? html`<p class="small muted">${t('grant.decided')}: ${dateTime(g.decided)} · <span translate="no">${g.decided_by}</span></p>` : ''}
    ${REVOCABLE.includes(g.status) ? html`<div class="entry-actions">
      <button type="button" class="small-button danger" data-action="revoke">${t('research.revoke')}</button></div>` : ''}
  </li>`;
}

/** A request as people read it: the query decoded (`:` rather than `%3A`). */
function readable(what) {
  try { return decodeURIComponent(what); } catch { return what; }
}

function downloadsMarkup(rows) {
  if (!rows.length) return html`<p class="empty" data-empty="downloads">${t('research.noDownloads')}</p>`;
  const heads = ['research.at', 'grant.researcher', 'research.channel', 'research.what', 'research.items'];
  const [at, who, channel, what, items] = heads.map((k) => t(k));
  // Each cell carries its heading: a phone shows a row as a small card of labelled lines.
  return html`<div class="table-box"><table class="log" id="download-log">
    <thead><tr>${heads.map((k) => html`<th>${t(k)}</th>`)}</tr></thead>
    <tbody>${rows.map((d) => html`<tr data-channel="${d.channel}">
      <td data-label="${at}"><time datetime="${d.at}">${dateTime(d.at)}</time></td>
      <td data-label="${who}" translate="no" data-field="researcher">${d.researcher}</td>
      <td data-label="${channel}" data-field="channel">${tOr(`grantchannel.${d.channel}`, d.channel)}</td>
      <td data-label="${what}" translate="no" data-field="what"><code>${readable(d.what)}</code></td>
      <td data-label="${items}" data-field="items">${d.items === null ? '–' : number(d.items, 0)}</td></tr>`)}</tbody>
  </table></div>`;
}

/** The research sharing page. */
export async function render(root, _params, { me, features }) {
  // The route is offered to admins only; the API refuses everyone else anyway.
  if (me.role !== 'admin' || !features.has('research')) {
    const why = me.role === 'admin' ? 'research.unavailable' : 'research.adminsOnly';
    mount(root, html`<h1>${t('research.heading')}</h1><p class="empty">${t(why)}</p>`);
    return null;
  }
  mount(root, html`<h1>${t('research.heading')}</h1>
    <section class="card"><h2>${t('research.pending')}</h2>
      <ul class="entries grants-list" id="pending"><li class="muted">${t('common.loading')}</li></ul></section>
    <section class="card"><h2>${t('research.grants')}</h2>
      <ul class="entries grants-list" id="grants"><li class="muted">${t('common.loading')}</li></ul></section>
    <section class="card"><h2>${t('research.downloads')}</h2>
      <div id="downloads"><p class="muted">${t('common.loading')}</p></div></section>`);
  const pending = root.querySelector('#pending');
  const granted = root.querySelector('#grants');
  const downloads = root.querySelector('#downloads');
  const byId = new Map();

  const drawGrants = async () => {
    try {
      const grants = await api(tenantPath('/research/grants'));
      byId.clear();
      for (const g of grants) byId.set(g.id, g);
      const asked = grants.filter((g) => g.status === 'requested');
      const decided = grants.filter((g) => g.status !== 'requested');
      mount(pending, asked.length ? asked.map(pendingItem)
        : html`<li class="empty" data-empty="pending">${t('research.noPending')}</li>`);
      mount(granted, decided.length ? decided.map(grantItem)
        : html`<li class="empty" data-empty="grants">${t('research.noGrants')}</li>`);
    } catch {
      mount(pending, html`<li class="error">${t('error.load')}</li>`);
      mount(granted, '');
    }
  };
  const drawDownloads = async () => {
    try {
      mount(downloads, downloadsMarkup(await api(tenantPath('/research/downloads'), { params: { limit: 200 } })));
    } catch {
      mount(downloads, html`<p class="error">${t('error.load')}</p>`);
    }
  };

  const openApprove = (slot, g) => {
    const fields = approveFields(g);
    mount(slot, formMarkup('approve', fields, { licence: LICENCE, sites: g.sites },
      { submit: () => t('research.approveWith') }));
    const form = slot.querySelector('form');
    wireForm(form, fields, {
      save: (v) => {
        if (!v.expires) throw refusal('expires', 'research.expiresNeeded');
        if (!v.sites.length) throw refusal('sites', 'research.sitesNeeded');
        return api(grantPath(g.id, '/approve'), {
          method: 'POST',
          body: {
            licence: v.licence,
            expires: v.expires,
            embargo: v.embargo || null,
            // All the sites asked for is the API's default; fewer narrows the grant.
            sites: v.sites.length < g.sites.length ? v.sites : [],
            note: v.note,
          },
        });
      },
      done: drawGrants,
      cancel: () => mount(slot, ''),
    });
    form.querySelector('input[name="expires"]').focus();
  };
  const openReject = (slot, g) => {
    mount(slot, formMarkup('reject', REJECT_FIELDS, {}, { submit: () => t('research.rejectNow') }));
    const form = slot.querySelector('form');
    wireForm(form, REJECT_FIELDS, {
      save: (v) => api(grantPath(g.id, '/reject'), { method: 'POST', body: { note: v.note } }),
      done: drawGrants,
      cancel: () => mount(slot, ''),
    });
    form.querySelector('input[name="note"]').focus();
  };
  pending.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-action]');
    const li = button?.closest('[data-grant]');
    const g = li && byId.get(li.dataset.grant);
    if (!g) return;
    const slot = li.querySelector('[data-slot="form"]');
    if (button.dataset.action === 'approve') openApprove(slot, g);
    if (button.dataset.action === 'reject') openReject(slot, g);
  });
  granted.addEventListener('click', async (event) => {
    const button = event.target.closest('button[data-action="revoke"]');
    const li = button?.closest('[data-grant]');
    if (!li) return;
    // A second tap confirms: from the next request on the account sees nothing of the grant.
    if (button.dataset.confirm !== 'yes') {
      button.dataset.confirm = 'yes';
      button.textContent = t('research.revokeConfirm');
      return;
    }
    button.disabled = true;
    try {
      await api(grantPath(li.dataset.grant), { method: 'DELETE' });
      await drawGrants();
    } catch (err) {
      button.disabled = false;
      button.textContent = errorText(err);
    }
  });

  await Promise.all([drawGrants(), drawDownloads()]);
  // Only the log is polled: the lists hold forms that must not be redrawn under the fingers.
  return { poll: drawDownloads };
}
