// Questions from the room on the phone (docs/protocol.md, ask): the box to ask one while
// questions are open, this phone's own with a way to withdraw them, and the approved
// ones to upvote. Texts are plain text (textContent), never HTML.
import { t, onLangChange } from './i18n.js';
import { $, el, setText } from './common.js';

// Message ids of their own, above the arguments' (participant.js), so no answer is taken
// for another's.
let id = 2 ** 52;

// What a question's status is called on the phone.
const SAID = { pending: () => t('qa.waiting'), approved: () => t('qa.approved'), highlighted: () => t('qa.highlighted'), answered: () => t('qa.answered') };

export function ask(sock) {
  let qs = null; // state.questions
  let mine = new Map(); // question → text
  let upvoted = new Set();
  let sent = null; // {id, text} or {id, gone: question}
  const ups = new Map(); // message id → question upvoted
  let note = '';
  const box = $('qa');
  const text = $('q-text');

  const left = () => {
    const n = 280 - [...text.value].length;
    setText($('q-left'), n < 0 ? t('qa.over', { n: -n }) : t('args.left', { n }));
    text.setAttribute('aria-invalid', String(n < 0));
    $('q-send').disabled = n < 0 || !!sent;
  };
  const item = (q, own) => {
    const li = el('li', q.status === 'highlighted' ? 'hl' : '');
    const p = el('p', null, q.text);
    p.id = 'q' + q.question + (own ? 'm' : '');
    const b = el('button', 'up');
    b.type = 'button';
    b.setAttribute('aria-describedby', p.id);
    const mark = el('p', 'muted qmark');
    li.append(p, b, mark);
    if (own) {
      b.dataset.gone = q.question;
      setText(b, t('args.withdraw'));
      const listed = qs && qs.items.find((x) => x.question === q.question);
      setText(mark, SAID[listed ? listed.status : 'pending']());
    } else {
      b.dataset.q = q.question;
      const done = upvoted.has(q.question);
      b.setAttribute('aria-pressed', String(done));
      b.disabled = !qs.open;
      setText(b, done ? t('args.upvoted', { n: q.upvotes }) : t('args.upvote', { n: q.upvotes }));
      setText(mark, q.status === 'approved' ? '' : SAID[q.status]());
    }
    return li;
  };
  const draw = () => {
    box.hidden = !qs || !(qs.open || qs.items.length || mine.size);
    if (box.hidden) return;
    $('ask').hidden = !qs.open;
    setText($('q-status'), sent && sent.text != null ? t('qa.sending') : note || (qs.open ? '' : t('qa.closed')));
    $('q-mine').replaceChildren(...[...mine].map(([question, text]) => item({ question, text }, true)));
    $('q-mine-h').hidden = !mine.size;
    const others = qs.items.filter((q) => !mine.has(q.question));
    $('q-list').replaceChildren(...others.map((q) => item(q, false)));
    $('q-list-h').hidden = !others.length;
    left();
  };

  sock.on('welcome', (m) => {
    mine = new Map((m.questions || []).map((q) => [q.question, q.text]));
    upvoted = new Set(m.upvoted_questions || []);
    sent = null;
    draw();
  });
  sock.on('state', (m) => { qs = m.questions || null; draw(); });
  // Between states, the counts alone, in their new order.
  sock.on('upvotes', (m) => {
    const by = new Map(((qs && qs.items) || []).map((q) => [q.question, q]));
    if (!m.questions || m.questions.some(([n]) => !by.has(n))) return;
    qs.items = m.questions.map(([n, up]) => ({ ...by.get(n), upvotes: up }));
    draw();
  });
  sock.on('asked', (m) => {
    if (!sent || m.id !== sent.id) return;
    mine.set(m.question, sent.text);
    sent = null;
    text.value = '';
    note = t('qa.sent');
    draw();
  });
  sock.on('ok', (m) => {
    ups.delete(m.id);
    if (!sent || m.id !== sent.id) return;
    mine.delete(sent.gone);
    sent = null;
    note = t('qa.withdrawn');
    draw();
  });
  sock.on('error', (m) => {
    if (ups.has(m.id)) upvoted.delete(ups.get(m.id));
    else if (!sent || m.id !== sent.id) return;
    ups.delete(m.id);
    sent = null;
    note = m.message || m.code;
    draw();
  });
  onLangChange(draw);

  text.addEventListener('input', left);
  $('ask-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const msg = { type: 'ask', id: ++id, text: text.value };
    if (!sent && sock.send(msg)) { sent = { id, text: text.value.trim() }; note = ''; draw(); }
  });
  box.addEventListener('click', (e) => {
    const b = e.target.closest('button[data-q],button[data-gone]');
    if (!b || sent) return;
    if (b.dataset.gone) {
      const gone = Number(b.dataset.gone);
      if (sock.send({ type: 'withdraw_question', id: ++id, question: gone })) sent = { id, gone };
    } else {
      const q = Number(b.dataset.q);
      if (upvoted.has(q) || !sock.send({ type: 'upvote_question', id: ++id, question: q })) return;
      ups.set(id, q);
      upvoted.add(q);
    }
    draw();
  });
}
