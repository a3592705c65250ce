// Small helpers shared by the participant, host and screen pages.
import { t } from './i18n.js';

function wrap(area) {
  return {
    get(k) { try { return area().getItem(k); } catch { return null; } },
    set(k, v) { try { area().setItem(k, v); } catch { /* full or private mode */ } },
    del(k) { try { area().removeItem(k); } catch { /* ignore */ } },
  };
}
export const store = wrap(() => localStorage);
export const session = wrap(() => sessionStorage);

export const $ = (id) => document.getElementById(id);

/** The session code: the last path segment (/CODE, /host/CODE, /screen/CODE). */
export function pathCode() {
  const parts = location.pathname.split('/').filter(Boolean);
  let c = parts[parts.length - 1] || '';
  try { c = decodeURIComponent(c); } catch { /* keep raw */ }
  return c.trim().toUpperCase();
}

/** Host/screen key: take ?key= into sessionStorage and strip it from the address bar. */
export function takeKey(code) {
  const name = 'stemzaal:key:' + code;
  const url = new URL(location.href);
  const key = url.searchParams.get('key');
  if (key) {
    session.set(name, key);
    url.searchParams.delete('key');
    history.replaceState(history.state, '', url.pathname + url.search + url.hash);
    return key;
  }
  return session.get(name);
}

export const letter = (i) => String.fromCharCode(65 + i);

export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

/** Whole percentages that add up to 100 (largest remainder). */
export function percents(tally) {
  const total = tally.reduce((a, b) => a + b, 0);
  if (!total) return tally.map(() => 0);
  const raw = tally.map((n) => (n * 100) / total);
  const out = raw.map(Math.floor);
  const left = 100 - out.reduce((a, b) => a + b, 0);
  raw.map((r, i) => [r - out[i], i]).sort((a, b) => b[0] - a[0]).slice(0, left).forEach(([, i]) => out[i]++);
  return out;
}

export const votes = (n) => (n === 1 ? t('tally.votes_one', { n }) : t('tally.votes_other', { n }));

export function clock(ms) {
  const s = Math.ceil(ms / 1000);
  return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
}

/** A local countdown from state.timer; render(ms) gets null when no timer runs. */
export function countdown(render) {
  let iv = 0;
  return (timer) => {
    clearInterval(iv);
    if (!timer) return render(null);
    const end = performance.now() + timer.remaining_ms;
    const tick = () => {
      const left = Math.max(0, end - performance.now());
      render(left);
      if (!left) clearInterval(iv);
    };
    tick();
    iv = setInterval(tick, 250);
  };
}

/** Writes the connection state into el (text + data-state for styling). */
export function showConn(node, s) {
  node.dataset.state = s;
  node.textContent = s === 'online' ? t('conn.online') : s === 'reconnecting' ? t('conn.reconnecting') : t('conn.connecting');
}

/** Sets text only when it changed, so aria-live regions do not repeat themselves. */
export function setText(node, s) {
  if (node.textContent !== s) node.textContent = s;
}
