// Helpers for the host and screen pages.
import { wrap } from './common.js';
import { t } from './i18n.js';

export const session = wrap(() => sessionStorage);

// The key: taken from ?key= into sessionStorage and removed from the address bar.
export function takeKey(code) {
  const name = 'stemzaal:key:' + code;
  const url = new URL(location.href);
  const key = url.searchParams.get('key');
  if (!key) return session.get(name);
  session.set(name, key);
  url.searchParams.delete('key');
  history.replaceState(history.state, '', url.pathname + url.search + url.hash);
  return key;
}

// A refused key. With a stored key tried (`retry`, the caller has dropped it), once more
// with the cookie alone; else stop, hide the page's parts and say why.
export function denied(code, retry, sock, hide) {
  if (retry) {
    session.del('stemzaal:key:' + code);
    sock.restart();
    return;
  }
  sock.close();
  for (const part of hide) part.hidden = true;
  document.getElementById('denied').hidden = false;
}

// A group's row as the host and the screen name it, and in words why its counts are
// not shown (docs/protocol.md, `groups`).
export const groupName = (row) => (row.group == null ? t('groups.none') : row.group);
export const groupWhy = (row, k) => (row.suppressed === 'complement' ? t('groups.complement') : t('groups.few', { k }));
