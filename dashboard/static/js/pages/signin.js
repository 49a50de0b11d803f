// Sign-in with an API key; the key is kept in sessionStorage for this tab only.
import { api, homeFor, session, signOut } from '../api.js';
import { html, mount } from '../dom.js';
import { t } from '../i18n.js';

/** The sign-in form. */
export async function render(root) {
  mount(root, html`
    <section class="card narrow">
      <h1>${t('signin.title')}</h1>
      <p class="muted">${t('signin.help')}</p>
      <form id="signin" autocomplete="off">
        <label for="key">${t('signin.key')}</label>
        <input id="key" name="key" type="password" required spellcheck="false" autocapitalize="off" placeholder="shk_…">
        <p class="error" id="signin-error" role="alert" hidden></p>
        <button type="submit" class="primary">${t('signin.submit')}</button>
      </form>
      <p class="muted small">${t('signin.session')}</p>
    </section>`);
  const form = root.querySelector('#signin');
  const error = root.querySelector('#signin-error');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    signOut();
    session.key = form.key.value.trim();
    try {
      session.me = await api('/whoami');
      location.hash = homeFor(session.me);
    } catch (err) {
      signOut();
      error.textContent = err.status === 401 ? t('signin.refused') : t('error.load');
      error.hidden = false;
    }
  });
  return null;
}
