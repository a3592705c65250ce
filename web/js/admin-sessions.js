// The console's sessions: start one on a stored deck, and for each its links, QR codes,
// report and exports; close, delete, or give an open one the editor's deck.
import { t, lang, onLangChange } from './i18n.js';
import { $, el } from './common.js';
import { api, when, day } from './admin-api.js';
import { say, pressAgain, copy } from './admin-ui.js';

const listEl = $('session-list');
const listMsg = $('sessions-msg');
const deckSel = $('start-deck');
let sessions = [];
let decks = [];
// Messages that outlive a new rendering of the list: code → { text, error, instead }.
const notes = new Map();
let hooks = { source: () => '', saveDeck: async () => null, currentDeck: () => null };

export function initSessions(h) {
  hooks = h;
  $('start').addEventListener('submit', (e) => { e.preventDefault(); start(); });
  deckSel.addEventListener('change', noteDraft);
  $('settings').addEventListener('submit', (e) => { e.preventDefault(); saveSettings(); });
  listEl.addEventListener('click', act);
  onLangChange(() => { setDecks(decks); render(); });
}

// The decks to start a session on; the one in the editor is chosen when it is stored.
// A draft is listed as one, and chosen it says why no session starts on it.
export function setDecks(list) {
  decks = list;
  const editing = hooks.currentDeck();
  const keep = editing != null && list.some((d) => d.id === editing) ? String(editing) : deckSel.value;
  const label = (d) => {
    const at = { title: d.title || d.name, name: d.name };
    return d.draft ? t('admin.deck_option_draft', at) : t('admin.deck_option', at);
  };
  deckSel.replaceChildren(...list.map((d) => new Option(label(d), d.id)));
  if ([...deckSel.options].some((o) => o.value === keep)) deckSel.value = keep;
  noteDraft();
}

function noteDraft() {
  const d = decks.find((x) => String(x.id) === deckSel.value);
  say($('start-deck-note'), d && d.draft ? t('admin.start_draft') : '', true);
}

export async function loadSessions() {
  try {
    sessions = (await api('GET', '/sessions')).sessions || [];
  } catch (e) {
    say(listMsg, e.message, true);
    return;
  }
  render();
}

// The organisation that every report's PDF names.
export async function loadSettings() {
  try {
    $('organisation').value = (await api('GET', '/settings')).organisation || '';
  } catch (e) {
    say($('settings-msg'), e.message, true);
  }
}

async function saveSettings() {
  const msg = $('settings-msg');
  try {
    const saved = await api('PUT', '/settings', { organisation: $('organisation').value.trim() });
    $('organisation').value = saved.organisation || '';
    say(msg, t('admin.organisation_saved'), false);
  } catch (e) {
    say(msg, e.message, true);
  }
}

const meetingOf = () => {
  const m = {};
  for (const [k, id] of [['name', 'meeting-name'], ['date', 'meeting-date'], ['place', 'meeting-place']]) {
    const v = $(id).value.trim();
    if (v) m[k] = v;
  }
  return m;
};

async function start() {
  const msg = $('start-msg');
  if (!deckSel.value) {
    say(msg, t('admin.start_no_deck'), true);
    deckSel.focus();
    return;
  }
  const meeting = meetingOf();
  const cards = Number($('start-cards').value) || 0;
  try {
    const s = await api('POST', '/sessions', { deck: Number(deckSel.value), ...(Object.keys(meeting).length ? { meeting } : {}), ...(cards ? { cards } : {}) });
    say(msg, t('admin.started', { code: s.code }));
    // A form still filled in invites a second session of the same meeting.
    for (const id of ['meeting-name', 'meeting-date', 'meeting-place', 'start-cards']) $(id).value = '';
    await loadSessions();
  } catch (e) {
    say(msg, e.message, true);
  }
}

