// The one WebSocket client of all pages. connect({code, hello}) returns an object with
// on(type, fn) for 'status' ('connecting'|'online'|'reconnecting'|'ended'|'card'|
// 'elsewhere'), 'welcome', 'state', 'ack', 'error' (msg, {vote, transient, stale}),
// 'pending' and 'card' (close code); send(msg) (only when online, i.e. after welcome);
// vote(slide, round, option); pendingFor(slide, round). hello() is asked for {key, role,
// participant_id, card, lang} on every (re)connect; host and screen pass role
// ('host'/'screen') so the server may take the key from its cookie. A close for a voting
// card (4003 asks for one, 4004: used on another phone) emits 'card' and waits for
// restart() instead of reconnecting. Reconnects back off exponentially with full jitter;
// after 1013 ("try again later") they never start with an immediate retry.
// A closed session answers the hello with 'ended' (its title and the results the host
// revealed) and closes with 4001; a close while the page is open asks for it once more.
// Votes stay pending (and in localStorage) until their ack or an error naming their id,
// and are resent after every welcome. Under /preview/ there is no socket: see preview().
import { store } from './common.js';

const BASE = 500, CAP = 10000;
const STABLE = 5000; // online this long: backoff starts over
const WAIT = 10000; // no welcome this soon: try again
const QUIET = 1500; // a deliberate reconnect shows no "reconnecting" this long
const SLEPT = 20000; // hidden this long (phone locked): reconnect fresh
const CROWDED = 3; // refused as one of too many new phones on one address: next try within 4 s
const LATER = 1013; // "try again later" (storage, too many joins, the session moving between nodes)
const PAUSE = 1; // after 1013: the next try within 1 s, then 2, 4… s
const TRANSIENT = new Set(['rate_limited', 'storage_unavailable']);
const ID_KEY = 'stemzaal:vote-id';
const ENDED = 4001; // the session was closed from the console
const EDITED = 4002; // the deck's texts were edited: reconnect for the new welcome
const CARD = 4003; // a voting card is needed, or the one sent is unknown: ask for one
const ELSEWHERE = 4004; // the voting card is used on another phone: say so, do not reconnect
const UUID = /^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i;

