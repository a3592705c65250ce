// The console's decks: the stored list, upload, and the editor with its line numbers,
// versions and the check as you type (POST /api/check). A deck with errors is saved
// all the same, as a draft (`draft` in docs/api.md): nothing typed is lost, and no
// session starts on it until a version without errors is saved.
import { t, onLangChange } from './i18n.js';
import { $, el, setText } from './common.js';
import { api, when } from './admin-api.js';
import { say, pressAgain } from './admin-ui.js';

// Typing pauses this long before the deck is checked: a check per keystroke would
// queue up on a large deck, and the list of errors would flicker while typing.
const CHECK_DELAY_MS = 300;

const list = $('deck-list');
const decksMsg = $('decks-msg');
const nameEl = $('deck-name');
const src = $('source');
const gutter = $('gutter');
const versionsEl = $('versions');
const saveState = $('save-state');
const checkStatus = $('check-status');
const problems = $('problems');
const saveBtn = $('save');

let decks = [];
// The deck in the editor: `id` null for a new one; `version` the one shown, `newest` the last stored.
let current = { id: null, builtin: false, draft: false, version: 0, newest: 0, versions: [] };
let saved = ''; // the source as stored (or '' for a new deck)
let check = null; // the last answer of /api/check for what the editor shows, or { failed }
let marks = new Map(); // line → 'err' | 'warn'
let gutterSig = '';
let checkT = 0;
let checkSeq = 0;
let saveMsg = null; // () => text of the last save message, so a language switch redoes it
let hooks = { checked() {}, decks() {} };

export const editorSource = () => src.value;
export const deckList = () => decks;
export const currentId = () => current.id;
// Checks the editor's deck again: after a login, a check refused for want of one.
export const recheck = () => runCheck();

export function initDecks(h) {
  hooks = h;
  src.addEventListener('input', () => { drawGutter(); saveMsg = null; showSaved(); scheduleCheck(); });
  src.addEventListener('scroll', syncScroll);
  nameEl.addEventListener('input', () => { nameEl.removeAttribute('aria-invalid'); scheduleCheck(); });
  problems.addEventListener('click', (e) => {
    const b = e.target.closest('button[data-line]');
    if (b) goToLine(Number(b.dataset.line));
  });
  list.addEventListener('click', (e) => {
    const b = e.target.closest('button[data-id]');
    if (!b || (dirty() && !pressAgain(b, () => t('admin.discard_ask'), decksMsg))) return;
    openDeck(Number(b.dataset.id));
  });
  $('new-deck').addEventListener('click', (e) => {
    if (dirty() && !pressAgain(e.currentTarget, () => t('admin.discard_ask'), decksMsg)) return;
    show({ id: null, name: '', source: '' });
    say(decksMsg, '');
    nameEl.focus();
  });
  $('upload').addEventListener('change', upload);
  versionsEl.addEventListener('change', () => openDeck(current.id, Number(versionsEl.value)));
  saveBtn.addEventListener('click', () => saveDeck());
  $('delete-deck').addEventListener('click', async (e) => {
    if (!pressAgain(e.currentTarget, () => t('admin.delete_deck_ask'), saveState)) return;
    try {
      await api('DELETE', '/decks/' + current.id);
      show({ id: null, name: '', source: '' });
      say(decksMsg, t('admin.deck_deleted'));
      await loadDecks();
      $('decks-h').focus();
    } catch (err) {
      say(saveState, err.message, true);
    }
  });
  // The check's messages come from the server in the page's language: ask again.
  onLangChange(() => { renderDecks(); renderVersions(); renderCheck(); showSaved(); if (check && !check.failed) runCheck(); });
  show({ id: null, name: '', source: '' });
}

export async function loadDecks() {
  try {
    decks = (await api('GET', '/decks')).decks || [];
  } catch (e) {
    say(decksMsg, e.message, true);
    return;
  }
  renderDecks();
  hooks.decks(decks);
}

function renderDecks() {
  list.replaceChildren(...decks.map((d) => {
    const b = el('button', 'deckbtn');
    b.type = 'button';
    b.dataset.id = d.id;
    if (d.id === current.id) b.setAttribute('aria-current', 'true');
    b.append(el('span', 'dtitle', d.title || d.name),
      el('span', 'dmeta', d.draft ? t('admin.deck_meta_draft', { name: d.name, v: d.version })
        : t('admin.deck_meta', { name: d.name, v: d.version, slides: d.slides, statements: d.statements })),
      el('span', 'dmeta', t('admin.deck_changed', { when: when(d.updated_ms) })));
    if (d.builtin) b.append(el('span', 'tag', t('admin.builtin')));
    if (d.draft) b.append(el('span', 'tag draft', t('admin.draft')));
    const li = el('li');
    li.append(b);
    return li;
  }));
}

