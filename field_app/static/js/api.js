// The field app's link to the server: the bearer token (kept on the phone), who is signed in, and whether the
// server answers — not only whether the phone has a network.

const state = { token: localStorage.getItem("redline.token"), me: JSON.parse(localStorage.getItem("redline.me") || "null") };

export function token() { return state.token; }
export function me() { return state.me; }

export class Unauthenticated extends Error {}

export async function api(path) {
  const r = await fetch(path, { headers: { Authorization: `Bearer ${state.token}` } });
  if (r.status === 401) { throw new Unauthenticated("login"); }
  if (!r.ok) { throw new Error(`${path}: ${r.status}`); }
  return r.json();
}

export async function login(username, password) {
  const r = await fetch("/api/auth/token", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }) });
  if (!r.ok) { return false; }
  state.token = (await r.json()).access_token;
  localStorage.setItem("redline.token", state.token);
  state.me = await api("/api/auth/me");
  localStorage.setItem("redline.me", JSON.stringify(state.me));
  return true;
}

/** A server's refusal in both languages (`errorText` shows the one the inspector reads): its message_zh and
 * message_en, else its message, else the HTTP status. */
export function refusal(body, status) {
  const error = (body || {}).error || {};
  return { zh: error.message_zh || error.message || `HTTP ${status}`,
    en: error.message_en || error.message || `HTTP ${status}` };
}

/** Change one's own password (online only). The server revokes every token of the user, this phone's too: the
 * caller forgets the token and asks for a new login. Returns null, or why not ({zh, en}, as `refusal`). */
export async function changePassword(current, next) {
  let r;
  try {
    r = await fetch("/api/auth/password", { method: "POST", headers: { Authorization: `Bearer ${state.token}`,
      "Content-Type": "application/json" }, body: JSON.stringify({ current_password: current, new_password: next }) });
  } catch {
    return { zh: "无法连接服务器：请联网后再试", en: "No connection to the server: try again online" };
  }
  return r.ok ? null : refusal(await r.json().catch(() => ({})), r.status);
}

/** Forget this phone's login without asking the server (its token is revoked already). */
export function forget() {
  state.token = null;
  state.me = null;
  localStorage.removeItem("redline.token");
  localStorage.removeItem("redline.me");
}

export async function logout() {
  if (state.token) {
    await fetch("/api/auth/logout", { method: "POST", headers: { Authorization: `Bearer ${state.token}` } }).catch(() => {});
  }
  forget();
}

/** "online" when the server answers, "noserver" when the phone has a network but the server does not
 * answer (a captive portal, a server down), "offline" without a network. */
export async function reachability() {
  if (!navigator.onLine) { return "offline"; }
  try {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 4000);
    const r = await fetch("/health", { cache: "no-store", signal: controller.signal });
    clearTimeout(timer);
    return r.ok ? "online" : "noserver";
  } catch {
    return navigator.onLine ? "noserver" : "offline";
  }
}
