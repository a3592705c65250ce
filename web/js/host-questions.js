// The host's questions from the room (docs/protocol.md, moderate_question): switches to
// open them and to show them on the screen, the queue of those waiting (oldest first)
// and the list (highlighted first, then by upvotes, answered last). Every action is a
// button (Tab, Enter); within a question, letters act on it: A or G approves, H or U
// highlights, D or B marks answered, Delete hides (pressed twice, as the button).
import { t, lang, onLangChange } from './i18n.js';
import { $, el, setText } from './common.js';
import { pressAgain } from './admin-ui.js';

const KEYS = { a: 'approved', g: 'approved', h: 'highlighted', u: 'highlighted', d: 'answered', b: 'answered', Delete: 'hidden' };
// The buttons of each status: what the host may make of it next.
const NEXT = {
  pending: ['approved', 'highlighted', 'hidden'],
  approved: ['highlighted', 'answered', 'hidden'],
  highlighted: ['approved', 'answered', 'hidden'],
  answered: ['approved', 'hidden'],
};
const RANK = { highlighted: 0, approved: 1, answered: 2 };

export function questionsPanel(sock) {
  let qs = null;
  const nodes = new Map(); // question → li, kept so a button keeps its focus
  const box = $('qabox');
  const textId = (q) => 'qa-' + q.question;
  const send = (msg) => sock.send(msg);

  const label = (status, from) => (status === 'hidden' ? t('args.hide') : status === 'highlighted' ? t('args.highlight')
    : status === 'answered' ? t('qa.mark_answered') : from === 'pending' ? t('args.approve')
      : from === 'answered' ? t('qa.unanswer') : t('args.unhighlight'));
  const node = (q) => {
    let li = nodes.get(q.question);
    if (!li) {
      li = el('li', 'arg qa');
      const text = el('p', 'atext', q.text);
      text.id = textId(q);
      li.append(text, el('p', 'ameta'), el('div', 'acts'));
      li.dataset.q = q.question;
      nodes.set(q.question, li);
    }
    li.classList.toggle('hl', q.status === 'highlighted');
    const meta = q.status === 'pending' ? '' : t('qa.meta', { n: q.upvotes })
      + (q.status === 'highlighted' ? ' · ' + t('args.highlighted') : q.status === 'answered' ? ' · ' + t('qa.answered') : '');
    setText(li.children[1], meta);
    const acts = li.children[2];
    const sig = q.status + ':' + lang;
    if (acts.dataset.sig !== sig) {
      acts.dataset.sig = sig;
      acts.replaceChildren(...NEXT[q.status].map((status) => {
        const b = el('button', status === 'hidden' ? 'ahide' : null, label(status, q.status));
        b.type = 'button';
        b.dataset.status = status;
        b.setAttribute('aria-describedby', textId(q));
        return b;
      }));
    }
    for (const b of acts.children) b.disabled = !sock.online;
    return li;
  };
  const place = (list, items) => {
    items.forEach((n, i) => { if (list.children[i] !== n) list.insertBefore(n, list.children[i] || null); });
    while (list.children.length > items.length) list.lastChild.remove();
  };
  const render = () => {
    box.hidden = !qs;
    if (!qs) return;
    const online = sock.online;
    setText($('qa-state'), (qs.open ? t('qa.is_open') : t('qa.is_closed')) + ' · ' + (qs.shown ? t('qa.on_screen') : t('qa.not_on_screen')));
    setText($('qa-open'), qs.open ? t('qa.close') : t('qa.open'));
    setText($('qa-show'), qs.shown ? t('qa.hide_screen') : t('qa.show'));
    $('qa-open').disabled = $('qa-show').disabled = !online;
    const pending = qs.items.filter((q) => q.status === 'pending');
    const listed = qs.items.filter((q) => q.status !== 'pending');
    listed.sort((x, y) => RANK[x.status] - RANK[y.status] || y.upvotes - x.upvotes || x.question - y.question);
    setText($('qa-queue-h'), t('args.pending', { n: pending.length }));
    setText($('qa-listed-h'), t('args.approved', { n: listed.length }));
    const live = new Set(qs.items.map((q) => q.question));
    for (const n of nodes.keys()) if (!live.has(n)) nodes.delete(n);
    const focused = document.activeElement;
    const inList = !!focused && !!focused.closest && !!focused.closest('#qabox li');
    place($('qa-queue'), pending.map(node));
    place($('qa-listed'), listed.map(node));
    // A decided question moves on: the focus goes to the next one waiting, so a keyboard
    // moderates the queue from the top.
    if (inList && document.activeElement !== focused) ($('qa-queue').querySelector('button') || $('qa-queue-h')).focus();
  };

  const moderate = (b) => {
    const li = b.closest('li[data-q]');
    // Hidden is removed for good: the first press only asks.
    if (b.dataset.status === 'hidden' && !pressAgain(b, () => t('args.hide_ask'))) return;
    send({ type: 'moderate_question', question: Number(li.dataset.q), status: b.dataset.status });
  };
  box.addEventListener('click', (e) => {
    const b = e.target.closest('li[data-q] button[data-status]');
    if (b) moderate(b);
  });
  box.addEventListener('keydown', (e) => {
    const li = e.target.closest && e.target.closest('li[data-q]');
    const status = KEYS[e.key.length === 1 ? e.key.toLowerCase() : e.key];
    if (!li || !status || e.altKey || e.ctrlKey || e.metaKey) return;
    const b = li.querySelector('button[data-status="' + status + '"]');
    e.preventDefault();
    if (b && !b.disabled) { b.focus(); moderate(b); }
  });
  $('qa-open').addEventListener('click', () => qs && send({ type: 'open_questions', open: !qs.open }));
  $('qa-show').addEventListener('click', () => qs && send({ type: 'show_questions', visible: !qs.shown }));
  sock.on('state', (m) => { qs = m.questions || null; render(); });
  sock.on('status', render);
  onLangChange(render);
}
