// The offline queue: every submission and photo is stored in IndexedDB first, then sent; nothing is lost on a
// reload, a killed tab or a server error. Each item keeps its own UUID, which the server uses to refuse
// duplicates, so a retry never creates a second record. Items are sent in the order they were made (photos
// before the step they support), and a sent item clears itself from the queue.

import { refusal } from "./api.js";

const DB = "redline-field";
const STORE = "queue";

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "id" });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function tx(mode, fn) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const t = db.transaction(STORE, mode);
    const result = fn(t.objectStore(STORE));
    t.oncomplete = () => resolve(result && result.result !== undefined ? result.result : result);
    t.onerror = () => reject(t.error);
  });
}

const put = (item) => tx("readwrite", (s) => s.put(item));
const remove = (id) => tx("readwrite", (s) => s.delete(id));
export const all = () => tx("readonly", (s) => s.getAll());

/** Queue a photo (`blob`: the original file, never re-encoded), a transition of a case or a progress report.
 * `evidenceFrom`: queued photos whose server ids the transition carries as its evidence (a change of period). */
export async function add(kind, { user, caseId = null, caseCode = null, step = null, payload, blob = null, evidenceFrom = [],
  id = null, created = null, held = false }) {
  // `held`: kept on the phone but not sent until released (a patrol finding's photo waits for its finding).
  const item = { id: id || crypto.randomUUID(), kind, user, caseId, caseCode, step, payload, blob, evidenceFrom,
    state: held ? "held" : "queued", error: null, created: created || new Date().toISOString() };
  await put(item);
  return item;
}

/** Let held items go: they are sent with the next sync, in the order they were made. */
export async function release(ids) {
  for (const item of (await all()).filter((i) => ids.includes(i.id) && i.state === "held")) {
    item.state = "queued";
    await put(item);
  }
}

function send(item, token) {
  const headers = { Authorization: `Bearer ${token}` };
  if (item.kind === "photo" || item.kind === "finding_photo") {
    const form = new FormData();
    form.append("file", item.blob, item.payload.name || "photo.jpg");  // the original file, never re-encoded
    form.append("client_uuid", item.id);
    form.append("kind", item.payload.kind || "panorama");
    if (item.kind === "finding_photo") {
      return fetch(`/api/findings/${item.payload.finding_uuid}/photos`, { method: "POST", headers, body: form });
    }
    for (const k of ["browser_lat", "browser_lon", "browser_heading"]) {
      if (item.payload[k] !== null && item.payload[k] !== undefined) { form.append(k, String(item.payload[k])); }
    }
    return fetch(`/api/cases/${item.caseId}/photos`, { method: "POST", headers, body: form });
  }
  headers["Content-Type"] = "application/json";
  if (item.kind === "patrol" || item.kind === "finding") {  // the item's UUID is the record's: a resend is a no-op
    return fetch(item.kind === "patrol" ? "/api/patrols" : "/api/findings", { method: "POST", headers,
      body: JSON.stringify({ client_uuid: item.id, ...item.payload }) });
  }
  // A step or a report carries the item's UUID too: resent after a lost answer, it is answered, not applied again.
  const path = item.kind === "report" ? "progress-reports" : "transitions";
  return fetch(`/api/cases/${item.caseId}/${path}`, { method: "POST", headers,
    body: JSON.stringify({ ...item.payload, client_uuid: item.id }) });
}

/** A sent photo's server id goes into every queued step that cites it as evidence. */
async function handOn(photoItemId, photoId, items) {
  for (const other of items) {
    if (!other.evidenceFrom || !other.evidenceFrom.includes(photoItemId)) { continue; }
    other.evidenceFrom = other.evidenceFrom.filter((id) => id !== photoItemId);
    other.payload.payload.evidence = [...(other.payload.payload.evidence || []), photoId];
    await put(other);
  }
}

let running = false;
let again = false;

/** Send what is queued for `user`, oldest first; `onChange` after each item. Returns how many were sent. A call
 * while a sync runs is not lost: that sync goes round once more for what was queued meanwhile. */
export async function sync(token, user, onChange) {
  if (!navigator.onLine || !token) { return 0; }
  if (running) { again = true; return 0; }
  running = true;
  let sent = 0;
  try {
    const items = (await all()).filter((i) => i.user === user).sort((a, b) => a.created.localeCompare(b.created));
    for (const item of items) {
      if (item.state === "failed" || item.state === "held") { continue; }  // waits for "retry now", or its release
      if (item.evidenceFrom && item.evidenceFrom.length) {
        item.state = "failed";
        item.error = { zh: "其证据照片尚未发送", en: "its evidence photos have not been sent" };
        await put(item);
        onChange();
        continue;
      }
      item.state = "uploading";
      await put(item);
      onChange();
      let response;
      try {
        response = await send(item, token);
      } catch (err) {
        item.state = "queued";  // no network: stays queued for the next try
        item.error = String(err);
        await put(item);
        onChange();
        break;
      }
      if (response.ok) {
        const body = await response.json().catch(() => ({}));
        if (item.kind === "photo" && body.id) { await handOn(item.id, body.id, items); }
        await remove(item.id);  // sent: nothing left to keep on the phone
        sent += 1;
      } else {
        const body = await response.json().catch(() => ({}));
        item.state = "failed";
        item.error = refusal(body, response.status);  // both languages: the list shows the inspector's
        await put(item);
      }
      onChange();
    }
  } finally {
    running = false;
  }
  if (again) {
    again = false;
    sent += await sync(token, user, onChange);
  }
  return sent;
}

/** Put a failed (or waiting) item back in line. */
export async function retry(id) {
  const item = (await all()).find((i) => i.id === id);
  if (item) { item.state = "queued"; item.error = null; await put(item); }
}
