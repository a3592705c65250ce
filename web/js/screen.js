// Screen page: the projector, read from the back of the room.
import { init, t, lang, setLang, onLangChange } from './i18n.js';
import { connect } from './socket.js';
import { $, el, pathCode, letter, percents, showConn, setText, clock, countdown, deckLang, switchSentence } from './common.js';
import { takeKey, denied } from './present.js';

const code = pathCode();
let key = takeKey(code); // usually null: the server keeps the key in an HttpOnly cookie
let sock = null;
let st = null;
let html = null;
let colsSig = '';

await init();

const stage = $('stage');
const cols = $('cols');
const timerEl = $('timer');
setText($('jcode'), code);
// A preview (/preview/screen) has no session to join: its QR code keeps its place, empty.
if (location.pathname.startsWith('/preview/')) $('qr').style.visibility = 'hidden';
else $('qr').src = '/qr/' + encodeURIComponent(code) + '.svg';

const tick = countdown((ms) => {
  timerEl.hidden = ms == null;
  if (ms == null) return;
  setText(timerEl, clock(ms));
  timerEl.classList.toggle('low', ms <= 10000);
});

function deny() {
  const retry = key != null;
  key = null;
  denied(code, retry, sock, [stage, $('side'), $('conn')]);
}

start();

function start() {
  sock = connect({ code, hello: () => ({ key, role: 'screen', participant_id: null, lang }) });
  sock.on('status', (s) => showConn($('conn'), s));
  sock.on('welcome', (m) => {
    if (m.role !== 'screen' && m.role !== 'host') { deny(); return; }
    setText($('title'), m.title || '');
    for (const n of [$('title'), $('slide'), cols]) n.lang = deckLang(m);
    if (m.code) setText($('jcode'), m.code);
    // The address may wrap after ":" and before "/", not inside a number if it can help it.
    const url = (m.join_url || location.host + '/' + code).replace(/^https?:\/\//, '');
    if ($('jurl').textContent !== url) {
      $('jurl').replaceChildren(...url.split(/(?<=:)|(?=\/)/).flatMap((part) => [part, document.createElement('wbr')]).slice(0, -1));
    }
    render();
  });
  sock.on('state', (m) => { st = m; tick(m.timer); render(); });
  sock.on('error', (m) => { if (m.code === 'bad_key') deny(); });
  onLangChange(() => { showConn($('conn'), sock.status); colsSig = ''; render(); });
}

// F toggles full screen, L the language: the projected page shows no controls.
document.addEventListener('keydown', (e) => {
  if (e.altKey || e.ctrlKey || e.metaKey || (e.target instanceof Element && e.target.closest('input, select, textarea'))) return;
  if (e.key === 'l') setLang(lang === 'nl' ? 'en' : 'nl');
  if (e.key !== 'f') return;
  if (document.fullscreenElement) document.exitFullscreen();
  else if (document.documentElement.requestFullscreen) document.documentElement.requestFullscreen().catch(() => {});
});
addEventListener('resize', () => fit());

function render() {
  if (!st) return;
  const s = st.slide;
  const statement = s.kind === 'statement';
  const round = s.round || 1;
  document.body.dataset.phase = statement ? s.phase || 'pending' : '';
  document.body.dataset.view = s.index + ':' + (s.phase || '') + ':' + st.revealed; // what is shown, for tests and styles
  setText($('phase'), !statement ? ''
    : s.phase === 'open' ? (round > 1 ? t('screen.phase_revote', { n: round }) : t('screen.phase_open'))
    : s.phase === 'closed' ? t('screen.phase_closed') : t('screen.phase_pending'));
  if (s.html !== html) { html = s.html; $('slide').innerHTML = html; }

  const options = statement ? s.options || [] : [];
  const sig = s.index + '\n' + options.join('\n');
  if (sig !== colsSig) {
    colsSig = sig;
    cols.replaceChildren(...options.map((o, i) => {
      const col = el('div', 'col c' + (i % 8));
      const area = el('div', 'area now');
      area.append(el('span', 'fill'));
      col.append(el('span', 'letter', letter(i)), el('span', 'otext', o), area, el('span', 'pct'), el('span', 'cnt'));
      return col;
    }));
  }
  // The shift: the round before beside this one, both shown as the host chose to.
  const shift = statement && st.shift && st.shift.shown ? st.shift : null;
  const tally = shift ? shift.after : statement && st.revealed && st.tally ? st.tally : null;
  cols.classList.toggle('revealed', !!tally);
  cols.classList.toggle('shift', !!shift);
  const pct = tally ? percents(tally) : [];
  const pct0 = shift ? percents(shift.before) : [];
  [...cols.children].forEach((col, i) => {
    // The bar of the round before is there only while the shift is shown.
    let before = col.querySelector('.before');
    if (shift && !before) {
      before = el('div', 'area before');
      before.append(el('span', 'fill'));
      col.querySelector('.now').before(before);
    } else if (!shift && before) {
      before.remove();
    }
    col.querySelector('.now .fill').style.width = tally ? (pct[i] ?? 0) + '%' : '0';
    if (before) before.firstChild.style.width = (pct0[i] ?? 0) + '%';
    setText(col.querySelector('.pct'), shift ? t('shift.percent', { a: pct0[i] ?? 0, b: pct[i] ?? 0 })
      : tally ? t('tally.percent', { p: pct[i] ?? 0 }) : '');
    setText(col.querySelector('.cnt'), tally && !shift ? String(tally[i] ?? 0) : '');
  });
  setText($('shift-legend'), shift ? t('shift.legend', { a: shift.from_round, b: shift.to_round }) : '');
  setText($('shift-text'), shift ? switchSentence(shift) : '');
  $('shift').hidden = !shift;
  const counted = statement && st.voted != null && st.joined != null;
  // Hand counts are in `voted` but not in `joined`: phones are counted against the
  // phones that joined, hands are named apart.
  const hands = (st.hands || []).reduce((a, b) => a + b, 0);
  const phones = counted ? st.voted - hands : 0;
  setText($('counted'), !counted ? ''
    : hands ? t('screen.counted_hands', { voted: phones, joined: st.joined, hands })
    : phones > st.joined ? t('screen.counted_total', { voted: phones })
    : t('screen.counted', { voted: phones, joined: st.joined }));
  fit();
}

// The largest type at which the whole stage shows. A statement is measured with its
// results laid out (percentages and counts take room), so revealing them never changes
// the size. Within the limits of docs/deck-format.md the answer is at least 1 (the
// minimum size); a slide beyond them shrinks below it rather than being cut off.
const FIT_MAX = 1.6, FIT_MIN = 0.5;
function fit() {
  const revealed = cols.classList.contains('revealed');
  const shift = cols.classList.contains('shift');
  const cells = [...cols.querySelectorAll('.pct, .cnt')];
  const texts = cells.map((c) => c.textContent);
  if (cells.length) {
    cols.classList.add('revealed');
    const widest = shift ? t('shift.percent', { a: 100, b: 100 }) : t('tally.percent', { p: 100 });
    cells.forEach((c) => { c.textContent = c.classList.contains('pct') ? widest : shift ? '' : '8888'; });
  }
  const fits = (f) => {
    stage.style.setProperty('--fit', String(f));
    return stage.scrollHeight <= stage.clientHeight + 1 && stage.scrollWidth <= stage.clientWidth + 1;
  };
  // The minimum size is tried first: a slide that fits at it is shown at it, not a step
  // of the search below it.
  let lo = FIT_MIN, hi = FIT_MAX;
  if (fits(FIT_MAX)) lo = FIT_MAX;
  else {
    if (fits(1)) lo = 1; else hi = 1;
    if (lo === FIT_MIN && !fits(FIT_MIN)) hi = FIT_MIN;
    for (let n = 0; n < 7 && lo < hi; n++) {
      const mid = (lo + hi) / 2;
      if (fits(mid)) lo = mid; else hi = mid;
    }
  }
  cells.forEach((c, i) => { c.textContent = texts[i]; });
  cols.classList.toggle('revealed', revealed);
  // Rounded down: a size rounded up past the one measured may no longer fit.
  const size = (Math.floor(lo * 1000) / 1000).toFixed(3);
  stage.style.setProperty('--fit', size);
  stage.dataset.fit = size;
}
