// Host page: the facilitator's remote (laptop or phone).
import { init, t, lang, onLangChange } from './i18n.js';
import { connect } from './socket.js';
import { $, el, pathCode, optName, votes, showConn, setText, clock, countdown, deckLang, switchSentence, statsText, scaleShift, turnout, showSlide } from './common.js';
import { takeKey, denied, groupName, groupWhy } from './present.js';
import { pressAgain } from './admin-ui.js';
import { questionsPanel } from './host-questions.js';
import { renderHostMap } from './opinion-map.js';

const code = pathCode();
let key = takeKey(code); // usually null: the server keeps the key in an HttpOnly cookie
let sock = null;
let st = null;
let outline = [];
let html = null;
let shownIndex = -1;
let errTimer = 0;
let handsSig = '';
let handsSeen = '';
let handsSent = null;
let contentLang = 'nl';
let notesShown = null; // what the notes and the next slide show, to redraw on a change only
let nextShown = null;

await init();
setText($('code'), code);
// Report and exports: plain links, authorised by the host cookie the host link set.
// The report and its PDF are in the session's language (the deck's `lang:`), whatever
// language this page is in; the workbook's sheet and column names follow the page.
$('report-link').href = '/report/' + encodeURIComponent(code);
$('pdf-link').href = '/report/' + encodeURIComponent(code) + '.pdf';
const reportLink = () => {
  $('xlsx-link').href = '/export/' + encodeURIComponent(code) + '.xlsx?lang=' + lang;
};
reportLink();
$('csv-link').href = '/export/' + encodeURIComponent(code) + '.csv';
$('json-link').href = '/export/' + encodeURIComponent(code) + '.json';

const buttons = [...document.querySelectorAll('.controls button')];
// The control the keyboard was on: a button that disables itself (Open vote) hands the
// focus to the next one that works, so keyboard users keep their place.
let lastFocus = null;
document.addEventListener('focusin', (e) => { lastFocus = buttons.includes(e.target) ? e.target : null; });
function keepFocus() {
  if (!lastFocus || !lastFocus.disabled) return;
  if (document.activeElement !== lastFocus && document.activeElement !== document.body && document.activeElement) return;
  const i = buttons.indexOf(lastFocus);
  const next = buttons.slice(i + 1).concat(buttons.slice(0, i)).find((b) => !b.disabled);
  if (next) next.focus();
}
const tick = countdown((ms) => setText($('countdown'), ms == null ? '' : t('host.timer_left', { time: clock(ms) })));

function deny() {
  const retry = key != null;
  key = null;
  denied(code, retry, sock, [$('app'), $('conn')]);
}

start();

