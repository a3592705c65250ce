// Screen page: the projector, read from the back of the room.
import { init, t, lang, onLangChange } from './i18n.js';
import { connect } from './socket.js';
import { $, el, pathCode, letter, percents, votes, showConn, setText } from './common.js';
import { takeKey, clock, countdown, denied } from './present.js';

const code = pathCode();
let key = takeKey(code); // usually null: the server keeps the key in an HttpOnly cookie
let sock = null;
let st = null;
let html = null;
let colsSig = '';

await init();

const main = $('main');
const stage = $('stage');
const cols = $('cols');
const timerEl = $('timer');
setText($('jcode'), code);
$('qr').src = '/qr/' + encodeURIComponent(code) + '.svg';

const tick = countdown((ms) => {
  timerEl.hidden = ms == null;
  if (ms == null) return;
  setText(timerEl, clock(ms));
  timerEl.classList.toggle('low', ms <= 10000);
});

function deny() {
  const retry = key != null;
  key = null;
  denied(code, retry, sock, [stage, $('join'), $('conn')]);
}

start();

function start() {
  sock = connect({ code, hello: () => ({ key, role: 'screen', participant_id: null, lang }) });
  sock.on('status', (s) => showConn($('conn'), s));
  sock.on('welcome', (m) => {
    if (m.role !== 'screen' && m.role !== 'host') { deny(); return; }
    setText($('title'), m.title || '');
    if (m.code) setText($('jcode'), m.code);
    // The address may wrap before "/CODE", never inside a number.
    const url = (m.join_url || location.host + '/' + code).replace(/^https?:\/\//, '');
    const cut = url.lastIndexOf('/');
    if ($('jurl').textContent !== url) $('jurl').replaceChildren(url.slice(0, cut), document.createElement('wbr'), url.slice(cut));
    render();
  });
  sock.on('state', (m) => { st = m; tick(m.timer); render(); });
  sock.on('error', (m) => { if (m.code === 'bad_key') deny(); });
  onLangChange(() => { showConn($('conn'), sock.status); colsSig = ''; render(); });
}

// F toggles full screen (the projector laptop has no other chrome to hide).
document.addEventListener('keydown', (e) => {
  if (e.key !== 'f' || e.altKey || e.ctrlKey || e.metaKey || (e.target instanceof Element && e.target.closest('input, select, textarea'))) return;
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
  setText($('phase'), !statement ? ''
    : s.phase === 'open' ? (round > 1 ? t('screen.phase_revote', { n: round }) : t('screen.phase_open'))
    : s.phase === 'closed' ? t('screen.phase_closed') : t('screen.phase_pending'));
  if (s.html !== html) { html = s.html; $('slide').innerHTML = html; }

  const options = statement ? s.options || [] : [];
  const sig = s.index + '\n' + options.join('\n');
  if (sig !== colsSig) {
    colsSig = sig;
    cols.replaceChildren(...options.map((o, i) => {
      const col = el('div', 'col c' + (i % 6));
      const label = el('p', 'olabel');
      label.append(el('span', 'letter', letter(i)), el('span', 'otext', o));
      const track = el('div', 'track');
      const area = el('div', 'area');
      area.append(el('span', 'fill'));
      track.append(area, el('span', 'pct'), el('span', 'cnt'));
      col.append(label, track);
      return col;
    }));
  }
  const tally = statement && st.revealed && st.tally ? st.tally : null;
  cols.classList.toggle('revealed', !!tally);
  // The full join banner beside a statement while people may still vote; a compact one
  // under content slides and final results.
  main.classList.toggle('compact', !statement || (!!tally && s.phase !== 'open'));
  if (tally) {
    const pct = percents(tally);
    [...cols.children].forEach((col, i) => {
      const p = pct[i] ?? 0;
      col.querySelector('.fill').style.width = p + '%';
      setText(col.querySelector('.pct'), t('tally.percent', { p }));
      setText(col.querySelector('.cnt'), votes(tally[i] ?? 0));
    });
  } else {
    for (const f of cols.querySelectorAll('.fill')) f.style.width = '0';
  }
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

// Shrink the type a little when a long slide overflows; the CSS keeps it at 42 px or more at 1920 wide.
function fit() {
  let f = 1;
  stage.style.setProperty('--fit', '1');
  while (f > 0.92 && stage.scrollHeight > stage.clientHeight + 1) {
    f -= 0.04;
    stage.style.setProperty('--fit', f.toFixed(2));
  }
}
