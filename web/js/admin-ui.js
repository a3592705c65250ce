// Small helpers of the console: messages, a second press for what is hard to undo, copying.
import { setText } from './common.js';

// A message in a live region; `error` shows it as one.
export function say(node, text, error = false) {
  node.classList.toggle('error', !!error && !!text);
  setText(node, text || '');
}

// The first press changes the button's label to the question ask() (and says it in
// `status`); a second press within CONFIRM_MS answers true. No window.confirm: it stops
// every script of the page and cannot be styled or read in the page's language.
const CONFIRM_MS = 6000;
export function pressAgain(btn, ask, status) {
  if (btn.dataset.armed) {
    disarm(btn);
    return true;
  }
  const question = ask();
  btn.dataset.armed = btn.textContent;
  btn.textContent = question;
  btn.classList.add('armed');
  if (status) say(status, question);
  btn.disarmT = setTimeout(() => {
    disarm(btn);
    if (status && status.textContent === question) say(status, '');
  }, CONFIRM_MS);
  return false;
}

function disarm(btn) {
  clearTimeout(btn.disarmT);
  if (btn.dataset.armed == null) return;
  btn.textContent = btn.dataset.armed;
  delete btn.dataset.armed;
  btn.classList.remove('armed');
}

// The clipboard API exists only on https and localhost; on a LAN address over http the
// selected text is copied the old way.
export async function copy(input) {
  try {
    await navigator.clipboard.writeText(input.value);
    return true;
  } catch {
    input.focus();
    input.select();
    try { return document.execCommand('copy'); } catch { return false; }
  }
}
