// Talking to the API from the desk pages (the browser's HttpOnly cookie authenticates; nothing here sees
// the token). Errors carry the server's own message, in the user's language.
import { lang } from "./lang.js";

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function answer(response, what) {
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    if (response.status === 401) { window.location.assign(`/login?next=${encodeURIComponent(window.location.pathname + window.location.search)}`); }
    const error = body.error || {};
    throw new ApiError(response.status, (lang() === "en" ? error.message_en : error.message_zh) || error.message
      || `${what}: HTTP ${response.status}`);
  }
  return body;
}

export async function getJSON(path) {
  return answer(await fetch(path, { headers: { Accept: "application/json" } }), path);
}

export async function postJSON(path, payload) {
  return answer(await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(payload) }), path);
}

/** A query string of the non-empty values of an object. */
export function query(values) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) { if (v !== null && v !== undefined && v !== "") { q.set(k, v); } }
  return q.toString();
}