async function act(e) {
  const b = e.target.closest('button[data-act]');
  if (!b) return;
  const code = b.closest('[data-code]').dataset.code;
  const s = sessions.find((x) => x.code === code);
  const status = listEl.querySelector(`[data-code="${code}"] .msg`);
  const note = (text, error = false, instead = false) => notes.set(code, { text, error, instead });
  const path = '/sessions/' + encodeURIComponent(code);
  try {
    if (b.dataset.act === 'copy') {
      const ok = await copy($(b.dataset.target));
      say(status, ok ? t('admin.copied') : t('admin.copy_failed'), !ok);
      return;
    }
    if (b.dataset.act === 'close') {
      if (!pressAgain(b, () => t('admin.close_ask'), status)) return;
      await api('POST', path + '/close');
      note(t('admin.closed_done'));
    } else if (b.dataset.act === 'delete') {
      if (!pressAgain(b, () => t('admin.delete_ask'), status)) return;
      await api('DELETE', path);
      notes.delete(code);
      say(listMsg, t('admin.deleted', { code }));
      await loadSessions();
      $('sessions-h').focus();
      return;
    } else if (b.dataset.act === 'add-cards') {
      const count = Number($('add-cards-' + code).value) || 0;
      await api('POST', path + '/cards', { count });
      note(t('admin.cards_added', { n: count }));
    } else if (b.dataset.act === 'use-deck') {
      say(status, t('admin.replacing'));
      try {
        await api('PUT', path + '/deck', { source: hooks.source() });
        note(t('admin.deck_replaced'));
      } catch (err) {
        if (err.code !== 'structure_changed' && err.code !== 'wording_changed') throw err;
        note(err.message, true, true);
      }
    } else if (b.dataset.act === 'instead') {
      const id = await hooks.saveDeck();
      if (id == null) { say(status, t('admin.instead_unsaved'), true); return; }
      const meeting = s && s.meeting ? Object.fromEntries(Object.entries(s.meeting).filter(([, v]) => v)) : {};
      const fresh = await api('POST', '/sessions', { deck: id, ...(Object.keys(meeting).length ? { meeting } : {}) });
      notes.delete(code);
      say(listMsg, t('admin.started', { code: fresh.code }));
      await loadSessions();
      focusSession(fresh.code);
      return;
    }
  } catch (err) {
    say(status, err.message, true);
    return;
  }
  await loadSessions();
  focusSession(code, b.dataset.act);
}

function focusSession(code, act) {
  const li = listEl.querySelector(`[data-code="${code}"]`);
  if (!li) return;
  (li.querySelector(`button[data-act="${act}"]`) || li.querySelector('h3')).focus();
}

function render() {
  // The rendering replaces the buttons; keep the keyboard where it was.
  const active = document.activeElement;
  const had = active && listEl.contains(active) && active.closest('[data-code]')
    ? [active.closest('[data-code]').dataset.code, active.dataset.act, active.dataset.target] : null;
  $('no-sessions').hidden = sessions.length > 0;
  listEl.replaceChildren(...sessions.map(item));
  if (had) {
    const li = listEl.querySelector(`[data-code="${had[0]}"]`);
    const sel = had[2] ? `[data-target="${had[2]}"]` : had[1] ? `[data-act="${had[1]}"]` : 'h3';
    const to = li && (li.querySelector(sel) || li.querySelector('h3'));
    if (to) to.focus();
    else $('sessions-h').focus();
  }
}

