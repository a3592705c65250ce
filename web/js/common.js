// Small helpers shared by all pages (host/screen extras live in present.js).
import { t, lang } from './i18n.js';

export const wrap = (area) => ({
  get(k) { try { return area().getItem(k); } catch { return null; } },
  set(k, v) { try { area().setItem(k, v); } catch { /* full or private mode */ } },
  del(k) { try { area().removeItem(k); } catch { /* ignore */ } },
});
export const store = wrap(() => localStorage);
export const $ = (id) => document.getElementById(id);
// The language of the deck's own text (slides, options, title), from the welcome: the
// page's language may differ (WCAG 3.1.2).
export const deckLang = (m) => (/^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$/.test(m.lang || '') ? m.lang : 'nl');
export const letter = (i) => String.fromCharCode(65 + i);
// How option i of a slide is named: A, B, … or on a scale 1, 2, …
export const optName = (slide, i) => (slide.scale ? String(i + 1) : letter(i));

// A scale's median (its point, and label if it has one) and mean, from state.stats.
const meanText = (x) => x.toLocaleString(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const medianText = (st, options) => (options[st.median - 1] ? t('scale.median_label', { n: st.median, label: options[st.median - 1] }) : String(st.median));
export const statsText = (st, options) => (st ? t('scale.stats', { median: medianText(st, options), mean: meanText(st.mean) }) : '');

// The labels under the points: each under its own point, widened over its unlabelled
// neighbours (an end label towards the middle), so that a narrow column
// (a phone, seven points on the screen) keeps its words whole.
export function pointLabels(options) {
  const n = options.length;
  const labelled = options.map((o, i) => (o ? i : -1)).filter((i) => i >= 0);
  return labelled.map((i, k) => {
    const prev = k > 0 ? labelled[k - 1] : null;
    const next = k < labelled.length - 1 ? labelled[k + 1] : null;
    // Half of the free points between two labels belongs to each.
    const left = i === 0 ? 0 : i - Math.floor((i - (prev ?? -1) - 1) / 2);
    const right = i === n - 1 ? n - 1 : i + Math.floor(((next ?? n) - i - 1) / 2);
    const r = Math.min(i - left, right - i);
    const [from, to] = i === 0 ? [0, right] : i === n - 1 ? [left, n - 1] : [i - r, i + r];
    const span = el('span', 'slabel' + (i === 0 ? ' first' : i === n - 1 ? ' last' : ''), options[i]);
    span.style.gridColumn = from + 1 + ' / ' + (to + 2);
    return span;
  });
}

// A scale's shift: median and mean before and after, and who moved up or down.
export function scaleShift(shift, options) {
  const a = shift.before_stats, b = shift.after_stats;
  const dash = '\u2013';
  const stats = t('scale.stats_shift', {
    a: a ? medianText(a, options) : dash, b: b ? medianText(b, options) : dash,
    c: a ? meanText(a.mean) : dash, d: b ? meanText(b.mean) : dash,
  });
  const m = shift.moved;
  return [stats, m ? t('scale.moved', { m: shift.paired, up: m.up, down: m.down, stayed: m.stayed }) : t('shift.few')];
}

// The session code: the last path segment of /CODE, /host/CODE, /screen/CODE.
export function pathCode() {
  let c = location.pathname.split('/').filter(Boolean).pop() || '';
  try { c = decodeURIComponent(c); } catch { /* keep raw */ }
  return c.trim().toUpperCase();
}

export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

// The switches of a shift as "A→B 2, B→A 1": those who chose differently, most first,
// every one of them (a council member asks after the one left out). Empty when nobody
// switched or it is suppressed.
export function switchList(shift) {
  const pairs = [];
  (shift.matrix || []).forEach((row, i) => row.forEach((n, j) => { if (i !== j && n > 0) pairs.push([n, i, j]); }));
  pairs.sort((a, b) => b[0] - a[0] || a[1] - b[1] || a[2] - b[2]);
  return pairs.map(([n, i, j]) => letter(i) + '\u2192' + letter(j) + '\u00a0' + n).join(', ');
}

// Turnout, worded alike on every page: hand counts are in `voted` but not in `joined`,
// so phones are counted against the phones that joined and hands are named apart.
export function turnout(st) {
  const hands = (st.hands || []).reduce((a, b) => a + b, 0);
  const phones = (st.voted ?? 0) - hands;
  const joined = st.joined ?? 0;
  return hands ? t('turnout.hands', { voted: phones, joined, hands })
    : phones > joined ? t('turnout.total', { voted: phones })
    : t('turnout.counted', { voted: phones, joined });
}

// The sentence under a shift: how many of those who voted in both rounds switched.
export function switchSentence(shift) {
  if (shift.suppressed) return t('shift.few');
  const list = switchList(shift);
  return t('shift.switched', { n: shift.switched ?? 0, m: shift.paired }) + (list ? ': ' + list : '');
}

export const votes = (n) => (n === 1 ? t('tally.votes_one', { n }) : t('tally.votes_other', { n }));

export function showConn(node, s) {
  node.dataset.state = s;
  node.textContent = s === 'online' ? t('conn.online') : s === 'reconnecting' ? t('conn.reconnecting') : s === 'ended' ? t('conn.ended')
    : s === 'card' ? t('conn.card') : s === 'elsewhere' ? t('conn.elsewhere') : s === 'preview' ? t('conn.preview') : t('conn.connecting');
}

// Sets text only when it changed, so aria-live regions do not repeat themselves.
export function setText(node, s) {
  if (node.textContent !== s) node.textContent = s;
}

export function clock(ms) {
  const s = Math.ceil(ms / 1000);
  return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
}

// A local countdown from state.timer; render(ms) gets null when no timer runs.
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

// A slide whose deck places its images (`slide.layout`: beside or under its text):
// the images leave the text for a figure of their own (a paragraph left empty goes),
// which the page puts in place. Null for a slide without a layout or images.
export function takeImages(box, layout) {
  if (layout !== 'beside' && layout !== 'under') return null;
  const imgs = [...box.querySelectorAll('img')];
  if (!imgs.length) return null;
  const fig = el('div', 'fig ' + layout);
  for (const img of imgs) {
    const parent = img.parentElement;
    fig.append(img);
    if (parent !== box && !parent.children.length && !parent.textContent.trim()) parent.remove();
  }
  return fig;
}

// Shows a slide's HTML in `box` (a phone's slide, the host's previews), its images
// where the deck places them: after the text, or beside it where there is room.
export function showSlide(box, slide) {
  box.innerHTML = slide.html;
  const fig = takeImages(box, slide.layout);
  if (!fig) return;
  const text = el('div', 'txt');
  text.append(...box.childNodes);
  box.append(text, fig);
}
