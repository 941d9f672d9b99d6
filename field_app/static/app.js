// Redline field app: my cases (by deadline or distance), a map, the field form, photos — offline first.
/* global L, RedlineQueue */
(() => {
  "use strict";
  const T = {
    zh: {}, en: { title: "Redline field check", username: "Username", password: "Password", login: "Log in",
      mycases: "My cases", bydeadline: "by deadline", bydistance: "by distance", queue: "To sync", back: "Back",
      verdict: "Verdict", illegal: "Illegal", uncertain: "Uncertain", legal: "Legal", findings: "Findings (八不准)",
      notes: "Notes", photo: "Photos", submit: "Submit", history: "History", online: "online", offline: "offline",
      notcached: "Offline, and this case was never opened: open it once online to have it offline" },
  };
  const state = { token: localStorage.getItem("redline.token"), user: null, cases: [], position: null,
    heading: null, lang: localStorage.getItem("redline.lang") || "zh", current: null };
  const $ = (id) => document.getElementById(id);
  let map = null;
  let caseLayer = null;
  let me = null;

  function t(key, fallback) { return (T[state.lang] && T[state.lang][key]) || fallback; }
  function translate() {
    document.querySelectorAll("[data-t]").forEach((el) => {
      if (!el.dataset.zh) { el.dataset.zh = el.textContent; }
      el.textContent = state.lang === "en" ? t(el.dataset.t, el.dataset.zh) : el.dataset.zh;
    });
    $("lang").textContent = state.lang === "en" ? "中文" : "EN";
    showNet();
  }
  function showNet() {
    $("net").textContent = navigator.onLine ? t("online", "在线") : t("offline", "离线");
    $("net").dataset.online = String(navigator.onLine);
  }
  function show(view) {
    for (const v of ["login-view", "list-view", "case-view"]) { $(v).hidden = v !== view; }
  }

  async function api(path) {
    const r = await fetch(path, { headers: { Authorization: "Bearer " + state.token } });
    if (r.status === 401) { logout(); throw new Error("login"); }
    if (!r.ok) { throw new Error(`${path}: ${r.status}`); }
    return r.json();
  }
  function logout() { localStorage.removeItem("redline.token"); state.token = null; show("login-view"); }

  function distance(f) {
    if (!state.position || !f.geometry) { return Infinity; }
    const c = L.geoJSON(f).getBounds().getCenter();
    return L.latLng(state.position.lat, state.position.lon).distanceTo(c);
  }

  async function loadCases() {
    const fc = await api("/api/cases?format=geojson&assignee=me&limit=2000");
    state.cases = fc.features;
    renderCases();
  }

  function renderCases() {
    const sorted = [...state.cases];
    if ($("sort").value === "distance") {
      sorted.sort((a, b) => distance(a) - distance(b));
    } else {
      sorted.sort((a, b) => String(a.properties.next_deadline || "9").localeCompare(String(b.properties.next_deadline || "9")));
    }
    $("cases").innerHTML = "";
    for (const f of sorted) {
      const p = f.properties;
      const li = document.createElement("li");
      li.className = "case" + (p.overdue ? " overdue" : "");
      li.dataset.id = p.id;
      const d = distance(f);
      li.textContent = `${p.code} · ${p.status} · ${p.next_deadline ? p.next_deadline.slice(0, 10) : "—"}` +
        (Number.isFinite(d) ? ` · ${Math.round(d)} m` : "");
      li.onclick = () => openCase(p.id);
      $("cases").appendChild(li);
    }
    if (!map) {
      map = L.map("map", { zoomControl: true });
      caseLayer = L.geoJSON(null, { style: { color: "#e31a1c", weight: 2 } }).addTo(map);
    }
    caseLayer.clearLayers();
    caseLayer.addData({ type: "FeatureCollection", features: state.cases });
    if (state.cases.length) { map.fitBounds(caseLayer.getBounds(), { maxZoom: 17 }); }
    if (state.position) {
      if (!me) { me = L.circleMarker([state.position.lat, state.position.lon], { radius: 6 }).addTo(map); }
      me.setLatLng([state.position.lat, state.position.lon]);
    }
  }

  async function renderQueue() {
    const items = await RedlineQueue.all();
    $("queue").innerHTML = "";
    for (const item of items.sort((a, b) => a.created.localeCompare(b.created))) {
      const li = document.createElement("li");
      li.className = "queue-item state-" + item.state;
      li.dataset.state = item.state;
      li.dataset.kind = item.kind;
      li.textContent = `${item.kind} · #${item.caseId} · ${item.state}` + (item.error && item.state === "failed" ? ` · ${item.error}` : "");
      if (item.state === "failed") {
        const b = document.createElement("button");
        b.textContent = "↻";
        b.onclick = async () => { await RedlineQueue.retry(item.id); sync(); };
        li.appendChild(b);
      }
      $("queue").appendChild(li);
    }
  }

  // Every case view starts clean: no photo, verdict or note of the case seen before, and no form at all
  // until this case's facts are here (offline and never opened: nothing to submit against).
  function clearCaseView(id) {
    $("field-form").reset();
    $("photo").value = "";
    $("field-form").hidden = true;
    $("case-code").textContent = `#${id}`;
    $("case-facts").innerHTML = "";
    $("history").innerHTML = "";
    $("case-error").textContent = "";
  }

  async function openCase(id) {
    state.current = id;
    clearCaseView(id);
    show("case-view");
    const facts = $("case-facts");
    let f;
    try {
      f = await api(`/api/cases/${id}`);
    } catch (err) {
      if (state.current !== id) { return; }  // another case was opened meanwhile
      $("case-error").textContent = String(err).includes(": 503")
        ? t("notcached", "离线且此案件尚未缓存：联网后打开一次即可离线查看")
        : String(err);
      return;
    }
    if (state.current !== id) { return; }  // a slow answer for a case the inspector has left
    const p = f.properties;
    $("case-code").textContent = p.code;
    const rows = [["状态 status", p.status], ["时段 period", p.period], ["处置 disposition", p.disposition],
      ["八不准", [p.rules, p.field_rules].filter(Boolean).join(",") || "—"],
      ["占地 m² / 亩", `${p.footprint_m2.toFixed(1)} / ${p.footprint_mu}`],
      ["永久基本农田 m² / 亩", `${p.farmland_m2.toFixed(1)} / ${p.farmland_mu}`],
      ["期限 deadline", p.next_deadline ? `${p.next_deadline_kind} ${p.next_deadline.slice(0, 16)}` : "—"]];
    for (const [k, v] of rows) {
      const dt = document.createElement("dt"); dt.textContent = k;
      const dd = document.createElement("dd"); dd.textContent = v;
      facts.append(dt, dd);
    }
    for (const e of p.history) {
      const li = document.createElement("li");
      li.textContent = `${e.at.slice(0, 16)} ${e.actor} ${e.action}` + (e.note ? ` — ${e.note}` : "");
      $("history").appendChild(li);
    }
    $("field-form").dataset.caseId = String(id);
    $("field-form").hidden = false;
  }

  async function submitForm(event) {
    event.preventDefault();
    const form = event.target;
    if (form.hidden || form.dataset.caseId !== String(state.current)) { return; }  // only for the case shown
    const data = new FormData(form);
    const files = [...$("photo").files];
    const fix = { browser_lat: state.position ? state.position.lat : null,
      browser_lon: state.position ? state.position.lon : null, browser_heading: state.heading };
    for (const file of files) {  // the original file object: no canvas, no re-encoding, EXIF intact
      await RedlineQueue.add("photo", state.current, { name: file.name, kind: "panorama", ...fix }, file);
    }
    const verdict = data.get("verdict");
    if (verdict) {
      const payload = { verdict, field_rules: data.getAll("field_rules").map(Number) };
      if (data.get("legal_reason")) { payload.legal_reason = data.get("legal_reason"); }
      if (data.get("period")) { payload.period = data.get("period"); }
      await RedlineQueue.add("transition", state.current, { action: "verify", payload: { ...payload,
        note: data.get("note") || undefined } });
    }
    form.reset();
    show("list-view");
    await renderQueue();
    sync();
  }

  function sync() {
    return RedlineQueue.sync(state.token, renderQueue).then(renderQueue)
      .then(() => (navigator.onLine ? loadCases().catch(() => {}) : null));
  }

  function watchPosition() {
    if (navigator.geolocation) {
      navigator.geolocation.watchPosition((pos) => {
        state.position = { lat: pos.coords.latitude, lon: pos.coords.longitude, accuracy: pos.coords.accuracy };
      }, () => {}, { enableHighAccuracy: true, maximumAge: 10000 });
    }
    window.addEventListener("deviceorientationabsolute", (e) => {
      if (e.alpha !== null) { state.heading = (360 - e.alpha) % 360; }
    });
  }

  async function start() {
    translate();
    window.addEventListener("online", () => { showNet(); sync(); });
    window.addEventListener("offline", showNet);
    $("lang").onclick = () => { state.lang = state.lang === "zh" ? "en" : "zh"; localStorage.setItem("redline.lang", state.lang); translate(); };
    $("sort").onchange = renderCases;
    $("back").onclick = () => { clearCaseView(""); state.current = null; show("list-view"); };
    $("field-form").onsubmit = submitForm;
    $("login-form").onsubmit = async (event) => {
      event.preventDefault();
      const data = new FormData(event.target);
      const r = await fetch("/api/auth/token", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: data.get("username"), password: data.get("password") }) });
      if (!r.ok) { $("login-error").textContent = "用户名或密码错误 / wrong username or password"; return; }
      state.token = (await r.json()).access_token;
      localStorage.setItem("redline.token", state.token);
      enter();
    };
    if ("serviceWorker" in navigator) { navigator.serviceWorker.register("/field/sw.js", { scope: "/field/" }); }
    watchPosition();
    if (state.token) { enter(); } else { show("login-view"); }
  }

  async function enter() {
    show("list-view");
    await renderQueue();
    try { await loadCases(); } catch (err) { if (String(err) !== "Error: login") { console.warn(err); } }
    sync();
    document.body.dataset.ready = "1";
  }

  start();
})();
