// Screen page: the projector, read from the back of the room.
import { init, t, lang, setLang, onLangChange } from './i18n.js';
import { connect } from './socket.js';
import { $, el, pathCode, optName, showConn, setText, clock, countdown, deckLang, switchSentence, statsText, scaleShift, pointLabels, turnout, takeImages } from './common.js';
import { takeKey, denied, groupName, groupWhy } from './present.js';
import { questionsOnScreen } from './screen-questions.js';
import { renderMap } from './opinion-map.js';

const code = pathCode();
let key = takeKey(code); // usually null: the server keeps the key in an HttpOnly cookie
let sock = null;
let st = null;
let html = null;
let colsSig = '';
let contentLang = 'nl';

await init();

const stage = $('stage');
const cols = $('cols');
const timerEl = $('timer');
setText($('jcode'), code);
// A preview (/preview/screen) has no session to join: the join box keeps its place and
// says that the code and the QR code come with the session, in the QR code's place too.
const preview = location.pathname.startsWith('/preview/');
$('join').classList.toggle('preview', preview);
if (!preview) $('qr').src = '/qr/' + encodeURIComponent(code) + '.svg';
else {
  const place = el('p', 'qr', t('screen.preview_qr'));
  place.id = 'qr';
  place.dataset.i18n = 'screen.preview_qr';
  $('qr').replaceWith(place);
}

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
  questionsOnScreen(sock);
  sock.on('status', (s) => {
    showConn($('conn'), s);
    if (s !== 'ended') return;
    $('main').dataset.ended = '1';
    $('ended').hidden = false;
    if (!$('ended-title').textContent) setText($('ended-title'), t('screen.ended_title', { title: $('title').textContent || code }));
  });
  sock.on('ended', (m) => setText($('ended-title'), t('screen.ended_title', { title: m.title || code })));
  sock.on('welcome', (m) => {
    if (m.role !== 'screen' && m.role !== 'host') { deny(); return; }
    setText($('title'), m.title || '');
    contentLang = deckLang(m);
    for (const n of [$('title'), $('slide'), cols, $('stats')]) n.lang = contentLang;
    if (m.code) setText($('jcode'), preview ? t('screen.preview_code') : m.code);
    // The address may wrap after ":" and before "/", not inside a number if it can help it.
    const url = preview ? t('screen.preview_url') : (m.join_url || location.host + '/' + code).replace(/^https?:\/\//, '');
    if ($('jurl').textContent !== url) {
      $('jurl').replaceChildren(...url.split(/(?<=:)|(?=\/)/).flatMap((part) => [part, document.createElement('wbr')]).slice(0, -1));
    }
    render();
  });
  sock.on('state', (m) => { st = m; tick(m.timer); render(); });
  sock.on('error', (m) => { if (m.code === 'bad_key') deny(); });
  onLangChange(() => { showConn($('conn'), sock.status); colsSig = ''; argsSig = ''; $('omap').dataset.sig = ''; render(); });
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
  const shownHtml = s.html + '\n' + (s.layout || '');
  if (shownHtml !== html) {
    html = shownHtml;
    $('slide').innerHTML = s.html;
    // Images the deck places beside or under the text leave the slide for a figure of
    // the stage's own (screen.css lays it out).
    stage.querySelector(':scope > .fig')?.remove();
    const fig = takeImages($('slide'), s.layout);
    stage.dataset.layout = fig ? s.layout : '';
    if (fig) stage.append(fig);
  }
  $('jcard').hidden = !st.cards; // a session with voting cards: say so where people join

  const options = statement ? s.options || [] : [];
  // A scale is a distribution: a column per point, its bar growing upwards.
  const scale = statement && !!s.scale;
  const sig = s.index + '\n' + scale + '\n' + options.join('\n');
  if (sig !== colsSig) {
    colsSig = sig;
    cols.classList.toggle('scale', scale);
    cols.style.setProperty('--n', String(options.length));
    cols.replaceChildren(...options.map((o, i) => {
      const col = el('div', 'col c' + (scale ? 0 : i % 8));
      const area = el('div', 'area now');
      area.append(el('span', 'fill'));
      // A scale's labels go in a row of their own under the columns (pointLabels).
      col.append(el('span', 'letter', optName(s, i)), scale ? el('span', 'was') : el('span', 'otext', o), area, el('span', 'pct'), el('span', 'cnt'));
      return col;
    }), ...(scale ? pointLabels(options) : []));
  }
  // One view beside the slide, as the host chose: the arguments, or the results per
  // group, or the shift (the round before beside this one), or the result alone.
  const args = statement && st.arguments && st.arguments.shown ? st.arguments : null;
  const groups = !args && statement && st.revealed && st.groups && st.groups.shown ? st.groups : null;
  const shift = !args && !groups && statement && st.shift && st.shift.shown ? st.shift : null;
  stage.dataset.extra = args ? 'args' : groups ? 'groups' : '';
  const tally = args || groups ? null : shift ? shift.after : statement && st.revealed && st.tally ? st.tally : null;
  cols.classList.toggle('revealed', !!tally);
  cols.classList.toggle('shift', !!shift);
  // Percentages come from the server, rounded by the one rule of every page and export.
  const pct = !tally ? [] : shift ? shift.after_percents : st.percents || [];
  const pct0 = shift ? shift.before_percents : [];
  cols.querySelectorAll('.col').forEach((col, i) => {
    // The bar of the round before is there only while the shift is shown.
    let before = col.querySelector('.before');
    if (shift && !before) {
      before = el('div', 'area before');
      before.append(el('span', 'fill'));
      col.querySelector('.now').before(before);
    } else if (!shift && before) {
      before.remove();
    }
    const size = scale ? 'height' : 'width';
    col.querySelector('.now .fill').style[size] = tally ? (pct[i] ?? 0) + '%' : '0';
    if (before) before.firstChild.style[size] = (pct0[i] ?? 0) + '%';
    // A scale's column is narrow: the share before stands above the share now.
    if (scale) setText(col.querySelector('.was'), shift ? t('shift.was', { p: pct0[i] ?? 0 }) : '');
    setText(col.querySelector('.pct'), shift && !scale ? t('shift.percent', { a: pct0[i] ?? 0, b: pct[i] ?? 0 })
      : tally ? t('tally.percent', { p: pct[i] ?? 0 }) : '');
    setText(col.querySelector('.cnt'), tally && !shift ? String(tally[i] ?? 0) : '');
  });
  setText($('shift-legend'), shift ? t('shift.legend', { a: shift.from_round, b: shift.to_round }) : '');
  const moved = shift && scale ? scaleShift(shift, options) : null;
  setText($('shift-text'), moved ? moved[1] : shift ? switchSentence(shift) : '');
  setText($('stats'), moved ? moved[0] : scale && tally ? statsText(st.stats, options) : '');
  $('shift').hidden = !shift;
  setText($('counted'), statement && st.voted != null && st.joined != null ? turnout(st) : '');
  renderGroups(groups, options);
  $('args').hidden = !args;
  if (!args) { clearInterval(pageT); pageT = 0; argsSig = ''; page = 0; setText($('apage'), ''); }
  // The opinion map, while it is on show, takes the place of the results.
  stage.dataset.map = st.opinion_map ? '1' : '';
  renderMap($('omap'), st.opinion_map || null, contentLang);
  fit();
}

