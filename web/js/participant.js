// Participant page: one phone, one vote per statement and round.
import { init, t, lang, onLangChange } from './i18n.js';
import { connect } from './socket.js';
import { ask } from './ask.js';
import { $, el, store, pathCode, letter, optName, votes, showConn, setText, clock, countdown, deckLang, statsText, pointLabels, showSlide } from './common.js';

const code = pathCode();
const pidKey = 'stemzaal:pid:' + code;
let pid = store.get(pidKey);
// A voting card from the QR code's fragment (which never reaches a server log), read
// once and removed from the address bar; sent in hello until the server welcomes it.
let card = new URLSearchParams(location.hash.slice(1)).get('kaart');
if (card) history.replaceState(null, '', location.pathname + location.search);
let st = null; // last state
let acked = new Map(); // "slide:round" → option the server has stored
let wantGroup; // undefined: no choice made on this page yet
let groupsSig = '';
let optsSig = '';
let html = null;
let errTimer = 0;
let groupNow = null; // the group the server has for this phone
let groupList = [];
let groupCompact = false; // a chosen group shows as one line; decided per slide, so nothing moves under a finger
let groupSlide = -1;
let resultShown = false;
let shownRound = null; // "slide:round" on show: a new one starts at the top of the page
let tapped = null; // "slide:round" of a vote tapped on this page, until its ack
// Arguments (docs/protocol.md, argue): this phone's own per slide, the one on its way,
// the ones it upvoted.
let mineArgs = new Map(); // slide → {argument, option, text}
let sentArg = null; // {id, slide, text} or {id, slide, withdraw: true}
let argNote = '';
let argSlide = -1;
let upvoted = new Set();
const upSent = new Map(); // message id → argument upvoted
let upvotesOff = false;
let argsSig = '';
// Ids far above the votes' (socket.js counts those from 1), so an answer is never
// taken for a vote's.
let msgId = 2 ** 50;

const main = $('main');
const conn = $('conn');
const phaseEl = $('phase');
const slideEl = $('slide');
const optsEl = $('options');
const voteEl = $('vote-status');
const resultEl = $('result');
const listEl = $('result-list');
const labelsEl = $('scale-labels');
const errEl = $('error');
const groupBox = $('group-box');
const groupSel = $('group');

await init();

const timerEl = $('timer');
let timerMs = null;
const showTimer = () => {
  timerEl.hidden = timerMs == null;
  if (timerMs == null) return;
  const open = st && st.slide.kind === 'statement' && st.slide.phase === 'open';
  const time = clock(timerMs);
  setText(timerEl, open ? t('part.timer_left', { time }) : t('part.timer_plain', { time }));
};
const tick = countdown((ms) => { timerMs = ms; showTimer(); });

const sock = connect({ code, hello: () => ({ key: null, participant_id: pid, card, lang }) });
ask(sock);
// The state the server put in the page: the statement shows and takes a tap at once; the
// socket sends the vote when it is open, and its own state replaces this one.
const boot = $('boot');
if (boot) {
  try { st = JSON.parse(boot.textContent); } catch { st = null; }
  boot.remove();
  // A tap the page's inline script took before this module arrived (web::boot).
  const early = optsEl.dataset.tap;
  optsEl.dataset.live = '1';
  if (st) queueMicrotask(() => { render(); if (early != null) choose(Number(early)); });
}
const cardForm = $('card-form');
const cardIn = $('card');
const elsewhere = $('elsewhere');
function cardBox(box) {
  main.dataset.card = box ? box.id : '';
  cardForm.hidden = box !== cardForm;
  elsewhere.hidden = box !== elsewhere;
  if (box === cardForm) cardIn.focus();
  // Before any welcome the deck's title is not known; the page heading is not left empty.
  if (!$('title').textContent) setText($('title'), t('part.page_title'));
}
// 4003: this session needs a card (or did not issue the one sent); 4004: it is used elsewhere.
sock.on('card', (close) => cardBox(close === 4004 ? elsewhere : cardForm));
cardForm.addEventListener('submit', (e) => {
  e.preventDefault();
  card = cardIn.value.trim();
  setText($('card-error'), '');
  sock.restart();
});
$('card-back').addEventListener('click', () => { cardBox(null); sock.restart(); });

