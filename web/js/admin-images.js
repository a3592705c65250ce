// Images of the deck in the editor: chosen files, or a zip of the deck and its images,
// go to the server under the deck's media key (docs/api.md, PUT /api/images/…), which
// `POST /api/check` gives for the text in the editor. A slide names its image by file
// name, so the files are sent again after the text changes.
import { t } from './i18n.js';
import { $ } from './common.js';
import { api } from './admin-api.js';
import { say } from './admin-ui.js';

export function initImages(source, checked) {
  const input = $('images');
  const status = $('images-status');
  async function send(files) {
    if (!files.length) return;
    say(status, t('admin.images_sending'));
    let deck;
    try {
      deck = await api('POST', '/check', { name: 'deck.md', source: source() });
    } catch (err) {
      say(status, err.message, true);
      return;
    }
    if (!deck.ok || !deck.images) {
      say(status, t('admin.images_fix_first'), true);
      return;
    }
    const stored = [];
    for (const file of files) {
      const zip = /\.zip$/i.test(file.name);
      const path = '/images/' + deck.images.key + (zip ? '' : '/' + encodeURIComponent(file.name));
      try {
        const answer = await api('PUT', path, file, 'application/octet-stream');
        stored.push(...(zip ? answer.files.map((f) => f.file) : [answer.file]));
      } catch (err) {
        say(status, err.message, true);
        return;
      }
    }
    const missing = deck.images.files.filter((f) => !stored.includes(f));
    const told = t('admin.images_stored', { list: stored.join(', ') || '—' });
    say(status, missing.length ? told + ' ' + t('admin.images_missing', { list: missing.join(', ') }) : told);
    checked();
  }
  input.addEventListener('change', () => {
    send([...input.files]);
    input.value = '';
  });
}
