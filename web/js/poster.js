// The join poster at /admin/poster/CODE: an A4 sheet with the code, the address and a
// large QR code, its text in Dutch with English below whatever the page's language.
import { init } from './i18n.js';
import { $, pathCode, setText } from './common.js';
import { api, day } from './admin-api.js';
import nl from '/assets/i18n/admin-nl.js';
import en from '/assets/i18n/admin-en.js';

await init('admin');
for (const [attr, dict] of [['nl', nl], ['en', en]]) {
  for (const e of document.querySelectorAll(`[data-i18n-${attr}]`)) e.textContent = dict[e.getAttribute(`data-i18n-${attr}`)] || '';
}
// An English word equal to the Dutch one beside it ("Code") is said once.
for (const e of document.querySelectorAll('span[data-i18n-en]')) e.hidden = e.textContent === e.previousElementSibling?.textContent;
$('print').addEventListener('click', () => print());

const code = pathCode();
try {
  const s = await api('GET', '/sessions/' + encodeURIComponent(code));
  const join = (s.links && s.links.join) || location.origin + '/' + s.code;
  const m = s.meeting || {};
  setText($('meeting'), [m.name, day(m.date, 'nl'), m.place].filter(Boolean).join(' · '));
  setText($('title'), s.title || '');
  setText($('code'), s.code);
  setText($('url'), join.replace(/^https?:\/\//, ''));
  $('qr').src = '/api/sessions/' + encodeURIComponent(s.code) + '/qr/join.svg';
  const cards = !!(s.cards && s.cards.issued > 0); // people without a card would be refused
  $('card-note').hidden = !cards;
  $('poster').classList.toggle('cards', cards);
  $('poster').hidden = false;
} catch (e) {
  setText($('error'), e.message);
}