// Everyone first, then per group a row: its voters, its percentages and a bar of its
// choices, or in words why not. The options above keep the whole width for their text.
function renderGroups(groups, options) {
  $('groups').hidden = !groups;
  if (!groups) return;
  const head = [el('th', null, t('groups.group_voters')), ...options.map((_, i) => {
    const th = el('th', 'c' + (i % 8));
    th.append(el('span', 'letter', optName(st.slide, i)));
    return th;
  }), el('td')];
  head.forEach((c) => { if (c.tagName === 'TH') c.scope = 'col'; });
  $('groups-head').replaceChildren(...head);
  const zeros = options.map(() => 0);
  const all = { counts: st.tally || zeros, percents: st.percents || zeros, voted: st.voted ?? 0, everyone: true };
  $('groups-rows').replaceChildren(...[all, ...groups.rows].map((r) => {
    const tr = el('tr', r.everyone ? 'gall' : null);
    const th = el('th', null, r.everyone ? t('groups.all') : groupName(r));
    th.scope = 'row';
    if (!r.everyone && r.group != null) th.lang = contentLang;
    if (r.counts) th.append(' ', el('span', 'gn', t('groups.n', { n: r.voted })));
    tr.append(th);
    if (!r.counts) {
      const td = el('td', 'gwhy', groupWhy(r, groups.min_group_size));
      td.colSpan = options.length + 1;
      tr.append(td);
      return tr;
    }
    const pct = r.percents;
    const bar = el('span', 'gbar');
    bar.append(...pct.map((p, i) => {
      const seg = el('span', 'gseg c' + (i % 8));
      seg.style.width = p + '%';
      return seg;
    }));
    const cell = el('td', 'gbarcell');
    cell.append(bar);
    tr.append(...pct.map((p) => el('td', 'gp', t('tally.percent', { p }))), cell);
    return tr;
  }));
}

