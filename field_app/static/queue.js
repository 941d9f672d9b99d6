// The offline queue: every submission and photo is stored in IndexedDB first, then sent; nothing is lost on a
// reload, a killed tab or a server error. Each item keeps its own UUID, which the server uses to refuse
// duplicates, so a retry never creates a second record.
/* exported RedlineQueue */
const RedlineQueue = (() => {
  "use strict";
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
  const all = () => tx("readonly", (s) => s.getAll());

  async function add(kind, caseId, payload, blob) {
    const item = { id: crypto.randomUUID(), kind, caseId, payload, blob: blob || null, state: "queued",
      error: null, created: new Date().toISOString() };
    await put(item);
    return item;
  }

  async function send(item, token) {
    const headers = { Authorization: "Bearer " + token };
    if (item.kind === "photo") {
      const form = new FormData();
      form.append("file", item.blob, item.payload.name || "photo.jpg");  // the original file, never re-encoded
      form.append("client_uuid", item.id);
      form.append("kind", item.payload.kind || "panorama");
      for (const k of ["browser_lat", "browser_lon", "browser_heading"]) {
        if (item.payload[k] !== null && item.payload[k] !== undefined) { form.append(k, String(item.payload[k])); }
      }
      return fetch(`/api/cases/${item.caseId}/photos`, { method: "POST", headers, body: form });
    }
    headers["Content-Type"] = "application/json";
    return fetch(`/api/cases/${item.caseId}/transitions`, { method: "POST", headers,
      body: JSON.stringify(item.payload) });
  }

  let running = false;
  async function sync(token, onChange) {
    if (running || !navigator.onLine) { return; }
    running = true;
    try {
      for (const item of await all()) {
        if (item.state === "done") { continue; }
        item.state = "uploading";
        await put(item);
        onChange();
        try {
          const response = await send(item, token);
          if (response.ok) {
            item.state = "done";
            item.error = null;
            item.blob = null;  // uploaded: free the space, keep the record of it
          } else {
            const body = await response.json().catch(() => ({}));
            item.state = "failed";
            item.error = (body.error && body.error.message) || `HTTP ${response.status}`;
          }
        } catch (err) {
          item.state = "queued";  // no network: stays queued for the next try
          item.error = String(err);
        }
        await put(item);
        onChange();
      }
    } finally {
      running = false;
    }
  }

  async function retry(id) {
    const item = (await all()).find((i) => i.id === id);
    if (item) { item.state = "queued"; await put(item); }
  }

  return { add, all, sync, retry };
})();
