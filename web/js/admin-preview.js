// The preview: the checked deck on the real screen and phone pages, each in an iframe
// at /preview/…, fed by postMessage with the welcome and state messages of
// POST /api/check (see connect() in socket.js). A page asks with `preview_ready` once it
// listens; the console answers with the welcome and the chosen slide's state.
import { t, onLangChange } from './i18n.js';
import { $, setText } from './common.js';

// The screen page is laid out at this size and scaled down to the box it gets.
const SCREEN_W = 1280;

const pick = $('slide-pick');
const note = $('preview-note');
const frames = [
  { el: $('pv-screen'), kind: 'screen', ready: false },
  { el: $('pv-phone'), kind: 'participant', ready: false },
];
let shown = null; // the last deck without errors: { slides, preview }
let stale = false; // the editor's deck has errors now
let index = 0;

export function initPreview() {
  addEventListener('message', (e) => {
    if (e.origin !== location.origin || !e.data || e.data.type !== 'preview_ready') return;
    const f = frames.find((f) => f.el.contentWindow === e.source);
    if (!f) return;
    f.ready = true;
    post(f, true);
  });
  // Loaded only now that the console listens, so no page's `preview_ready` goes unheard.
  for (const f of frames) f.el.src = '/preview/' + f.kind;
  pick.addEventListener('change', () => {
    index = Number(pick.value);
    frames.forEach((f) => post(f, false));
  });
  const box = $('screen-box');
  const scale = () => { frames[0].el.style.transform = 'scale(' + box.clientWidth / SCREEN_W + ')'; };
  new ResizeObserver(scale).observe(box);
  onLangChange(() => { options(); say(); });
  options();
  say();
}

// A new check of the editor's deck: `r` the answer when it has no errors, else null.
export function showPreview(r) {
  stale = !r;
  if (r) {
    const same = shown && shown.slides.length === r.slides.length;
    shown = { slides: r.slides || [], preview: r.preview };
    if (!same) index = Math.min(index, Math.max(0, shown.slides.length - 1));
    options();
    frames.forEach((f) => post(f, true));
  }
  say();
}

function post(f, welcome) {
  if (!f.ready || !shown || !shown.preview) return;
  const w = f.el.contentWindow;
  if (welcome) w.postMessage(shown.preview[f.kind], location.origin);
  const state = (shown.preview.states || [])[index];
  if (state) w.postMessage(state[f.kind], location.origin);
}

function options() {
  const slides = shown ? shown.slides : [];
  pick.replaceChildren(...slides.map((s, i) => new Option(
    s.kind === 'statement' ? t('admin.slide_statement', { n: i + 1, title: s.title || '' }) : t('admin.slide_content', { n: i + 1, title: s.title || '' }),
    i, false, i === index)));
  pick.disabled = !slides.length;
}

function say() {
  setText(note, !shown ? t('admin.preview_none') : stale ? t('admin.preview_stale') : '');
}
