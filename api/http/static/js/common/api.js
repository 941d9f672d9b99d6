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

/** A fresh key for one submission (`client_uuid`): sent again with a retry, it makes the server answer the retry
 * as it did the first send instead of filing twice. Made with getRandomValues, which (unlike randomUUID) a desk
 * served over plain http on the county's network has too. */
export function submissionKey() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;  // version 4
  b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A query string of the non-empty values of an object. */
export function query(values) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) { if (v !== null && v !== undefined && v !== "") { q.set(k, v); } }
  return q.toString();
}
