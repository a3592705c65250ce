// Join page: ask for the code, then go to /CODE.
import { init, t, onLangChange } from './i18n.js';

await init();
const form = document.getElementById('join');
const input = document.getElementById('code');
const error = document.getElementById('join-error');

let shown = null; // () => the current message, so a language switch can redo it
const show = (f) => { shown = f; error.textContent = f ? f() : ''; };
onLangChange(() => show(shown));

const clean = (v) => (v || '').replace(/\s+/g, '').toUpperCase();
const go = (c) => location.assign('/' + encodeURIComponent(c));

const fromQuery = clean(new URLSearchParams(location.search).get('code'));
if (fromQuery) go(fromQuery);

// The server answers an unknown /CODE (or /host/CODE, /screen/CODE) with this page.
const tried = location.pathname.split('/').filter(Boolean).pop();
if (tried) {
  let c = tried;
  try { c = decodeURIComponent(tried); } catch { /* keep raw */ }
  show(() => t('join.unknown', { code: clean(c) }));
  input.value = clean(c);
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  const c = clean(input.value);
  if (!c) {
    show(() => t('join.empty'));
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    return;
  }
  go(c);
});
input.addEventListener('input', () => {
  show(null);
  input.removeAttribute('aria-invalid');
});
