// The console's client of the HTTP API (docs/api.md). api(method, path, body) answers
// the parsed JSON (null for 204) or throws an ApiError carrying the server's `code`,
// `message` (in the page's language) and `errors`. A 401 `login_required` also tells
// the page, which shows its login form.
import { t, lang } from './i18n.js';

export class ApiError extends Error {
  constructor(status, body) {
    super(body.message || t('admin.error_status', { status }));
    this.status = status;
    this.code = body.code || '';
    this.errors = Array.isArray(body.errors) ? body.errors : [];
  }
}

let loggedOut = () => {};
export const onLoggedOut = (f) => { loggedOut = f; };

// `type` other than JSON sends `body` as it is (a deck file's own bytes).
export async function api(method, path, body, type = 'application/json') {
  const headers = { 'Accept-Language': lang, Accept: 'application/json' };
  const opts = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  // A changing call says JSON even without a body: no HTML form of another site can.
  if (method !== 'GET') headers['Content-Type'] = type;
  if (body !== undefined) opts.body = type === 'application/json' ? JSON.stringify(body) : body;
  let res;
  try {
    res = await fetch('/api' + path, opts);
  } catch {
    throw new ApiError(0, { code: 'offline', message: t('admin.offline') });
  }
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (res.ok) return data;
  const err = new ApiError(res.status, data || {});
  if (res.status === 401 && err.code !== 'bad_password') loggedOut();
  throw err;
}

// Formats a time in milliseconds for people.
export const when = (ms) => new Date(ms).toLocaleString(lang, { dateStyle: 'medium', timeStyle: 'short' });

// Formats a meeting's date (YYYY-MM-DD) for people; anything else stays as it is.
export function day(date, locale = lang) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date || '');
  if (!m) return date || '';
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])).toLocaleDateString(locale, { dateStyle: 'long' });
}
