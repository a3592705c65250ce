// The one WebSocket client the participant, host and screen pages share.
//
//   const sock = connect({ code, hello: () => ({ key, participant_id, lang }) });
//   sock.on('status', s => …)   // 'connecting' | 'online' | 'reconnecting'
//   sock.on('welcome' | 'state' | 'ack' | 'error', msg => …)
//   sock.on('pending', () => …) // the set of unacknowledged votes changed
//   sock.send(msg)              // only while online (after welcome); returns false otherwise
//   sock.vote(slide, round, option)
//
// `hello` is sent on every (re)connect; 'online' means the welcome arrived. Reconnects
// use exponential backoff with full jitter. Votes stay pending (also in localStorage)
// until their ack, or an error naming their id, and are resent after every welcome.
import { store } from './common.js';

const BASE_MS = 500;
const CAP_MS = 10000;
const STABLE_MS = 5000; // online this long: the backoff starts over
const WELCOME_MS = 10000; // no welcome this soon after connecting: try again
const QUIET_MS = 1500; // a deliberate reconnect shows no "reconnecting" this long
const HIDDEN_MS = 20000; // back from a sleeping phone after this long: reconnect fresh
const TRANSIENT = new Set(['rate_limited', 'busy', 'overloaded', 'unavailable', 'try_again']);
const ID_KEY = 'stemzaal:vote-id';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const isVote = (v) => v && [v.id, v.slide, v.round, v.option].every(Number.isInteger);

export function connect({ code, hello }) {
  const subs = {};
  const emit = (type, ...args) => (subs[type] || []).forEach((f) => f(...args));
  const pendKey = 'stemzaal:pending:' + code;
  let pending = [];
  try { pending = (JSON.parse(store.get(pendKey)) || []).filter(isVote); } catch { pending = []; }
  let lastId = Math.max(0, ...pending.map((v) => v.id));

  let ws = null;
  let welcomed = false;
  let everOnline = false;
  let stopped = false;
  let status = '';
  let attempt = 0;
  let busy = 0;
  let hiddenAt = 0;
  let retryTimer = 0;
  let welcomeTimer = 0;
  let stableTimer = 0;
  let quietTimer = 0;
  let flushTimer = 0;

  function setStatus(s) {
    clearTimeout(quietTimer);
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

  function open() {
    clearTimeout(retryTimer);
    if (stopped || ws) return;
    let sock;
    try {
      sock = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/' + encodeURIComponent(code));
    } catch {
      schedule();
      return;
    }
    ws = sock;
    welcomed = false;
    welcomeTimer = setTimeout(() => drop(sock), WELCOME_MS);
    sock.onopen = () => {
      if (ws !== sock) return;
      const h = hello();
      const pid = h.participant_id && UUID.test(h.participant_id) ? h.participant_id : null;
      raw({ type: 'hello', key: h.key || null, participant_id: pid, lang: h.lang === 'en' ? 'en' : 'nl' });
    };
    sock.onmessage = (e) => { if (ws === sock) receive(e.data); };
    sock.onclose = () => { if (ws === sock) lost(); };
  }

  // Forget the socket without waiting for its close event.
  function drop(sock) {
    try { sock.close(); } catch { /* already closing */ }
    if (ws === sock) lost();
  }

  function lost() {
    ws = null;
    welcomed = false;
    clearTimeout(welcomeTimer);
    clearTimeout(stableTimer);
    if (stopped) return;
    setStatus(everOnline ? 'reconnecting' : 'connecting');
    schedule();
  }

  function schedule() {
    clearTimeout(retryTimer);
    const delay = Math.random() * Math.min(CAP_MS, BASE_MS * 2 ** attempt);
    attempt = Math.min(attempt + 1, 16);
    retryTimer = setTimeout(open, delay);
  }

  // Reconnect now (after sleep or on request) without flashing "connection lost".
  function restart() {
    const old = ws;
    ws = null;
    welcomed = false;
    clearTimeout(welcomeTimer);
    clearTimeout(stableTimer);
    if (old) { try { old.close(); } catch { /* ignore */ } }
    if (stopped) return;
    const shown = status;
    open();
    if (shown === 'online') {
      clearTimeout(quietTimer);
      quietTimer = setTimeout(() => { if (!welcomed) setStatus('reconnecting'); }, QUIET_MS);
    }
  }

  function flush() {
    if (!welcomed) return;
    for (const v of pending) raw({ type: 'vote', id: v.id, slide: v.slide, round: v.round, option: v.option });
  }

  function flushLater() {
    if (flushTimer) return;
    const wait = Math.min(CAP_MS, 1000 * 2 ** busy) * (0.5 + Math.random() / 2);
    busy = Math.min(busy + 1, 8);
    flushTimer = setTimeout(() => { flushTimer = 0; flush(); }, wait);
  }

  function receive(data) {
    let m;
    try { m = JSON.parse(data); } catch { return; }
    if (!m || typeof m.type !== 'string') return;
    if (m.type === 'welcome') {
      welcomed = true;
      everOnline = true;
      clearTimeout(welcomeTimer);
      clearTimeout(stableTimer);
      stableTimer = setTimeout(() => { attempt = 0; }, STABLE_MS);
      setStatus('online');
      emit('welcome', m);
      flush();
      return;
    }
    if (m.type === 'ack') {
      busy = 0;
      const before = pending.length;
      pending = pending.filter((v) => v.id !== m.id);
      if (pending.length !== before) save();
      emit('ack', m);
      return;
    }
    if (m.type === 'error') {
      const vote = m.id == null ? null : pending.find((v) => v.id === m.id) || null;
      const transient = TRANSIENT.has(m.code);
      if (vote && transient) flushLater();
      else if (vote) { pending = pending.filter((v) => v !== vote); save(); }
      // stale: the error names a vote that a newer one has replaced (or was acked).
      emit('error', m, { vote, transient, stale: m.id != null && !vote });
      return;
    }
    emit(m.type, m);
  }

  function nextId() {
    const n = Math.max(lastId, Number(store.get(ID_KEY)) || 0) + 1;
    lastId = n;
    store.set(ID_KEY, String(n));
    return n;
  }

  document.addEventListener('visibilitychange', () => {
    if (document.hidden) { hiddenAt = Date.now(); return; }
    const long = hiddenAt && Date.now() - hiddenAt > HIDDEN_MS;
    hiddenAt = 0;
    if (long || !ws) restart();
  });
  addEventListener('online', () => { if (!ws) restart(); });
  addEventListener('pageshow', (e) => { if (e.persisted) restart(); });

  const api = {
    on(type, f) { (subs[type] ||= []).push(f); return api; },
    get status() { return status; },
    get online() { return welcomed; },
    send(msg) { return welcomed && raw(msg); },
    /** Records a vote (replacing any pending one for the same statement) and sends it. */
    vote(slide, round, option) {
      const v = { id: nextId(), slide, round, option };
      pending = pending.filter((p) => p.slide !== slide);
      pending.push(v);
      save();
      if (welcomed) raw({ type: 'vote', ...v });
      return v;
    },
    pendingFor(slide, round) { return pending.find((v) => v.slide === slide && v.round === round) || null; },
    restart,
    close() {
      stopped = true;
      [retryTimer, welcomeTimer, stableTimer, quietTimer, flushTimer].forEach(clearTimeout);
      const old = ws;
      ws = null;
      welcomed = false;
      if (old) { try { old.close(); } catch { /* ignore */ } }
    },
  };
  queueMicrotask(() => { setStatus('connecting'); open(); });
  return api;
}