async function openDeck(id, version) {
  try {
    show(await api('GET', '/decks/' + id + (version ? '?version=' + version : '')));
    say(decksMsg, '');
    src.focus();
  } catch (e) {
    say(decksMsg, e.message, true);
  }
}

// Puts a deck (as GET /api/decks/{id} answers, or a new one) into the editor.
function show(d) {
  const versions = d.versions || [];
  current = { id: d.id ?? null, builtin: !!d.builtin, draft: !!d.draft, version: d.version || 0, newest: Math.max(0, ...versions.map((v) => v.version)), versions };
  saved = d.id == null ? '' : d.source;
  src.value = d.source || '';
  src.setSelectionRange(0, 0);
  src.scrollTop = 0;
  src.scrollLeft = 0;
  nameEl.value = d.name || '';
  nameEl.readOnly = current.id != null;
  nameEl.removeAttribute('aria-invalid');
  saveMsg = null;
  renderVersions();
  renderDecks();
  showSaved();
  drawGutter();
  runCheck();
}

function renderVersions() {
  const { versions } = current;
  $('versions-field').hidden = current.id == null;
  $('delete-deck').hidden = current.id == null || current.builtin;
  versionsEl.replaceChildren(...versions.slice().reverse().map((v) => new Option(
    v.version === current.newest ? t('admin.version_newest', { v: v.version, when: when(v.created_ms) }) : t('admin.version', { v: v.version, when: when(v.created_ms) }),
    v.version, false, v.version === current.version)));
  const name = current.id == null ? t('admin.editing_new') : t('admin.editing', { name: nameEl.value });
  setText($('editing'), name);
}

const dirty = () => src.value !== saved;

function showSaved() {
  if (saveMsg) return;
  say(saveState, current.id == null ? (src.value ? t('admin.unsaved_new') : '')
    : dirty() ? t('admin.unsaved')
    : current.version !== current.newest ? t('admin.viewing_old', { v: current.version, newest: current.newest })
    : current.draft ? t('admin.saved_version_draft', { v: current.version })
    : t('admin.saved_version', { v: current.version }));
}

// Stores the editor's deck (a new version, or a new deck) unless it is stored as the
// newest version already; with errors, as a draft. Answers its id, or null when it
// could not be stored.
export async function saveDeck() {
  if (current.id != null && !dirty() && current.version === current.newest) return current.id;
  const name = nameEl.value.trim();
  if (current.id == null && !name) {
    nameEl.setAttribute('aria-invalid', 'true');
    saveMsg = () => t('admin.name_needed');
    say(saveState, saveMsg(), true);
    nameEl.focus();
    return null;
  }
  const source = src.value;
  try {
    const d = current.id == null
      ? await api('POST', '/decks', { name, source, draft: true })
      : await api('PUT', '/decks/' + current.id, { source, draft: true });
    const keep = { start: src.selectionStart, end: src.selectionEnd, top: src.scrollTop, left: src.scrollLeft };
    show({ ...d, source });
    Object.assign(src, { scrollTop: keep.top, scrollLeft: keep.left });
    src.setSelectionRange(keep.start, keep.end);
    syncScroll();
    const at = { name: d.name, v: d.version };
    saveMsg = () => (d.draft ? t('admin.saved_draft', at) : t('admin.saved', at));
    say(saveState, saveMsg());
    await loadDecks();
    return d.id;
  } catch (e) {
    saveMsg = () => e.message;
    say(saveState, e.message, true);
    if (e.errors.length) { check = { ok: false, errors: e.errors, warnings: [] }; renderCheck(); }
    return null;
  }
}

async function upload() {
  const input = $('upload');
  const file = input.files[0];
  input.value = '';
  if (!file) return;
  say(decksMsg, t('admin.uploading', { name: file.name }));
  try {
    // A deck with errors is stored as a draft, and goes into the editor to be fixed.
    const d = await api('POST', '/decks?draft=true&name=' + encodeURIComponent(file.name), file, 'text/markdown');
    await loadDecks();
    show(d);
    say(decksMsg, d.draft ? t('admin.uploaded_draft', { name: d.name }) : t('admin.uploaded', { name: d.name }));
    if (d.draft) src.focus();
  } catch (e) {
    say(decksMsg, e.message, true);
  }
}

// --- The line numbers beside the textarea -----------------------------------------

