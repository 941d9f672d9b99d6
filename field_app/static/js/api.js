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

/** Change one's own password (online only). The server revokes every token of the user, this phone's too: the
 * caller forgets the token and asks for a new login. Returns null, or the server's reason in the user's language. */
export async function changePassword(current, next, language) {
  let r;
  try {
    r = await fetch("/api/auth/password", { method: "POST", headers: { Authorization: `Bearer ${state.token}`,
      "Content-Type": "application/json" }, body: JSON.stringify({ current_password: current, new_password: next }) });
  } catch {
    return language === "en" ? "No connection to the server: try again online" : "无法连接服务器：请联网后再试";
  }
  if (r.ok) { return null; }
  const error = (await r.json().catch(() => ({}))).error || {};
  return (language === "en" ? error.message_en : error.message_zh) || error.message || `HTTP ${r.status}`;
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