function start() {
  sock = connect({ code, hello: () => ({ key, role: 'host', participant_id: null, lang }) });
  questionsPanel(sock);
  sock.on('status', (s) => {
    showConn($('conn'), s);
    $('ended').hidden = s !== 'ended';
    $('app').classList.toggle('ended', s === 'ended');
    render();
  });
  sock.on('ended', (m) => { setText($('title'), m.title || ''); setText($('code'), code); });
  sock.on('welcome', (m) => {
    if (m.role !== 'host') { deny(); return; }
    setText($('title'), m.title || '');
    setText($('code'), m.code || code);
    for (const n of [$('title'), $('preview'), $('popts'), $('next-opts'), $('slides'), $('stats')]) n.lang = deckLang(m);
    contentLang = deckLang(m);
    outline = m.slides || [];
    const join = $('join-url');
    join.href = m.join_url || '/' + code;
    setText(join, join.href.replace(/^https?:\/\//, ''));
    const screen = $('screen-link');
    screen.hidden = !m.screen_url;
    if (m.screen_url) screen.href = m.screen_url;
    buildList();
    render();
  });
  sock.on('state', (m) => { st = m; tick(m.timer); render(); });
  sock.on('error', (m) => {
    if (m.code === 'bad_key') { deny(); return; }
    $('error').textContent = m.message || m.code;
    clearTimeout(errTimer);
    errTimer = setTimeout(() => { $('error').textContent = ''; }, 10000);
  });
  onLangChange(() => { reportLink(); sock.restart(); showConn($('conn'), sock.status); buildList(); html = null; notesShown = null; nextShown = null; render(); showTimes(); if (st) tick(st.timer); });
}

const send = (msg) => sock && sock.send(msg);

// What the host can put on the screen beside the result: the state's field and the
// command. The screen shows one at a time, so showing one takes the others off.
const VIEWS = { shift: ['shift', 'show_shift'], groups: ['groups', 'show_groups'], args: ['arguments', 'show_arguments'] };
// The shift and the groups appear on the screen only with the round's results
// (docs/protocol.md), so while those are hidden their button shows both.
const needsReveal = (name) => name !== 'args' && !st.revealed;
function toggleView(name) {
  const view = st && st[VIEWS[name][0]];
  if (!view) return;
  if (view.shown && !needsReveal(name)) { send({ type: VIEWS[name][1], visible: false }); return; }
  if (needsReveal(name)) send({ type: 'reveal', visible: true });
  for (const [other, [field, type]] of Object.entries(VIEWS)) {
    if (other !== name && st[field] && st[field].shown) send({ type, visible: false });
  }
  if (!view.shown) send({ type: VIEWS[name][1], visible: true });
}
const LABELS = {
  shift: () => ({ on: t('shift.shown'), waits: t('shift.waits'), off: t('shift.not_shown'), both: t('shift.show_with_result'), hide: t('shift.hide'), show: t('shift.show') }),
  groups: () => ({ on: t('groups.shown'), waits: t('groups.waits'), off: t('groups.not_shown'), both: t('groups.show_with_result'), hide: t('groups.hide'), show: t('groups.show') }),
  args: () => ({ on: t('args.shown'), off: t('args.not_shown'), hide: t('args.hide_screen'), show: t('args.show') }),
};
// The line that says where a view is, and its button's label.
function viewButton(name, view, online) {
  const reveal = needsReveal(name);
  const l = LABELS[name]();
  setText($(name + '-state'), view.shown && !reveal ? l.on : view.shown ? l.waits : l.off);
  setText($(name + '-show'), reveal ? l.both : view.shown ? l.hide : l.show);
  $(name + '-show').disabled = !online;
}

// What the screen shows beside a statement, by the screen's own rule (screen.js): the
// questions over everything (screen-questions.js), then the arguments, then the groups
// or the shift with the results, then the results.
function onScreen() {
  if (st.questions && st.questions.shown) return t('qa.screen_now');
  if (st.arguments && st.arguments.shown) return t('host.screen_args');
  if (!st.revealed) return t('host.results_hidden');
  if (st.groups && st.groups.shown) return t('host.screen_groups');
  if (st.shift && st.shift.shown) return t('host.screen_shift');
  return t('host.results_shown');
}

// Leaving a statement closes its open vote (docs/protocol.md), so the first press only
// warns; the same press again within LEAVE_CONFIRM_MS goes on. A presenter clicker sends
// the same keys as the arrows, so a stray click never closes a vote unseen.
const LEAVE_CONFIRM_MS = 5000;
let armed = null;
let armTimer = 0;
function disarm() {
  armed = null;
  clearTimeout(armTimer);
  setText($('leave-warn'), '');
}
function leave(what, msg) {
  if (!st) return;
  const s = st.slide;
  const open = s.kind === 'statement' && s.phase === 'open';
  const moves = msg.type !== 'go_to' || msg.slide !== s.index;
  confirmed(open && moves, what, t('host.leave_warning'), msg);
}
// Sends `msg` if nothing needs confirming, or at the second press of the same control
// within LEAVE_CONFIRM_MS; the first press says what the second will do, in the page.
function confirmed(ask, what, warning, msg) {
  if (ask && armed !== what) {
    disarm();
    armed = what;
    setText($('leave-warn'), warning);
    armTimer = setTimeout(disarm, LEAVE_CONFIRM_MS);
    return;
  }
  disarm();
  send(msg);
}

$('prev').addEventListener('click', () => leave('prev', { type: 'prev' }));
$('next').addEventListener('click', () => leave('next', { type: 'next' }));
$('open').addEventListener('click', () => send({ type: 'open_vote' }));
$('close').addEventListener('click', () => send({ type: 'close_vote' }));
$('reveal').addEventListener('click', () => {
  if (!st) return;
  // The screen shows the arguments before anything else: revealing the results takes
  // them off, so the room sees what the host asked for.
  if (!st.revealed && st.arguments && st.arguments.shown) send({ type: 'show_arguments', visible: false });
  send({ type: 'reveal', visible: !st.revealed });
});
for (const name of Object.keys(VIEWS)) $(name + '-show').addEventListener('click', () => toggleView(name));
$('map-show').addEventListener('click', () => send({ type: 'show_map', visible: !$('map-show').dataset.visible }));
$('revote').addEventListener('click', () => confirmed(true, 'revote', t('host.revote_confirm'), { type: 'revote' }));
$('stop').addEventListener('click', () => send({ type: 'stop_timer' }));
for (const b of document.querySelectorAll('[data-sec]')) {
  b.addEventListener('click', () => send({ type: 'start_timer', seconds: Number(b.dataset.sec) }));
}
$('hands').addEventListener('submit', (e) => {
  e.preventDefault();
  const inputs = [...$('hands-fields').querySelectorAll('input')];
  const counts = inputs.map((x) => (x.value.trim() === '' ? 0 : Number(x.value)));
  const bad = counts.map((n) => !Number.isInteger(n) || n < 0 || n > 100000);
  inputs.forEach((x, i) => { if (bad[i]) x.setAttribute('aria-invalid', 'true'); else x.removeAttribute('aria-invalid'); });
  const first = bad.indexOf(true);
  if (first >= 0) {
    setText($('hands-status'), t('host.hands_invalid'));
    inputs[first].focus();
    return;
  }
  setText($('hands-status'), '');
  if (send({ type: 'hand_count', counts })) handsSent = JSON.stringify(counts);
});
$('slides').addEventListener('click', (e) => {
  const b = e.target.closest('button[data-i]');
  if (b) leave('go:' + b.dataset.i, { type: 'go_to', slide: Number(b.dataset.i) });
});

document.addEventListener('keydown', (e) => {
  if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
  if (e.target instanceof Element && e.target.closest('input, select, textarea, [contenteditable]')) return;
  const next = e.key === 'ArrowRight' || e.key === 'PageDown';
  const prev = e.key === 'ArrowLeft' || e.key === 'PageUp';
  if (!next && !prev) return;
  e.preventDefault();
  leave(next ? 'next' : 'prev', { type: next ? 'next' : 'prev' });
});

function buildList() {
  $('slides').replaceChildren(...outline.map((s) => {
    const b = el('button', 'item');
    b.type = 'button';
    b.dataset.i = s.index;
    b.append(el('span', 'num', String(s.index + 1)), el('span', 'ttl', s.title));
    if (s.kind === 'statement') {
      const tag = el('span', 'tag', s.scale ? t('host.kind_scale') : t('host.kind_statement'));
      tag.lang = lang;
      b.append(tag);
    }
    const li = el('li');
    li.append(b);
    return li;
  }));
  shownIndex = -1;
}

function render() {
  const online = !!sock && sock.online;
  if (!st) { buttons.forEach((b) => { b.disabled = true; }); return; }
  const s = st.slide;
  const statement = s.kind === 'statement';
  const phase = s.phase;
  const round = s.round || 1;

  // The store cannot write: votes are refused until it can (docs/protocol.md, storage).
  $('storage').hidden = st.storage !== 'failing';
  // Stored events the server could not apply when it loaded the session (protocol.md).
  const skipped = st.skipped_events || 0;
  $('skipped').hidden = !skipped;
  if (skipped) setText($('skipped-h'), skipped === 1 ? t('host.skipped_one', { n: 1 }) : t('host.skipped_other', { n: skipped }));
  setText($('pos'), t('host.slide_pos', { i: s.index + 1, n: s.count }));
  document.body.dataset.view = s.index + ':' + (s.phase || '') + ':' + st.revealed; // what is shown, for tests and styles
  const ph = phase === 'open' ? t('host.phase_open') : phase === 'closed' ? t('host.phase_closed') : t('host.phase_pending');
  setText($('phase'), !statement ? t('host.content_slide') : round > 1 ? t('host.round_phase', { n: round, phase: ph }) : ph);

  if (armed && !(statement && phase === 'open')) disarm();
  $('prev').disabled = !online || s.index <= 0;
  $('next').disabled = !online || s.index >= s.count - 1;
  $('open').disabled = !online || !statement || phase === 'open';
  setText($('open'), phase === 'closed' ? t('host.reopen_vote') : t('host.open_vote'));
  $('close').disabled = !online || phase !== 'open';
  $('reveal').disabled = !online || !statement;
  setText($('reveal'), st.revealed ? t('host.hide') : t('host.reveal'));
  $('revote').disabled = !online || !statement || phase === 'pending';
  for (const b of document.querySelectorAll('[data-sec]')) b.disabled = !online;
  $('stop').disabled = !online || !st.timer;
  renderHostMap(st, online);
  setText($('timer-note'), statement && phase !== 'closed' ? t('host.timer_closes') : t('host.timer_plain'));
  // One primary button: the step a facilitator takes next.
  const primary = !statement ? 'next' : phase === 'pending' ? 'open' : phase === 'open' ? 'close' : st.revealed ? 'next' : 'reveal';
  for (const id of ['next', 'open', 'close', 'reveal']) $(id).classList.toggle('primary', id === primary);
  keepFocus();

  // Slide list: mark the current slide.
  if (shownIndex !== s.index) {
    shownIndex = s.index;
    for (const b of $('slides').querySelectorAll('button')) {
      if (Number(b.dataset.i) === s.index) {
        b.setAttribute('aria-current', 'true');
        const nav = $('nav');
        if (nav.scrollHeight > nav.clientHeight + 1) {
          const r = b.getBoundingClientRect();
          const n = nav.getBoundingClientRect();
          if (r.top < n.top || r.bottom > n.bottom) nav.scrollTop += r.top - n.top - nav.clientHeight / 3;
        }
      } else b.removeAttribute('aria-current');
    }
  }

  // Preview.
  const shownHtml = s.html + '\n' + (s.layout || '');
  if (shownHtml !== html) { html = shownHtml; showSlide($('preview'), s); }
  const options = statement ? s.options || [] : [];
  $('popts').replaceChildren(...options.map((o, i) => {
    const li = el('li', 'c' + (s.scale ? 0 : i % 8));
    li.append(el('span', 'letter', optName(s, i)), el('span', 'otext', o));
    return li;
  }));

  renderPresenter(st.presenter);

  // Tally and turnout, worded as on the screen; people counted by hand are in the room.
  const joined = st.joined ?? 0;
  const hands = statement && st.hands ? st.hands : null;
  setText($('turnout'), statement ? turnout(st) : (joined === 1 ? t('host.joined_one', { n: joined }) : t('host.joined', { n: joined })));
  setText($('shown'), statement ? onScreen() : '');
  $('cards-used').hidden = !st.cards;
  setText($('cards-used'), st.cards ? t('host.cards_used', st.cards) : '');
  const tally = statement ? st.tally || options.map(() => 0) : [];
  const pct = statement ? st.percents || options.map(() => 0) : [];
  $('tally').replaceChildren(...tally.map((n, i) => {
    const li = el('li', 'row-t c' + (s.scale ? 0 : i % 8));
    const bar = el('span', 'bar');
    const fill = el('span', 'fill');
    fill.style.width = pct[i] + '%';
    bar.append(fill);
    li.append(el('span', 'letter', optName(s, i)), el('span', 'otext', options[i] || ''),
      el('span', 'cnt', votes(n)), el('span', 'pct', t('tally.percent', { p: pct[i] })));
    li.querySelector('.otext').lang = contentLang;
    if (hands) li.append(el('span', 'hcount', t('host.hands_of', { n: hands[i] ?? 0 })));
    li.append(bar);
    return li;
  }));
  setText($('stats'), statement && s.scale ? statsText(st.stats, options) : '');
  renderShift(statement ? st.shift : null, s, options, online);
  renderGroups(statement ? st.groups : null, options, online);
  renderArgs(statement ? st.arguments : null, online);
  renderHands(s, options);
}

// The presenter's own view: the notes for the slide on show and the slide after it.
// Only the host's state has them; the screen and phones never hear the notes.
function renderPresenter(p) {
  const notes = (p && p.notes) || null;
  const notesSig = notes || lang;
  if (notesSig !== notesShown) {
    notesShown = notesSig;
    const box = $('notes');
    if (notes) box.innerHTML = notes; else setText(box, t('host.no_notes'));
    box.lang = notes ? contentLang : lang;
    box.classList.toggle('muted', !notes);
  }
  const next = (p && p.next) || null;
  const nextSig = next ? JSON.stringify([next.html, next.options, next.layout]) : lang;
  if (nextSig === nextShown) return;
  nextShown = nextSig;
  const box = $('next-slide');
  if (next) showSlide(box, next); else setText(box, t('host.last_slide'));
  box.lang = next ? contentLang : lang;
  box.classList.toggle('muted', !next);
  $('next-opts').replaceChildren(...(next ? next.options || [] : []).map((o, i) => {
    const li = el('li', 'c' + (next.scale ? 0 : i % 8));
    li.append(el('span', 'letter', optName(next, i)), el('span', 'otext', o));
    return li;
  }));
}

// Elapsed time since this page started presenting the session (kept across a reload
// in the tab, restarted with its button) and the time of day, every second.
const START_KEY = 'stemzaal.presenting.' + code;
function startedAt() {
  const kept = Number(sessionStorage.getItem(START_KEY));
  if (kept > 0) return kept;
  const now = Date.now();
  sessionStorage.setItem(START_KEY, String(now));
  return now;
}
function elapsedText(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const two = (n) => String(n).padStart(2, '0');
  return h > 0 ? h + ':' + two(m) + ':' + two(s % 60) : m + ':' + two(s % 60);
}
function showTimes() {
  setText($('elapsed'), elapsedText(Date.now() - startedAt()));
  setText($('clock'), new Date().toLocaleTimeString(lang === 'en' ? 'en-GB' : 'nl-NL', { hour: '2-digit', minute: '2-digit' }));
}
$('elapsed-reset').addEventListener('click', () => { sessionStorage.removeItem(START_KEY); showTimes(); });
showTimes();
setInterval(showTimes, 1000);
// A phone as a remote keeps its screen for the controls: the notes and the next slide
// start folded there, one tap away.
if (matchMedia('(max-width: 40rem)').matches) {
  $('notesbox').open = false;
  $('nextbox').open = false;
}

// After a re-vote: the round before beside this one, who switched, and the button that
// puts it on the screen.
function renderShift(shift, s, options, online) {
  $('shiftbox').hidden = !shift;
  if (!shift) return;
  setText($('shift-h'), t('shift.heading', { a: shift.from_round, b: shift.to_round }));
  setText($('shift-r0'), t('shift.round', { n: shift.from_round }));
  setText($('shift-r1'), t('shift.round', { n: shift.to_round }));
  const rows = shift.after.map((n, i) => {
    const tr = el('tr');
    const th = el('th', null, optName(s, i));
    th.scope = 'row';
    tr.append(th, el('td', null, String(shift.before[i] ?? 0)), el('td', null, String(n)));
    return tr;
  });
  $('shift-rows').replaceChildren(...rows);
  // On a scale: median and mean before and after, and who moved up or down.
  const moved = s.scale ? scaleShift(shift, options) : null;
  setText($('shift-stats'), moved ? moved[0] : '');
  setText($('shift-note'), moved ? moved[1] : switchSentence(shift));
  viewButton('shift', shift, online);
}

// The current round per group: counts and percentages, or in words why not.
function renderGroups(groups, options, online) {
  $('groupbox').hidden = !groups;
  if (!groups) return;
  const head = [t('groups.group'), ...options.map((_, i) => optName(st.slide, i)), t('groups.voters')].map((s) => {
    const th = el('th', null, s);
    th.scope = 'col';
    return th;
  });
  $('groups-head').replaceChildren(...head);
  $('groups-rows').replaceChildren(...groups.rows.map((r) => {
    const tr = el('tr');
    const th = el('th', null, groupName(r));
    th.scope = 'row';
    if (r.group != null) th.lang = contentLang;
    tr.append(th);
    if (r.counts) {
      const pct = r.percents;
      tr.append(...r.counts.map((n, i) => el('td', null, t('groups.cell', { n, p: pct[i] }))), el('td', null, String(r.voted)));
    } else {
      const td = el('td', 'gwhy', groupWhy(r, groups.min_group_size));
      td.colSpan = options.length + 1;
      tr.append(td);
    }
    return tr;
  }));
  viewButton('groups', groups, online);
}

// Arguments on the statement on show: the queue (oldest first) and the approved ones
// (highlighted first), each kept as one node so a button keeps its focus and its
// "press again" across updates.
const argNodes = new Map();
function renderArgs(a, online) {
  $('argsbox').hidden = !a;
  if (!a) return;
  const counts = (a.counts || []).map((n, i) => optName(st.slide, i) + '\u00a0' + n).join(' · ');
  setText($('args-counts'), counts && t('args.counts', { list: counts }));
  viewButton('args', a, online);
  const pending = a.items.filter((x) => x.status === 'pending');
  const listed = a.items.filter((x) => x.status !== 'pending');
  listed.sort((x, y) => (y.status === 'highlighted') - (x.status === 'highlighted'));
  setText($('queue-h'), t('args.pending', { n: pending.length }));
  setText($('approved-h'), t('args.approved', { n: listed.length }));
  const live = new Set(a.items.map((x) => x.argument));
  for (const n of argNodes.keys()) if (!live.has(n)) argNodes.delete(n);
  const focused = document.activeElement;
  const inList = !!focused && !!focused.closest && !!focused.closest('#argsbox li');
  place($('queue'), pending.map((x) => argNode(x, online)));
  place($('approved'), listed.map((x) => argNode(x, online)));
  // A decided argument moves on and its buttons change: the focus goes to the next one
  // waiting, so a keyboard moderates the queue from the top.
  if (inList && document.activeElement !== focused) ($('queue').querySelector('button') || $('queue-h')).focus();
}

// Puts `nodes` in `list` in this order, moving only what is out of place.
function place(list, nodes) {
  nodes.forEach((n, i) => { if (list.children[i] !== n) list.insertBefore(n, list.children[i] || null); });
  while (list.children.length > nodes.length) list.lastChild.remove();
}

function argNode(x, online) {
  let li = argNodes.get(x.argument);
  if (!li) {
    li = el('li', 'arg');
    const text = el('p', 'atext', x.text);
    text.id = 'arg-' + x.argument;
    li.append(el('span', 'letter'), text, el('p', 'ameta'), el('div', 'acts'));
    argNodes.set(x.argument, li);
  }
  li.className = 'arg c' + (x.option % 8) + (x.status === 'highlighted' ? ' hl' : '');
  setText(li.firstChild, optName(st.slide, x.option));
  const meta = x.status === 'pending' ? t('args.for', { letter: optName(st.slide, x.option) })
    : t('args.votes', { letter: optName(st.slide, x.option), n: x.upvotes }) + (x.status === 'highlighted' ? ' · ' + t('args.highlighted') : '');
  setText(li.querySelector('.ameta'), meta);
  const acts = li.querySelector('.acts');
  const want = x.status === 'pending' ? ['approved', 'highlighted', 'hidden']
    : x.status === 'approved' ? ['highlighted', 'hidden'] : ['approved', 'hidden'];
  const sig = x.status + ':' + lang;
  if (acts.dataset.sig !== sig) {
    acts.dataset.sig = sig;
    acts.replaceChildren(...want.map((status) => {
      const b = el('button', status === 'hidden' ? 'ahide' : null,
        status === 'hidden' ? t('args.hide') : status === 'highlighted' ? t('args.highlight')
          : x.status === 'pending' ? t('args.approve') : t('args.unhighlight'));
      b.type = 'button';
      b.dataset.status = status;
      b.dataset.arg = x.argument;
      b.setAttribute('aria-describedby', 'arg-' + x.argument);
      return b;
    }));
  }
  for (const b of acts.children) b.disabled = !online;
  return li;
}

$('argsbox').addEventListener('click', (e) => {
  const b = e.target.closest('button[data-arg]');
  if (!b) return;
  // Hidden is removed for good: the first press only asks.
  if (b.dataset.status === 'hidden' && !pressAgain(b, () => t('args.hide_ask'))) return;
  send({ type: 'moderate', argument: Number(b.dataset.arg), status: b.dataset.status });
});

// The hand count form: one number per option, once the vote has been opened.
function renderHands(s, options) {
  const form = $('hands');
  form.hidden = s.kind !== 'statement' || s.phase === 'pending' || !options.length;
  if (form.hidden) return;
  const fields = $('hands-fields');
  const current = options.map((_, i) => (st.hands && st.hands[i]) || 0);
  const sig = s.index + ':' + (s.round || 1) + ':' + options.length;
  const seen = JSON.stringify(current);
  if (sig !== handsSig) {
    handsSig = sig;
    handsSent = null;
    setText($('hands-status'), '');
    fields.replaceChildren(...options.map((_, i) => {
      const box = el('div', 'hfield');
      const label = el('label');
      label.htmlFor = 'hand-' + i;
      const input = el('input');
      Object.assign(input, { id: 'hand-' + i, type: 'number', inputMode: 'numeric', min: '0', max: '100000', step: '1', value: String(current[i]) });
      input.setAttribute('aria-describedby', 'hands-help');
      box.append(label, input);
      return box;
    }));
  } else if (seen !== handsSeen && !form.contains(document.activeElement)) {
    fields.querySelectorAll('input').forEach((x, i) => { x.value = String(current[i]); });
  }
  handsSeen = seen;
  fields.querySelectorAll('label').forEach((l, i) => setText(l, t('host.hands_for', { letter: optName(s, i) })));
  if (handsSent && handsSent === seen) {
    handsSent = null;
    setText($('hands-status'), t('host.hands_saved'));
  }
  $('hands-save').disabled = !sock || !sock.online;
}
