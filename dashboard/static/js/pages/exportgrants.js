// A researcher account's grants and requests on its export page, and the form that asks a
// tenant for sites: the request is listed at once as requested, and nothing is shared until
// that tenant's admin approves it.
import { api } from '../api.js';
import { html, mount } from '../dom.js';
import { dateTime } from '../format.js';
import { t } from '../i18n.js';
import { clearErrors, formMarkup, wireForm } from '../forms.js';
import { statusBadge, termsMarkup } from '../grants.js';

const ASK_FIELDS = [
  { name: 'tenant', label: () => t('export.askTenant'), type: 'id', required: true },
  {
    name: 'sites', label: () => t('export.askSites'), type: 'text', required: true,
    hint: () => t('export.askSitesHint'),
  },
  { name: 'purpose', label: () => t('export.askPurpose'), type: 'text', required: true },
];

function item(g) {
  return html`<li class="entry" data-grant="${g.id}" data-status="${g.status}">
    <div class="entry-head"><span class="entry-name" translate="no">${g.tenant}</span>${statusBadge(g)}</div>
    ${termsMarkup(g)}
    <p class="small muted">${t('grant.requested')}: ${dateTime(g.requested)}</p>
  </li>`;
}

/** Draw the account's grants and the request form into `box`. */
export async function grantsCard(box) {
  mount(box, html`<section class="card" id="my-grants"><h2>${t('export.myGrants')}</h2>
    <ul class="entries grants-list" id="grant-list"><li class="muted">${t('common.loading')}</li></ul>
    <h3>${t('export.askTitle')}</h3>
    <div id="ask-box">${formMarkup('ask', ASK_FIELDS, {}, { submit: () => t('export.askSend') })}</div>
    <p class="ok" id="asked" role="status" hidden>${t('export.asked')}</p>
  </section>`);
  const list = box.querySelector('#grant-list');
  const asked = box.querySelector('#asked');
  const drawList = async () => {
    try {
      const grants = await api('/research/grants');
      mount(list, grants.length ? grants.map(item)
        : html`<li class="empty" data-empty="asked">${t('export.noneAsked')}</li>`);
    } catch {
      mount(list, html`<li class="error">${t('error.load')}</li>`);
    }
  };
  const form = box.querySelector('form[data-form="ask"]');
  wireForm(form, ASK_FIELDS, {
    save: (values) => {
      asked.hidden = true;
      return api('/research/grants', {
        method: 'POST',
        body: {
          tenant: values.tenant,
          // Site ids hold no spaces or commas: any of them (or the Japanese comma) separates.
          sites: values.sites.split(/[\s,、]+/).filter(Boolean),
          purpose: values.purpose,
        },
      });
    },
    done: async () => {
      form.reset();
      asked.hidden = false;
      await drawList();
    },
    cancel: () => { form.reset(); clearErrors(form); },
  });
  await drawList();
}
