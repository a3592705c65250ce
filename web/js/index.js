// Join page: ask for the code, then go to /CODE.
import { init, t } from './i18n.js';

await init();
const form = document.getElementById('join');
const input = document.getElementById('code');
const error = document.getElementById('join-error');

const clean = (v) => (v || '').replace(/\s+/g, '').toUpperCase();
const go = (c) => location.assign('/' + encodeURIComponent(c));

const fromQuery = clean(new URLSearchParams(location.search).get('code'));
if (fromQuery) go(fromQuery);

form.addEventListener('submit', (e) => {
  e.preventDefault();
  const c = clean(input.value);
  if (!c) {
    error.textContent = t('join.empty');
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    return;
  }
  go(c);
});
input.addEventListener('input', () => {
  error.textContent = '';
  input.removeAttribute('aria-invalid');
});
