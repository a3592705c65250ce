// Every visible string comes from /assets/i18n/<lang>.js (a flat key → text object).
// HTML carries data-i18n=NAME (text) and data-i18n-ATTR=NAME (attributes);
// scripts call t(name, params), e.g. t("tally.votes_other", { n: 3 }). Only the active language file is loaded,
// and a page's own strings beside it: init('admin') adds /assets/i18n/admin-<lang>.js.
const LANGS = ['nl', 'en'];
const STORE = 'stemzaal:lang';
const ATTRS = ['aria-label', 'alt', 'title', 'placeholder'];
const subs = [];
let dict = {};
let extra = '';
export let lang = 'nl';

export function t(key, params) {
  let s = dict[key];
  if (s == null) return key;
  if (params) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
  return s;
}

export function apply(root = document) {
  for (const e of root.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
  for (const a of ATTRS) {
    for (const e of root.querySelectorAll(`[data-i18n-${a}]`)) e.setAttribute(a, t(e.getAttribute(`data-i18n-${a}`)));
  }
  document.documentElement.lang = lang;
  for (const b of document.querySelectorAll('[data-lang-toggle]')) b.lang = other();
}

const other = () => (lang === 'nl' ? 'en' : 'nl');

async function load(l) {
  const [d, x] = await Promise.all([import(`/assets/i18n/${l}.js`), extra && import(`/assets/i18n/${extra}-${l}.js`)]);
  dict = { ...d.default, ...(x && x.default) };
  lang = l;
}

export async function setLang(l) {
  if (!LANGS.includes(l)) return;
  await load(l);
  try { localStorage.setItem(STORE, l); } catch { /* private mode */ }
  apply();
  for (const f of subs) f(l);
}

export const onLangChange = (f) => subs.push(f);

export async function init(more = '') {
  extra = more;
  let l = 'nl';
  try { l = localStorage.getItem(STORE) || 'nl'; } catch { /* private mode */ }
  if (!LANGS.includes(l)) l = 'nl';
  try { await load(l); } catch { if (l !== 'nl') await load('nl'); }
  apply();
  document.addEventListener('click', (e) => {
    if (e.target.closest('[data-lang-toggle]')) setLang(other());
  });
  // Another page of this browser switched (the host page beside its screen): follow it.
  addEventListener('storage', (e) => {
    if (e.key === STORE && LANGS.includes(e.newValue) && e.newValue !== lang) setLang(e.newValue);
  });
}