export function connect({ code, hello }) {
  if (location.pathname.startsWith('/preview/')) return preview();
  const subs = {};
  const emit = (type, ...a) => (subs[type] || []).forEach((f) => {
    try { f(...a); } catch (e) { console.error(e); } // a page bug must not stop the socket
  });
  const pendKey = 'stemzaal:pending:' + code;
  let pending = [];
  try {
    pending = (JSON.parse(store.get(pendKey)) || []).filter((v) => [v.id, v.slide, v.round, v.option].every(Number.isInteger));
  } catch { /* none */ }
  let lastId = Math.max(0, ...pending.map((v) => v.id));
  let ws = null, welcomed = false, everOnline = false, stopped = false, status = '', ended = false;
  let attempt = 0, busy = 0, hiddenAt = 0;
  let retryT = 0, waitT = 0, stableT = 0, quietT = 0, flushT = 0;

  function setStatus(s) {
    clearTimeout(quietT);
    if (s !== status) { status = s; emit('status', s); }
  }
  function save() {
    if (pending.length) store.set(pendKey, JSON.stringify(pending));
    else store.del(pendKey);
    emit('pending');
  }
  function raw(msg) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(msg));
    return true;
  }
  const sendVote = (v) => raw({ type: 'vote', id: v.id, slide: v.slide, round: v.round, option: v.option });

  function open() {
    clearTimeout(retryT);
    if (stopped || ws) return;
    let s;
    try {
      s = new WebSocket(url());
    } catch { schedule(); return; }
    ws = s;
    welcomed = false;
    waitT = setTimeout(() => { s.close(); if (ws === s) lost(); }, WAIT);
    s.onopen = () => { if (ws === s) raw(helloMsg()); };
    s.onmessage = (e) => { if (ws === s) receive(e.data); };
    s.onclose = (e) => {
      if (ws !== s) return;
      if (e.code === ENDED) { stopped = true; forget(); setStatus('ended'); if (!ended) askEnding(); } // closed for good
      else if (e.code === EDITED) { attempt = 0; restart(); } // new texts: fetch them at once
      else if (e.code === LATER) { attempt = Math.max(attempt, PAUSE); lost(); } // back off, then again
      else if (e.code === CARD || e.code === ELSEWHERE) { // wait for the person
        forget();
        setStatus(e.code === ELSEWHERE ? 'elsewhere' : 'card');
        emit('card', e.code);
      } else lost();
    };
  }
  function url() {
    return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/' + encodeURIComponent(code);
  }
  function helloMsg() {
    const h = hello();
    const msg = { type: 'hello', key: h.key || null, participant_id: UUID.test(h.participant_id) ? h.participant_id : null, lang: h.lang === 'en' ? 'en' : 'nl' };
    if (h.role) msg.role = h.role;
    if (h.card) msg.card = h.card;
    return msg;
  }
  // Closed while open: the ending comes as after a reload, once, within 3 s (so a room
  // of phones does not ask in the same instant).
  function askEnding() {
    setTimeout(() => {
      let s;
      try { s = new WebSocket(url()); } catch { return; }
      s.onopen = () => s.send(JSON.stringify(helloMsg()));
      s.onmessage = (e) => receive(e.data);
    }, Math.random() * 3000);
  }
  function forget() {
    const old = ws;
    ws = null;
    welcomed = false;
    [waitT, stableT].forEach(clearTimeout);
    if (old) old.close();
  }
  function lost() {
    forget();
    if (stopped) return;
    setStatus(everOnline ? 'reconnecting' : 'connecting');
    schedule();
  }
  function schedule() {
    clearTimeout(retryT);
    retryT = setTimeout(open, Math.random() * Math.min(CAP, BASE * 2 ** attempt));
    attempt = Math.min(attempt + 1, 16);
  }
  // Reconnect now (after sleep, on request) without flashing "connection lost".
  function restart() {
    forget();
    if (stopped) return;
    open();
    if (status === 'online') quietT = setTimeout(() => { if (!welcomed) setStatus('reconnecting'); }, QUIET);
  }
  function flush() {
    if (welcomed) pending.forEach(sendVote);
  }

  function receive(data) {
    let m;
    try { m = JSON.parse(data); } catch { return; }
    if (!m || typeof m.type !== 'string') return;
    if (m.type === 'ended') {
      ended = true;
      emit('ended', m);
    } else if (m.type === 'welcome') {
      welcomed = everOnline = true;
      clearTimeout(waitT);
      clearTimeout(stableT);
      stableT = setTimeout(() => { attempt = 0; }, STABLE);
      setStatus('online');
      emit('welcome', m);
      flush();
    } else if (m.type === 'ack') {
      busy = 0;
      const n = pending.length;
      pending = pending.filter((v) => v.id !== m.id);
      if (pending.length !== n) save();
      emit('ack', m);
    } else if (m.type === 'error' && m.code === 'too_many_joins') {
      // The server closes next; the reconnect waits longer, so a crowd spreads out.
      attempt = Math.max(attempt, CROWDED);
    } else if (m.type === 'error') {
      const vote = m.id == null ? null : pending.find((v) => v.id === m.id) || null;
      const transient = TRANSIENT.has(m.code);
      if (vote && transient && !flushT) {
        // Keep it and try again a little later, backing off while the server stays busy.
        flushT = setTimeout(() => { flushT = 0; flush(); }, Math.min(CAP, 1000 * 2 ** busy) * (0.5 + Math.random() / 2));
        busy = Math.min(busy + 1, 8);
      } else if (vote && !transient) {
        pending = pending.filter((v) => v !== vote);
        save();
      }
      // stale: it names a vote that was replaced or acked meanwhile.
      emit('error', m, { vote, transient, stale: m.id != null && !vote });
    } else emit(m.type, m);
  }

  document.addEventListener('visibilitychange', () => {
    if (document.hidden) { hiddenAt = Date.now(); return; }
    const slept = hiddenAt && Date.now() - hiddenAt > SLEPT;
    hiddenAt = 0;
    if (slept || !ws) restart();
  });
  addEventListener('online', () => { if (!ws) restart(); });
  addEventListener('pageshow', (e) => { if (e.persisted) restart(); });

  const api = {
    on(type, f) { (subs[type] ||= []).push(f); return api; },
    get status() { return status; },
    get online() { return welcomed; },
    send: (msg) => welcomed && raw(msg),
    // Records a vote, replacing any pending one on the same statement, and sends it.
    vote(slide, round, option) {
      const id = Math.max(lastId, Number(store.get(ID_KEY)) || 0) + 1;
      lastId = id;
      store.set(ID_KEY, String(id));
      const v = { id, slide, round, option };
      pending = pending.filter((p) => p.slide !== slide).concat(v);
      save();
      if (welcomed) sendVote(v);
      return v;
    },
    pendingFor: (slide, round) => pending.find((v) => v.slide === slide && v.round === round) || null,
    restart,
    close() {
      stopped = true;
      [retryT, quietT, flushT].forEach(clearTimeout);
      forget();
    },
  };
  queueMicrotask(() => { setStatus('connecting'); open(); });
  return api;
}

// The console (/admin) shows a deck on the real pages in iframes: it posts the welcome
// and state messages a session would send. A vote is acknowledged here and goes nowhere.
function preview() {
  const subs = {};
  const emit = (type, m) => (subs[type] || []).forEach((f) => f(m));
  const api = {
    on(type, f) { (subs[type] ||= []).push(f); return api; },
    status: 'preview',
    online: true,
    send: () => false,
    vote(slide, round, option) { const v = { slide, round, option }; emit('ack', v); return v; },
    pendingFor: () => null,
    restart() {},
    close() {},
  };
  addEventListener('message', (e) => {
    const m = e.data;
    if (e.origin === location.origin && m && (m.type === 'welcome' || m.type === 'state')) emit(m.type, m);
  });
  // Asked for once the page listens, so nothing the console sends is missed.
  // It says 'preview', not 'online': nothing here is connected to a session.
  queueMicrotask(() => { emit('status', 'preview'); parent.postMessage({ type: 'preview_ready' }, location.origin); });
  return api;
}