// The approved arguments per side, highlighted first (the server's order). All of them
// at the largest size that shows them whole; if they do not fit at the minimum size,
// pages of as many as fit, turned every PAGE_MS with "1/3" beside them.
const PAGE_MS = 8000;
const argsEl = $('args');
const acols = $('acols');
let argsSig = '';
let pages = [];
let page = 0;
let pageT = 0;

function drawArgs(sides, options) {
  const columns = options.length <= 2;
  acols.classList.toggle('one', !columns);
  const blocks = options.map((o, i) => {
    if (!columns && !sides[i].length) return null;
    const col = el('div', 'acol c' + (i % 8));
    const head = el('p', 'ahead');
    const otext = el('span', 'otext', o);
    otext.lang = contentLang;
    head.append(el('span', 'letter', optName(st.slide, i)), otext);
    const list = el('ul', 'alist');
    list.append(...sides[i].map((x) => {
      const li = el('li', x.status === 'highlighted' ? 'aitem hl' : 'aitem');
      li.append(el('span', 'atext', x.text));
      if (x.upvotes > 0) li.append(el('span', 'asup', t('args.support', { n: x.upvotes })));
      return li;
    }));
    col.append(head, list);
    return col;
  }).filter(Boolean);
  acols.replaceChildren(...(sides.some((x) => x.length) ? blocks : [el('p', 'anone', t('args.none'))]));
}

const over = (n) => n.scrollHeight > n.clientHeight + 1;

// Pages of arguments at the current size: with a column per side each column fills on
// its own; else the sides follow each other down the page.
function paginate(sides, options) {
  const columns = options.length <= 2;
  const none = () => sides.map(() => []);
  if (columns) {
    const perSide = sides.map((items, i) => {
      const out = [];
      let cur = [];
      for (const x of items) {
        const trial = none();
        trial[i] = [...cur, x];
        drawArgs(trial, options);
        if (cur.length && over(acols.children[i])) { out.push(cur); cur = []; }
        cur.push(x);
      }
      out.push(cur);
      return out;
    });
    const n = Math.max(1, ...perSide.map((p) => p.length));
    return Array.from({ length: n }, (_, k) => perSide.map((p) => p[k] || []));
  }
  const out = [];
  let cur = none();
  sides.forEach((items, i) => items.forEach((x) => {
    const trial = cur.map((c) => [...c]);
    trial[i].push(x);
    drawArgs(trial, options);
    if (cur.some((c) => c.length) && over(acols)) { out.push(cur); cur = none(); cur[i].push(x); } else cur = trial;
  }));
  out.push(cur);
  return out;
}

// Shows page `page`; a turned page fades in (not with prefers-reduced-motion: base.css).
function showPage(turned) {
  const options = st.slide.options || [];
  drawArgs(pages[page] || options.map(() => []), options);
  setText($('apage'), pages.length > 1 ? t('args.page', { i: page + 1, n: pages.length }) : '');
  argsEl.classList.remove('turn');
  if (turned) { void argsEl.offsetWidth; argsEl.classList.add('turn'); }
}

function fitArgs() {
  const a = st.arguments;
  const options = st.slide.options || [];
  const sig = JSON.stringify([st.slide.index, a.items, options, innerWidth, innerHeight, lang]);
  if (sig === argsSig) return;
  if (!argsSig.startsWith('[' + st.slide.index + ',')) page = 0;
  argsSig = sig;
  const sides = options.map((_, i) => a.items.filter((x) => x.option === i));
  // All on one page, if they fit at the minimum size or larger.
  argsEl.classList.add('measure');
  drawArgs(sides, options);
  setFit(search(FIT_MAX, 1));
  const whole = stage.scrollHeight <= stage.clientHeight + 1 && stage.scrollWidth <= stage.clientWidth + 1;
  argsEl.classList.remove('measure');
  if (whole) {
    pages = [sides];
  } else {
    // Pages at the minimum size; smaller only for an argument too long for a page alone.
    let f = 1;
    do {
      setFit(f);
      pages = paginate(sides, options);
      f = Math.round((f - 0.05) * 100) / 100;
    } while (f >= FIT_MIN && pages.some((p) => { drawArgs(p, options); return over(acols) || [...acols.children].some(over); }));
  }
  page = Math.min(page, pages.length - 1);
  showPage();
  clearInterval(pageT);
  pageT = pages.length > 1 ? setInterval(() => { page = (page + 1) % pages.length; showPage(true); }, PAGE_MS) : 0;
}