function item(s) {
  const open = s.status === 'open';
  const links = s.links || {};
  const li = el('li', 'session ' + (open ? 'is-open' : 'is-closed'));
  li.dataset.code = s.code;
  const h = el('h3');
  h.id = 'session-' + s.code;
  h.tabIndex = -1;
  h.append(el('span', 'scode', s.code), ' ', el('span', 'stitle', s.title || s.deck_name || ''));
  const state = el('p', 'sstate', open ? t('admin.status_open') : t('admin.status_closed', { when: s.closed_ms ? when(s.closed_ms) : '' }));
  const m = s.meeting || {};
  const meeting = [m.name, day(m.date), m.place].filter(Boolean).join(' · ');
  li.append(h, state);
  if (meeting) li.append(el('p', 'smeeting', meeting));
  li.append(el('p', 'muted small', t('admin.session_meta', { when: when(s.created_ms), deck: s.deck_name || '' })));

  const body = el('div', 'sbody');
  const linkBox = el('div', 'slinks');
  for (const [key, label] of [['join', t('admin.link_join')], ['host', t('admin.link_host')], ['screen', t('admin.link_screen')]]) {
    if (!links[key]) continue;
    const id = 'link-' + key + '-' + s.code;
    const f = el('div', 'field copyfield');
    const lab = el('label', null, label);
    lab.htmlFor = id;
    const row = el('div', 'copyrow');
    const input = el('input');
    Object.assign(input, { id, type: 'text', readOnly: true, value: links[key] });
    input.spellcheck = false;
    const b = el('button', null, t('admin.copy'));
    Object.assign(b, { type: 'button' });
    b.dataset.act = 'copy';
    b.dataset.target = id;
    b.setAttribute('aria-label', t('admin.copy_named', { what: label }));
    const a = el('a', 'btn', t('admin.open'));
    a.href = links[key];
    a.target = '_blank';
    a.rel = 'noopener';
    a.setAttribute('aria-label', t('admin.open_named', { what: label }));
    row.append(input, b, a);
    f.append(lab, row);
    linkBox.append(f);
  }
  const files = el('ul', 'files');
  const file = (href, text, download) => {
    if (!href) return;
    const a = el('a', null, text);
    a.href = href;
    if (download) a.download = '';
    else { a.target = '_blank'; a.rel = 'noopener'; }
    const fli = el('li');
    fli.append(a);
    files.append(fli);
  };
  // The report and its PDF are in the session's language (the deck's), not the console's.
  file(links.report, t('admin.report'), false);
  file(links.pdf, t('admin.report_pdf'), true);
  file(links.xlsx && links.xlsx + (links.xlsx.includes('?') ? '&' : '?') + 'lang=' + lang, t('admin.export_xlsx'), true);
  file(links.csv, t('admin.export_csv'), true);
  file(links.json, t('admin.export_json'), true);
  file(links.poster, t('admin.poster'), false);
  file(links.cards, t('admin.cards_print'), false);
  linkBox.append(files);
  const cards = s.cards || {};
  if (cards.issued) linkBox.append(el('p', 'scards', t('admin.cards_count', { issued: cards.issued, used: cards.used })));
  body.append(linkBox);

  const qrs = el('div', 'qrs');
  for (const [src, alt, cap] of [[links.join_qr, t('admin.qr_join_alt', { code: s.code }), t('admin.qr_join')], [links.host_qr, t('admin.qr_host_alt', { code: s.code }), t('admin.qr_host')]]) {
    if (!src) continue;
    const fig = el('figure', 'qr');
    const img = el('img');
    Object.assign(img, { src, alt, width: 160, height: 160 });
    fig.append(img, el('figcaption', null, cap));
    qrs.append(fig);
  }
  if (qrs.children.length) body.append(qrs);
  li.append(body);

  const row = el('div', 'row sactions');
  const button = (act, text, cls) => {
    const b = el('button', cls || null, text);
    b.type = 'button';
    b.dataset.act = act;
    row.append(b);
  };
  if (open) {
    const id = 'add-cards-' + s.code;
    const f = el('div', 'field addcards');
    const lab = el('label', null, t('admin.cards_add_label'));
    lab.htmlFor = id;
    const input = el('input');
    Object.assign(input, { id, type: 'number', min: 1, max: 2000, step: 1, value: 50 });
    f.append(lab, input);
    row.append(f);
    button('add-cards', t('admin.cards_add'));
    button('use-deck', t('admin.use_deck'));
    button('close', t('admin.close'));
  }
  button('delete', t('admin.delete'), 'danger');
  li.append(row);
  const n = notes.get(s.code);
  const msg = el('p', 'msg');
  msg.setAttribute('role', 'status');
  li.append(msg);
  if (n) say(msg, n.text, n.error);
  if (n && n.instead && open) {
    const again = el('div', 'row');
    const b = el('button', 'primary', t('admin.instead'));
    b.type = 'button';
    b.dataset.act = 'instead';
    again.append(b);
    li.append(again);
  }
  return li;
}
