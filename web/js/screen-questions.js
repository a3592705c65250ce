// Questions from the room on the projector while the host shows them
// (docs/protocol.md, show_questions): over the slide, the highlighted one large with its
// upvotes, then the others as listed (open ones by upvotes, answered ones last, marked),
// as many as fit. Texts are plain text (textContent), never HTML.
import { t, onLangChange } from './i18n.js';
import { $, el, setText } from './common.js';

export function questionsOnScreen(sock) {
  let qs = null;
  const box = $('qs');
  const up = (q) => el('span', 'asup', t('args.support', { n: q.upvotes }));
  const render = () => {
    const on = !!qs && qs.shown;
    box.hidden = !on;
    $('main').toggleAttribute('data-qa', on);
    if (!on) return;
    const hl = qs.items.find((q) => q.status === 'highlighted');
    const top = $('qs-hl');
    top.hidden = !hl;
    if (hl) top.replaceChildren(el('span', 'atext', hl.text), ...(hl.upvotes > 0 ? [up(hl)] : []));
    const rest = qs.items.filter((q) => q !== hl).map((q) => {
      const li = el('li', 'aitem' + (q.status === 'answered' ? ' done' : ''));
      li.append(el('span', 'atext', q.text));
      if (q.upvotes > 0) li.append(up(q));
      if (q.status === 'answered') li.append(el('span', 'qdone', t('qa.answered')));
      return li;
    });
    $('qs-list').replaceChildren(...rest);
    setText($('qs-none'), qs.items.length ? '' : t('qa.screen_empty'));
    // What does not fit is left out from the bottom, whole items only.
    const list = $('qs-list');
    while (list.lastChild && list.scrollHeight > list.clientHeight) list.lastChild.remove();
  };
  sock.on('state', (m) => { qs = m.questions || null; render(); });
  onLangChange(render);
  addEventListener('resize', render);
}
