// The facilitator's console at /admin: log in, write and check decks, preview them on
// the real pages, start and manage sessions. A client of the HTTP API (docs/api.md).
import { init, t, onLangChange } from './i18n.js';
import { $ } from './common.js';
import { api, onLoggedOut } from './admin-api.js';
import { say } from './admin-ui.js';
import { initDecks, loadDecks, saveDeck, editorSource, currentId, recheck } from './admin-decks.js';
import { initPreview, showPreview } from './admin-preview.js';
import { initSessions, loadSessions, loadSettings, setDecks } from './admin-sessions.js';
import { initImages } from './admin-images.js';

await init('admin');

const loginBox = $('login');
const consoleBox = $('console');
const password = $('password');
const loginError = $('login-error');
let why = null; // () => the login form's message, so a language switch redoes it

initDecks({ checked: showPreview, decks: setDecks });
initPreview();
initImages(editorSource, recheck);
initSessions({ source: editorSource, saveDeck, currentDeck: currentId });
onLangChange(() => say(loginError, why ? why() : '', true));

// Logged out (or the server restarted): the console hides, keeping what was typed.
function showLogin(message) {
  why = message;
  say(loginError, message ? message() : '', true);
  consoleBox.hidden = true;
  $('logout').hidden = true;
  loginBox.hidden = false;
  password.focus();
}

function showConsole() {
  why = null;
  loginBox.hidden = true;
  consoleBox.hidden = false;
  $('logout').hidden = false;
  loadDecks();
  loadSessions();
  loadSettings();
  recheck();
}

onLoggedOut(() => showLogin(() => t('admin.login_again')));

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  if (!password.value) {
    password.setAttribute('aria-invalid', 'true');
    showLogin(() => t('admin.password_needed'));
    return;
  }
  try {
    await api('POST', '/login', { password: password.value });
  } catch (err) {
    password.setAttribute('aria-invalid', 'true');
    showLogin(() => err.message);
    password.select();
    return;
  }
  password.value = '';
  password.removeAttribute('aria-invalid');
  showConsole();
  $('decks-h').focus();
});
password.addEventListener('input', () => password.removeAttribute('aria-invalid'));

$('logout').addEventListener('click', async () => {
  try { await api('POST', '/logout'); } catch { /* logged out either way */ }
  showLogin(null);
});

try {
  await api('GET', '/me');
  showConsole();
} catch (err) {
  if (err.status === 401) showLogin(null);
  else showLogin(() => err.message);
}