sock.on('status', (s) => {
  showConn(conn, s);
  if (s === 'online' && !performance.getEntriesByName('online').length) performance.mark('online');
  if (s === 'ended') { main.dataset.ended = '1'; $('ended').hidden = false; }
});
// The session has ended: its title and the results the host revealed, each as the room
// saw it last.
sock.on('ended', (m) => {
  setText($('title'), m.title || '');
  const results = m.results || [];
  const list = results.map((r) => {
    const box = el('section', 'eres');
    const rows = r.tally.map((n, i) => resultRow(r, i, n, r.percents[i] ?? 0, r.options[i] || ''));
    const ol = el('ol', 'results');
    ol.append(...rows);
    box.append(el('h3', null, r.title), ol);
    if (r.scale && r.stats) box.append(el('p', 'rstats', statsText(r.stats, r.options)));
    return box;
  });
  if (list.length) list.unshift(el('h2', null, t('part.ended_results')));
  $('ended-results').replaceChildren(...list);
});
sock.on('welcome', (m) => {
  if (m.participant_id) { pid = m.participant_id; store.set(pidKey, pid); }
  card = null;
  if (main.dataset.card) cardBox(null);
  setText($('title'), m.title || '');
  for (const n of [$('title'), slideEl, optsEl, labelsEl, listEl, $('result-stats')]) n.lang = deckLang(m);
  acked = new Map((m.votes || []).map((v) => [v.slide + ':' + v.round, v.option]));
  mineArgs = new Map((m.arguments || []).map((a) => [a.slide, a]));
  upvoted = new Set(m.upvoted || []);
  sentArg = null;
  groups(m.groups || [], m.group ?? null);
  render();
});
sock.on('state', (m) => { st = m; tick(m.timer); render(); });
// Between states, the upvotes of the listed arguments alone, in their new order.
sock.on('upvotes', (m) => {
  const items = st && st.slide.index === m.slide && st.arguments && st.arguments.items;
  const by = new Map((items || []).map((x) => [x.argument, x]));
  if (!items || m.upvotes.some(([n]) => !by.has(n))) return;
  st.arguments.items = m.upvotes.map(([n, up]) => ({ ...by.get(n), upvotes: up }));
  render();
});
sock.on('ack', (m) => {
  acked.set(m.slide + ':' + m.round, m.option);
  render();
  // The confirmation of a tapped vote, and the argument form under it, come into view
  // when long options pushed them below the fold.
  if (tapped !== m.slide + ':' + m.round) return;
  tapped = null;
  requestAnimationFrame(() => {
    const r = voteEl.getBoundingClientRect();
    if (r.bottom > innerHeight) voteEl.scrollIntoView({ block: 'start', behavior: matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth' });
  });
});
sock.on('pending', render);
sock.on('argued', (m) => {
  if (!sentArg || m.id !== sentArg.id) return;
  mineArgs.set(m.slide, { ...m, text: sentArg.text });
  sentArg = null;
  render();
});
sock.on('ok', (m) => {
  upSent.delete(m.id);
  if (!sentArg || m.id !== sentArg.id) return;
  mineArgs.delete(sentArg.slide);
  sentArg = null;
  argNote = t('args.withdrawn');
  $('arg-text').value = '';
  render();
});
sock.on('error', (m, info) => {
  if (m.id >= 2 ** 52) return; // a question's (ask.js)
  if (m.id >= 2 ** 50) {
    if (m.code === 'upvotes_off') upvotesOff = true;
    else upvoted.delete(upSent.get(m.id));
    upSent.delete(m.id);
    if (sentArg && m.id === sentArg.id) sentArg = null;
    argNote = m.message || m.code;
    render();
    return;
  }
  if (info.transient || info.stale) return;
  if (m.code === 'unknown_card') return setText($('card-error'), t('part.card_unknown'));
  if (m.code === 'card_required') return;
  // A leftover vote for another statement or round, refused after a reconnect: drop quietly.
  const v = info.vote;
  if (v && st && (v.slide !== st.slide.index || v.round !== (st.slide.round || 1))) return;
  errEl.textContent = m.message || m.code;
  clearTimeout(errTimer);
  errTimer = setTimeout(() => { errEl.textContent = ''; }, 10000);
});
// A new hello in the new language, so the server's messages follow it.
// (Not while a card box waits for the person: that would take a card back from another phone.)
onLangChange(() => { if (!main.dataset.card) sock.restart(); showConn(conn, sock.status); optsSig = ''; render(); showGroup(); });

function groups(list, current) {
  if (!groupList.length && list.length) groupCompact = !!current;
  groupList = list;
  groupNow = current;
  const sig = JSON.stringify(list);
  if (sig !== groupsSig) {
    groupsSig = sig;
    groupSel.replaceChildren(groupSel.options[0]);
    for (const g of list) groupSel.append(new Option(g, g));
  }
  // A choice made while offline is sent once the connection is back.
  const redo = wantGroup !== undefined && wantGroup !== current && (wantGroup === null || list.includes(wantGroup));
  if (redo) sock.send({ type: 'choose_group', group: wantGroup });
  groupSel.value = (redo ? wantGroup : current) ?? '';
  showGroup();
}

// The picker while no group is chosen; once one is, a one-line reminder from the next
// slide on (the picker stays where it is until then, so nothing moves under a finger).
const chosenGroup = () => (wantGroup !== undefined ? wantGroup : groupNow);
function showGroup() {
  const chosen = chosenGroup();
  const compact = !!chosen && groupCompact;
  groupBox.hidden = !groupList.length || compact;
  $('group-chosen').hidden = !groupList.length || !compact;
  if (chosen) setText($('group-name'), t('part.group_chosen', { group: chosen }));
}

groupSel.addEventListener('change', () => {
  wantGroup = groupSel.value || null;
  sock.send({ type: 'choose_group', group: wantGroup });
});
$('group-change').addEventListener('click', () => {
  groupCompact = false;
  showGroup();
  groupSel.focus();
});

optsEl.addEventListener('click', (e) => {
  const b = e.target.closest('button[data-i]');
  if (b) choose(Number(b.dataset.i));
});

function choose(i) {
  if (!st || st.slide.phase !== 'open') return;
  const s = st.slide;
  const round = s.round || 1;
  const p = sock.pendingFor(s.index, round);
  if (!p && acked.get(s.index + ':' + round) === i) return;
  errEl.textContent = '';
  tapped = s.index + ':' + round;
  sock.vote(s.index, round, i);
}

const argText = $('arg-text');
// The characters left: shown at once, said to a screen reader once typing pauses.
let leftT = 0;
// Characters as the server counts them (code points: an emoji is one), and never cut: a
// longer paste is kept and the form says how much to take out.
function showLeft(typed) {
  const n = 280 - [...argText.value].length;
  const left = n < 0 ? t('args.over', { n: -n }) : t('args.left', { n });
  setText($('arg-left'), left);
  argText.setAttribute('aria-invalid', String(n < 0));
  $('arg-left').classList.toggle('over', n < 0);
  $('arg-send').disabled = n < 0 || !sock.online;
  if (!typed) return;
  clearTimeout(leftT);
  leftT = setTimeout(() => setText($('arg-left-live'), left), 1000);
}
argText.addEventListener('input', () => showLeft(true));
$('argue-form').addEventListener('submit', (e) => {
  e.preventDefault();
  if (sentArg) return; // one on its way: its answer comes first
  const id = ++msgId;
  const slide = st.slide.index;
  if (sock.send({ type: 'argue', id, slide, text: argText.value })) {
    sentArg = { id, slide, text: argText.value.trim() };
    argNote = '';
    render();
  }
});
$('arg-withdraw').addEventListener('click', () => {
  if (sentArg) return;
  const id = ++msgId;
  const slide = st.slide.index;
  if (sock.send({ type: 'withdraw_argument', id, slide })) { sentArg = { id, slide }; render(); }
});
$('arg-sides').addEventListener('click', (e) => {
  const b = e.target.closest('button[data-arg]');
  const n = b && Number(b.dataset.arg);
  if (!b || upvoted.has(n)) return;
  const id = ++msgId;
  if (sock.send({ type: 'upvote', id, argument: n })) {
    upSent.set(id, n);
    upvoted.add(n);
    render();
  }
});

// After a vote on an open statement: the form for one's argument, what became of it,
// and the arguments the host approved, per side.
function renderArgs(s, options, mine) {
  const a = s.kind === 'statement' ? st.arguments : null;
  const own = a && mineArgs.get(s.index);
  const form = $('argue');
  form.hidden = !a || s.phase !== 'open' || mine == null;
  if (s.index !== argSlide) {
    argSlide = s.index;
    argText.value = own ? own.text : '';
    argNote = '';
    form.open = false;
  }
  if (!form.hidden) {
    setText($('argue-sum'), own ? t('args.yours') : t('args.give'));
    setText($('arg-label'), t('args.label', { letter: optName(s, mine) }));
    setText($('arg-send'), own ? t('args.change') : t('args.send'));
    $('arg-withdraw').hidden = !own;
    for (const b of [$('arg-send'), $('arg-withdraw')]) b.disabled = !sock.online;
    showLeft();
  }
  const items = (a && a.items) || [];
  // A hidden argument is not told apart from one still waiting; once the vote is closed
  // nothing waits any more, so the phone says it did not make the list.
  setText($('arg-status'), !a ? '' : sentArg && sentArg.slide === s.index ? t('args.sending') : argNote
    || (own ? (items.some((x) => x.argument === own.argument) ? t('args.listed') : s.phase === 'closed' ? t('args.not_listed') : t('args.waiting')) : ''));
  const list = $('arglist');
  list.hidden = !items.length;
  const sig = JSON.stringify([items, lang]);
  if (sig !== argsSig) {
    argsSig = sig;
    $('arg-sides').replaceChildren(...options.flatMap((o, i) => {
      const side = items.filter((x) => x.option === i);
      if (!side.length) return [];
      const ul = el('ul', 'args c' + (i % 8));
      ul.append(...side.map((x) => {
        const li = el('li', x.status === 'highlighted' ? 'hl' : '');
        const b = el('button', 'up');
        b.type = 'button';
        b.dataset.arg = x.argument;
        b.dataset.n = x.upvotes;
        const p = el('p', null, x.text);
        p.id = 'a' + x.argument;
        b.setAttribute('aria-describedby', p.id);
        li.append(p, b);
        return li;
      }));
      const h = el('h3', null, t('args.for', { letter: optName(s, i) }) + ': ');
      h.append(el('span', null, o));
      h.lastChild.lang = optsEl.lang;
      return [h, ul];
    }));
  }
  for (const b of $('arg-sides').querySelectorAll('button')) {
    const done = upvoted.has(Number(b.dataset.arg));
    b.hidden = upvotesOff || st.arguments?.upvotes === false;
    b.setAttribute('aria-pressed', String(done));
    setText(b, done ? t('args.upvoted', { n: b.dataset.n }) : t('args.upvote', { n: b.dataset.n }));
  }
}

function render() {
  if (!st) return;
  const s = st.slide;
  const statement = s.kind === 'statement';
  const round = s.round || 1;
  const last = s.index >= s.count - 1;
  document.body.dataset.view = s.index + ':' + (s.phase || '') + ':' + st.revealed; // what is shown, for tests and styles
  // A new slide or round starts at the top, where its question and options are.
  const shown = s.index + ':' + round;
  if (shownRound !== null && shown !== shownRound) scrollTo(0, 0);
  shownRound = shown;
  if (s.index !== groupSlide) { groupSlide = s.index; groupCompact = !!chosenGroup(); }
  main.classList.toggle('content', !statement);
  main.classList.toggle('voting', statement && s.phase === 'open');
  setText(phaseEl, !statement ? (last ? t('part.end') : t('part.waiting'))
    : s.phase === 'open' ? (round > 1 ? t('part.phase_revote', { n: round }) : t('part.phase_open'))
    : s.phase === 'closed' ? t('part.phase_closed') : t('part.phase_pending'));
  const shownHtml = s.html + '\n' + (s.layout || '');
  if (shownHtml !== html) { html = shownHtml; showSlide(slideEl, s); }

  const options = statement ? s.options || [] : [];
  const sig = s.index + '\n' + !!s.scale + '\n' + options.join('\n');
  if (sig !== optsSig) {
    optsSig = sig;
    optsEl.classList.toggle('scale', !!s.scale);
    for (const n of [optsEl, labelsEl]) n.style.setProperty('--n', String(options.length));
    optsEl.replaceChildren(...options.map((o, i) => (s.scale ? point(o, i, options.length) : option(o, i))));
    labelsEl.replaceChildren(...(s.scale ? pointLabels(options) : []));
  }
  optsEl.hidden = !options.length;
  labelsEl.hidden = !s.scale || !options.length;

  const p = statement ? sock.pendingFor(s.index, round) : null;
  const mine = p ? p.option : acked.get(s.index + ':' + round);
  const open = s.phase === 'open';
  [...optsEl.children].forEach((b, i) => {
    b.disabled = !open;
    b.setAttribute('aria-pressed', String(mine === i));
    b.classList.toggle('sending', !!p && mine === i);
  });
  // The moment a tap first counts, for the slow-link benchmark (docs/PERFORMANCE.md).
  if (open && optsEl.children.length && !performance.getEntriesByName('votable').length) performance.mark('votable');
  voteEl.classList.toggle('sending', !!p);
  voteEl.classList.toggle('none', !p && mine == null);
  renderArgs(s, options, mine);
  $('end').hidden = !(statement && last && s.phase === 'closed');
  showTimer();
  showGroup();
  showMapGroup();
  setText(voteEl, !statement ? ''
    : p ? t('part.sending', { letter: optName(s, p.option) })
    : mine != null ? (options[mine] ? t('part.saved_label', { letter: optName(s, mine), label: options[mine] }) : t('part.saved', { letter: optName(s, mine) }))
    : s.phase === 'closed' ? t('part.no_vote') : '');

  const tally = statement && s.phase === 'closed' && st.tally;
  resultEl.hidden = !tally;
  // A result that appears below the fold is brought into view, once.
  const appeared = !!tally && !resultShown;
  resultShown = !!tally;
  if (appeared) {
    requestAnimationFrame(() => {
      const r = resultEl.getBoundingClientRect();
      if (r.top < 0 || r.bottom > innerHeight) resultEl.scrollIntoView({ block: r.height > innerHeight ? 'start' : 'end', behavior: matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth' });
    });
  }
  if (tally) {
    const pct = st.percents || [];
    listEl.replaceChildren(...tally.map((n, i) => resultRow(s, i, n, pct[i] ?? 0, options[i] || '')));
  }
  setText($('result-stats'), tally && s.scale ? statsText(st.stats, options) : '');
}

// One option's result: its letter (or point), text, percentage, count and bar.
function resultRow(slide, i, n, pct, text) {
  const li = el('li', 'res c' + (slide.scale ? 0 : i % 8));
  const bar = el('span', 'bar');
  const fill = el('span', 'fill');
  fill.style.width = pct + '%';
  bar.append(fill);
  li.append(el('span', 'letter', optName(slide, i)), el('span', 'otext', text),
    el('span', 'pct', t('tally.percent', { p: pct })), el('span', 'cnt', votes(n)), bar);
  return li;
}

function option(text, i) {
  const b = el('button', 'opt');
  b.type = 'button';
  b.dataset.i = i;
  b.append(el('span', 'letter', letter(i)), el('span', 'otext', text));
  return b;
}

// A point of a scale: its number, large; its name says where it lies and what it means.
function point(label, i, n) {
  const b = el('button', 'opt pt');
  b.type = 'button';
  b.dataset.i = i;
  b.setAttribute('aria-label', label ? t('scale.point', { n: i + 1, m: n, label }) : t('scale.point_bare', { n: i + 1, m: n }));
  b.append(el('span', 'num', String(i + 1)));
  return b;
}

// The opinion map's group of this phone, and nobody else's: asked once per map.
let mapAsked = -1;
let mapGroup = null;
sock.on('map_group', (m) => { mapGroup = m; showMapGroup(); });
function showMapGroup() {
  const om = st.opinion_map;
  const box = $('map-group');
  const on = !!om && om.status === 'map';
  if (on && om.version !== mapAsked && sock.send({ type: 'map_group', id: ++msgId })) mapAsked = om.version;
  const mine = on && mapGroup && mapGroup.version === om.version ? mapGroup : null;
  box.hidden = !mine;
  setText(box, !mine ? '' : mine.group ? t('part.map_group', { g: mine.group, n: om.group_count }) : t('part.map_none'));
}