function drawGutter() {
  const text = src.value.split('\n');
  const heights = lineHeights(text);
  const sig = heights.join(',') + ' ' + [...marks].join(' ');
  if (sig !== gutterSig) {
    gutterSig = sig;
    gutter.replaceChildren(...heights.map((h, i) => {
      const span = el('span', marks.get(i + 1) || null, String(i + 1));
      span.style.height = h + 'px';
      return span;
    }));
  }
  syncScroll();
}

// How tall each line of the text is as the textarea wraps it, laid out in a hidden
// copy of the same width, font and wrapping.
let measure = null;
function lineHeights(lines) {
  if (!measure) {
    measure = el('div', 'measure');
    measure.setAttribute('aria-hidden', 'true');
    src.after(measure);
  }
  const cs = getComputedStyle(src);
  measure.style.width = (src.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight)) + 'px';
  measure.replaceChildren(...lines.map((l) => el('div', null, l || '\u200b')));
  return [...measure.children].map((d) => d.getBoundingClientRect().height);
}
new ResizeObserver(() => drawGutter()).observe(src);

function syncScroll() {
  gutter.scrollTop = src.scrollTop;
}

function goToLine(line) {
  const text = src.value;
  let pos = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf('\n', pos);
    if (nl === -1) break;
    pos = nl + 1;
  }
  src.focus();
  src.setSelectionRange(pos, pos);
  const lh = parseFloat(getComputedStyle(src).lineHeight) || 22;
  src.scrollTop = Math.max(0, (line - 1) * lh - src.clientHeight / 3);
  src.scrollLeft = 0;
  syncScroll();
}

// --- The check as you type --------------------------------------------------------

function scheduleCheck() {
  clearTimeout(checkT);
  checkT = setTimeout(runCheck, CHECK_DELAY_MS);
}

async function runCheck() {
  clearTimeout(checkT);
  const seq = ++checkSeq;
  if (!src.value.trim()) {
    check = null;
    renderCheck();
    return;
  }
  let r;
  try {
    r = await api('POST', '/check', { name: nameEl.value.trim() || 'deck.md', source: src.value });
  } catch (e) {
    r = { ok: false, errors: e.errors, warnings: [], failed: e.message };
  }
  if (seq !== checkSeq) return; // typing went on meanwhile: a newer check is coming
  check = r;
  renderCheck();
  if (r.ok) hooks.checked(r);
  else hooks.checked(null);
}

const lineOf = (p) => (Number.isInteger(p.line) && p.line > 0 ? p.line : 0);
const textOf = (p) => (typeof p === 'string' ? p : p.message || '');

function renderCheck() {
  const errors = (check && check.errors) || [];
  const warnings = (check && check.warnings) || [];
  marks = new Map();
  for (const w of warnings) if (lineOf(w)) marks.set(lineOf(w), 'warn');
  for (const e of errors) if (lineOf(e)) marks.set(lineOf(e), 'err');
  drawGutter();
  // With errors the button says what a press does: keep the deck as a draft.
  saveBtn.textContent = errors.length ? t('admin.save_draft') : t('admin.save');
  const box = checkStatus;
  box.className = 'cstatus ' + (!check ? '' : check.ok ? 'ok' : 'bad');
  if (!check) setText(box, t('admin.check_empty'));
  else if (check.failed && !errors.length) setText(box, check.failed);
  else if (!check.ok) setText(box, errors.length === 1 ? t('admin.check_error_one') : t('admin.check_errors', { n: errors.length }));
  else {
    const slides = check.slides || [];
    const statements = slides.filter((s) => s.kind === 'statement').length;
    setText(box, warnings.length
      ? t('admin.check_ok_warnings', { slides: slides.length, statements, n: warnings.length })
      : t('admin.check_ok', { slides: slides.length, statements }));
  }
  const item = (p, kind) => {
    const line = lineOf(p);
    const li = el('li', kind);
    const text = kind === 'err'
      ? (line ? t('admin.problem_error', { line, message: textOf(p) }) : t('admin.problem_error_noline', { message: textOf(p) }))
      : (line ? t('admin.problem_warning', { line, message: textOf(p) }) : t('admin.problem_warning_noline', { message: textOf(p) }));
    if (!line) { li.append(el('span', 'ptext', text)); return li; }
    const b = el('button', 'problem', text);
    b.type = 'button';
    b.dataset.line = line;
    li.append(b);
    return li;
  };
  const sorted = (a) => a.slice().sort((x, y) => lineOf(x) - lineOf(y));
  problems.replaceChildren(...sorted(errors).map((p) => item(p, 'err')), ...sorted(warnings).map((p) => item(p, 'warn')));
}
