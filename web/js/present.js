// Helpers for the host and screen pages.
import { wrap } from './common.js';

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
