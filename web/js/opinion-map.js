// The opinion map (docs/protocol.md, "The opinion map"): the screen draws it as inline
// SVG, a dot per spot where participants stand, coloured by group, with no identity; a
// table gives the same in text (the groups' sizes and what each chose per statement),
// for screen readers and the back of the room. The host page says where it stands.
import { t } from './i18n.js';
import { el, optName, setText } from './common.js';

const SVG = 'http://www.w3.org/2000/svg';
const VIEW = 1000; // the server's coordinates run from 0 to 1000
const PAD = 40;

function svg(tag, attrs) {
  const n = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  return n;
}

// A group's most chosen option on a statement and its share, as the server chose them
// (`chosen`), shown as "A 80%"; the words for a hidden cell where there is none.
function cell(s, chosen) {
  if (!chosen) return t('map.hidden');
  return t('map.cell', { o: optName(s, chosen.option), p: chosen.percent });
}

// One line that says where the map stands: for the host, and above the screen's map.
export function mapStatus(om) {
  if (!om) return t('map.off');
  if (om.status === 'computing') return t('map.computing');
  if (om.status === 'few_statements') return t('map.few_statements');
  if (om.status === 'few_participants') {
    return om.needed != null ? t('map.few_participants', { n: om.participants, k: om.min_group_size, m: om.needed }) : t('map.few_short');
  }
  return t('map.summary', { n: om.participants, g: om.group_count, e: om.explained });
}

// Draws `om` into `box` (the screen's map section), or hides it.
export function renderMap(box, om, contentLang) {
  box.hidden = !om;
  if (!om) { box.dataset.sig = ''; return; }
  const sig = JSON.stringify(om) + t('map.title');
  if (box.dataset.sig === sig) return;
  box.dataset.sig = sig;
  box.dataset.status = om.status;
  const parts = [el('h2', 'omtitle', t('map.title')), el('p', 'omsum', mapStatus(om))];
  parts[0].id = 'om-h';
  parts[1].id = 'om-sum';
  if (om.status === 'map') parts.push(drawing(om), table(om, contentLang), lists(om, contentLang));
  box.replaceChildren(...parts);
}

function drawing(om) {
  const pic = svg('svg', { viewBox: `${-PAD} ${-PAD} ${VIEW + 2 * PAD} ${VIEW + 2 * PAD}`, role: 'img', 'aria-labelledby': 'om-sum', class: 'omsvg' });
  pic.append(svg('rect', { x: -PAD, y: -PAD, width: VIEW + 2 * PAD, height: VIEW + 2 * PAD, class: 'omback' }));
  for (const [x, y, g, n] of om.dots) {
    pic.append(svg('circle', { cx: x, cy: y, r: Math.min(90, 16 + 16 * Math.sqrt(n)).toFixed(1), class: 'omdot og' + (g % 5) }));
  }
  om.groups.forEach((g, i) => {
    const label = svg('text', { x: g.x, y: Math.max(0, g.y - 110), class: 'omlabel', 'text-anchor': 'middle', 'dominant-baseline': 'middle', 'aria-hidden': 'true' });
    label.textContent = String(i + 1);
    pic.append(label);
  });
  return pic;
}

function table(om, contentLang) {
  const tbl = el('table', 'omtable');
  const cap = el('caption', null, t('map.table'));
  const head = el('tr');
  const first = el('th', null, t('map.statement'));
  first.scope = 'col';
  head.append(first, ...om.groups.map((g, i) => {
    const th = el('th', 'og' + (i % 5));
    th.scope = 'col';
    th.append(el('span', 'omkey'), t('map.group', { g: i + 1, n: g.size }));
    return th;
  }));
  const thead = el('thead');
  thead.append(head);
  const body = el('tbody');
  for (const s of om.statements) {
    const tr = el('tr');
    if (om.consensus.includes(s.slide)) tr.className = 'omshared';
    if (om.divisive.includes(s.slide)) tr.className = 'omsplit';
    const th = el('th', null, s.title);
    th.scope = 'row';
    th.lang = contentLang;
    tr.append(th, ...s.chosen.map((c) => el('td', null, cell(s, c))));
    body.append(tr);
  }
  tbl.append(cap, thead, body);
  return tbl;
}

function lists(om, contentLang) {
  const box = el('div', 'omlists');
  const titles = new Map(om.statements.map((s) => [s.slide, s.title]));
  for (const [label, slides] of [[t('map.consensus'), om.consensus], [t('map.divisive'), om.divisive]]) {
    const p = el('p', 'omlist');
    p.append(el('strong', null, label), ' ');
    const names = slides.map((s) => titles.get(s)).filter(Boolean);
    const span = el('span', null, names.length ? names.join(' · ') : t('map.none'));
    if (names.length) span.lang = contentLang;
    p.append(span);
    box.append(p);
  }
  return box;
}

// The host's box: where the map stands, and the button that shows or hides it.
export function renderHostMap(st, online) {
  const om = st.opinion_map;
  setText(document.getElementById('map-state'), mapStatus(om));
  const b = document.getElementById('map-show');
  setText(b, om ? t('map.hide') : t('map.show'));
  b.disabled = !online;
  b.dataset.visible = om ? '1' : '';
}