// The largest type at which the whole stage shows. A statement is measured with its
// results laid out (percentages and counts take room), so revealing them never changes
// the size. Within the limits of docs/deck-format.md the answer is at least 1 (the
// minimum size); a slide beyond them shrinks below it rather than being cut off.
const FIT_MAX = 1.6, FIT_MIN = 0.5;
function fit() {
  if (stage.dataset.extra === 'args') { fitArgs(); return; }
  const revealed = cols.classList.contains('revealed');
  const shift = cols.classList.contains('shift');
  const scale = cols.classList.contains('scale');
  const cells = stage.dataset.extra ? [] : [...cols.querySelectorAll('.pct, .cnt, .was')];
  // A scale's median and mean take a line once shown: measured with the longest (the
  // shift's line is on the page already while it is shown).
  if (scale && !shift && !stage.dataset.extra) cells.push($('stats'));
  const texts = cells.map((c) => c.textContent);
  if (cells.length) {
    cols.classList.add('revealed');
    const widest = shift && !scale ? t('shift.percent', { a: 100, b: 100 }) : t('tally.percent', { p: 100 });
    const labels = st ? st.slide.options || [] : [];
    const longest = labels.reduce((a, l, i) => (l.length > labels[a].length ? i : a), 0);
    const stats = statsText({ median: longest + 1, mean: 8.8 }, labels);
    cells.forEach((c) => {
      c.textContent = c.id === 'stats' ? stats : c.classList.contains('pct') ? widest
        : c.classList.contains('was') ? (shift ? t('shift.was', { p: 100 }) : '') : shift ? '' : '8888';
    });
  }
  // A scale's labels stand in narrow columns: above the minimum size a label's words
  // must fit whole (at the minimum a long word may break rather than the type shrink);
  // the share before a re-vote never breaks.
  const labels = scale ? [...cols.querySelectorAll('.slabel')] : [];
  const was = shift ? [...cols.querySelectorAll('.was')] : [];
  const whole = (e) => e.scrollWidth <= e.clientWidth + 1;
  // A slide with an image keeps its text at the minimum size: the image takes the rest.
  const max = $('slide').querySelector('img') || stage.querySelector(':scope > .fig') ? 1 : FIT_MAX;
  const lo = search(max, FIT_MIN, (f) => {
    cols.classList.toggle('whole', f > 1);
    return was.every(whole) && (f <= 1 || labels.every(whole));
  });
  cells.forEach((c, i) => { c.textContent = texts[i]; });
  cols.classList.toggle('revealed', revealed);
  cols.classList.remove('whole');
  setFit(lo);
}

// The largest size from `min` to `max` at which the stage shows whole (`min` if none)
// and `also(size)` holds. The minimum text size is tried first: a slide that fits at it
// is shown at it, not a step of the search below it.
function search(max, min, also = () => true) {
  const fits = (f) => {
    stage.style.setProperty('--fit', String(f));
    return stage.scrollHeight <= stage.clientHeight + 1 && stage.scrollWidth <= stage.clientWidth + 1 && also(f);
  };
  let lo = min, hi = max;
  if (fits(max)) return max;
  if (min < 1) {
    if (fits(1)) lo = 1; else hi = 1;
  }
  if (lo === min && !fits(min)) return min;
  for (let n = 0; n < 7 && lo < hi; n++) {
    const mid = (lo + hi) / 2;
    if (fits(mid)) lo = mid; else hi = mid;
  }
  return lo;
}

// Rounded down: a size rounded up past the one measured may no longer fit.
function setFit(f) {
  const size = (Math.floor(f * 1000) / 1000).toFixed(3);
  stage.style.setProperty('--fit', size);
  stage.dataset.fit = size;
}
