// Redline field app: my cases (by deadline or distance, all stored on the phone for offline work), a map, every
// field step of the workflow with the photos it needs, and the queue that sends them — offline first.
import { h } from "/static/js/common/dom.js";
import { api, changePassword, forget, login, logout, me, reachability, token, Unauthenticated } from "./api.js";
import { errorText, getConfig, label, language, localTime, setConfig, setLanguage, t, translate, word } from "./i18n.js";
import { refit, showCases, showPosition } from "./map.js";
import * as queue from "./queue.js";
import { setUpPatrol, showInbox, showMyFindings } from "./patrol.js";
import { plan, STEPS, stepLabel, stepsFor } from "./steps.js";

const $ = (id) => document.getElementById(id);
const state = { cases: [], position: null, heading: null, current: null, currentProps: null, cached: new Set(),
  previews: [] };

function show(view) {
  for (const v of ["login-view", "list-view", "case-view"]) { $(v).hidden = v !== view; }
  if (view === "list-view") { refit(); }
}

async function showNet() {
  const where = await reachability();
  $("net").dataset.state = where;
  $("net").dataset.online = String(where === "online");
  $("net").textContent = t(where);
  return where;
}

function distance(f) {
  if (!state.position || !f.geometry) { return Infinity; }
  const c = L.geoJSON(f).getBounds().getCenter();  // eslint-disable-line no-undef
  return L.latLng(state.position.lat, state.position.lon).distanceTo(c);  // eslint-disable-line no-undef
}

// ---- my cases -------------------------------------------------------------------------------------------
async function loadCases() {
  const fc = await api("/api/cases?format=geojson&assignee=me&limit=2000");
  state.cases = fc.features;
  renderCases();
  prefetch();  // every assigned case, its footprint and its photos' thumbnails: ready before the signal goes
}

/** Fetch each case's detail and thumbnails once online, so the service worker stores them for offline use. */
async function prefetch() {
  const pending = state.cases.map((f) => f.properties.id);
  const worker = async () => {
    while (pending.length) {
      const id = pending.shift();
      try {
        const detail = await api(`/api/cases/${id}`);
        await Promise.all(detail.properties.photos.map((p) => fetch(p.thumbnail_url, {
          headers: { Authorization: `Bearer ${token()}` } }).catch(() => null)));
        state.cached.add(id);
        const li = document.querySelector(`li.case[data-id='${id}']`);
        if (li) { li.dataset.cached = "1"; }
      } catch { /* offline or refused: this case stays uncached; the next sync tries again */ }
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  document.body.dataset.prefetched = String(state.cached.size);
}

function renderCases() {
  // Each case's distance once (it builds a Leaflet layer of the case), for both the order and the row.
  const shown = state.cases.map((f) => {
    const d = distance(f);
    return { p: f.properties, d, metres: Number.isFinite(d) ? Math.round(d) : null };
  });
  if ($("sort").value === "distance") {
    shown.sort((a, b) => a.d - b.d);
  } else {
    shown.sort((a, b) => String(a.p.next_deadline || "9").localeCompare(String(b.p.next_deadline || "9")));
  }
  // The rows as they would read: when they read as on screen, the elements stay. Every sync reloads the list, and
  // a tap whose press landed on an element replaced before its release was lost (no click on either).
  const rows = JSON.stringify([language(), ...shown.map(({ p, metres }) =>
    [p.id, p.code, p.status, p.next_deadline, Boolean(p.overdue), metres])]);
  if ($("cases").dataset.rows !== rows) {
    $("cases").dataset.rows = rows;
    $("cases").replaceChildren(...shown.map(({ p, metres }) =>
      h("li", { class: `case${p.overdue ? " overdue" : ""}`, dataset: { id: p.id, cached: state.cached.has(p.id) ? "1" : "" },
        on: { click: () => openCase(p.id) } },
      h("b", {}, p.code), ` · ${label("status", p.status)} · ${p.next_deadline ? localTime(p.next_deadline) : "—"}`,
      metres !== null ? ` · ${metres} m` : "")));
  }
  $("empty").hidden = state.cases.length > 0;
  showCases(state.cases, ((getConfig().colours || {}).cases || {}).demolish);  // the palette: api/mapview/style.py
  showPosition(state.position);
}

// ---- the queue ------------------------------------------------------------------------------------------
const STATE_WORDS = { queued: "等待发送", uploading: "发送中", failed: "未成功", held: "巡田结束后发送" };

/** What a queued item is, as the inspector reads it: a case's photo or step, a patrol, a finding. */
function queueLabel(item) {
  if (item.kind === "patrol") { return `${t("patrol", "巡田")} · ${item.payload.points.length} ${t("fixes", "个定位点")}`; }
  if (item.kind === "finding") { return `${t("finding", "巡田发现")} · ${label("finding_kind", item.payload.kind)}`; }
  if (item.kind === "finding_photo") { return `${t("finding", "巡田发现")} · ${t("photo", "照片")}`; }
  const what = item.kind === "photo" ? `${t("photo", "照片")}（${label("photo_kind", item.payload.kind)}）` : stepLabel(item.step);
  return `${item.caseCode || `#${item.caseId}`} · ${what}`;
}

async function renderQueue() {
  const mine = (await queue.all()).filter((i) => i.user === (me() || {}).username)
    .sort((a, b) => a.created.localeCompare(b.created));
  $("queue").replaceChildren(...mine.map((item) => h("li", { class: `queue-item state-${item.state}`,
    dataset: { state: item.state, kind: item.kind, id: item.id } },
  queueLabel(item),
  ` · ${language() === "en" ? item.state : STATE_WORDS[item.state] || item.state}`,
  item.error && item.state === "failed" ? h("span", { class: "err" }, ` · ${errorText(item.error)}`) : null,
  item.state === "uploading" ? null : h("button", { type: "button", class: "retry", on: { click: async () => {
    await queue.retry(item.id); sync();
  } } }, t("retry", "立即重试")))));
  $("queue-empty").hidden = mine.length > 0;
  $("queue-count").textContent = mine.length ? `（${mine.length}）` : "";
}

async function sync() {
  if ((await showNet()) !== "online") { return; }
  const sent = await queue.sync(token(), (me() || {}).username, renderQueue);
  await renderQueue();
  if (sent) { $("synced").textContent = `${t("synced", "已发送")} ${sent}`; }
  showInbox();
  showMyFindings();
  await loadCases().catch((err) => { if (err instanceof Unauthenticated) { signOut(); } });
}

// ---- one case -------------------------------------------------------------------------------------------
// Every case view starts clean: no photo, verdict or note of the case seen before, and no form at all until
// this case's facts are here (offline and never stored: nothing to submit against).
function clearCaseView(id) {
  $("field-form").reset();
  $("photo").value = "";
  clearPreviews();
  $("field-form").hidden = true;
  $("report-form").reset();
  $("report-form").hidden = true;
  $("report-error").textContent = "";
  $("case-code").textContent = `#${id}`;
  for (const el of ["case-facts", "history", "case-photos", "step-picker-options"]) { $(el).replaceChildren(); }
  $("case-error").textContent = "";
  $("form-error").textContent = "";
  $("step-needs").textContent = "";
}

async function openCase(id) {
  state.current = id;
  state.currentProps = null;
  clearCaseView(id);
  show("case-view");
  let f;
  try {
    f = await api(`/api/cases/${id}`);
  } catch (err) {
    if (state.current !== id) { return; }  // another case was opened meanwhile
    $("case-error").textContent = String(err).includes(": 503") ? t("notcached", "离线且此案件未缓存") : String(err);
    return;
  }
  if (state.current !== id) { return; }  // a slow answer for a case the inspector has left
  const p = f.properties;
  state.currentProps = p;
  $("case-code").textContent = p.code;
  const rows = [[t("status", "状态"), label("status", p.status)], [t("period", "时段"), label("period", p.period)],
    [t("disposition", "处置"), label("disposition", p.disposition)],
    [t("prohibitions", "八不准"), [p.rules, p.field_rules].filter(Boolean).join(",") || "—"],
    [t("footprint", "占地 m² / 亩"), `${p.footprint_m2.toFixed(1)} / ${p.footprint_mu}`],
    [t("farmland", "永久基本农田 m² / 亩"), `${p.farmland_m2.toFixed(1)} / ${p.farmland_mu}`],
    [t("remaining", "剩余未整改 m²"), (p.remaining_m2 || 0).toFixed(1)],
    [t("deadline", "期限"), p.next_deadline ? `${label("deadline", p.next_deadline_kind)} ${localTime(p.next_deadline)}` : "—"]];
  $("case-facts").replaceChildren(...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  $("history").replaceChildren(...p.history.map((e) => h("li", {}, `${localTime(e.at)} ${label("actor", e.actor)} ${label("action", e.action)}`,
    e.note ? ` — ${e.note}` : "")));
  $("case-photos").replaceChildren(...p.photos.map((ph) => h("figure", {},
    h("img", { src: ph.thumbnail_url, alt: label("photo_kind", ph.kind), class: "thumb" }),
    h("figcaption", {}, `${label("photo_kind", ph.kind)} ${localTime(ph.taken_at)}`,
      ph.checks.length ? h("span", { class: "err" }, ` ${ph.checks.join("；")}`)
        : ph.pixels_checked === false ? ` ${label("photo_state", "being_checked")}` : " ✓"))));
  fillChoices();
  const steps = stepsFor(p);
  $("step-picker-options").replaceChildren(...steps.map((s, i) => h("label", {},
    h("input", { type: "radio", name: "step", value: s, checked: i === 0 ? "checked" : null }), ` ${stepLabel(s)}`)));
  $("field-form").elements.period.value = p.period === "unknown" ? "" : p.period;
  showStep();
  $("field-form").dataset.caseId = String(id);
  $("field-form").hidden = false;
  $("report-form").dataset.caseId = String(id);
  // The server's word (api.cases.workflow.may_report), checked again when the report is sent.
  $("report-form").hidden = !p.may_report;
}

/** Show the chosen step's fields and what it needs. */
function showStep() {
  const form = $("field-form");
  const step = form.elements.step.value || "photos";
  $("verify-fields").hidden = step !== "verify";
  $("step-needs").textContent = `${t("needs", "本步骤需要")}${word("：", ": ")}${STEPS[step].needs()}`;
  form.elements.kind.value = STEPS[step].kind;
  const p = state.currentProps;
  const period = form.elements.period.value;
  $("period-request").hidden = !(step === "verify" && p && period && period !== p.period
    && !(p.period === "unknown" && period === "after_cutoff"));
}

// ---- photos ---------------------------------------------------------------------------------------------
function clearPreviews() {
  for (const url of state.previews) { URL.revokeObjectURL(url); }
  state.previews = [];
  $("previews").replaceChildren();
}

function showPreviews() {
  clearPreviews();
  const files = [...$("photo").files];
  $("previews").replaceChildren(...files.map((file) => {
    const url = URL.createObjectURL(file);
    state.previews.push(url);
    return h("figure", { class: "preview" }, h("img", { src: url, alt: file.name, class: "thumb" }),
      h("figcaption", {}, `${file.name} · ${(file.size / 1024 / 1024).toFixed(1)} MB`));
  }));
}

async function submitForm(event) {
  event.preventDefault();
  const form = event.target;
  if (form.hidden || form.dataset.caseId !== String(state.current) || !state.currentProps) { return; }  // only for the case shown
  const data = new FormData(form);
  const step = data.get("step") || "photos";
  const files = [...$("photo").files];
  const decided = plan(step, state.currentProps, data, files.length);
  $("form-error").textContent = decided.problem || "";  // said again, or cleared, at every attempt
  if (decided.problem) { return; }
  const user = (me() || {}).username;
  const base = { user, caseId: state.current, caseCode: state.currentProps.code };
  const fix = { browser_lat: state.position ? state.position.lat : null,
    browser_lon: state.position ? state.position.lon : null, browser_heading: state.heading };
  const photoItems = [];
  for (const file of files) {  // the original file object: no canvas, no re-encoding, EXIF intact
    photoItems.push(await queue.add("photo", { ...base, step, blob: file,
      payload: { name: file.name, kind: data.get("kind") || STEPS[step].kind, ...fix } }));
  }
  for (const tr of decided.transitions) {
    await queue.add("transition", { ...base, step: tr.action, payload: { action: tr.action, payload: tr.payload },
      evidenceFrom: tr.evidence ? photoItems.map((i) => i.id) : [] });
  }
  clearCaseView("");
  state.current = null;
  await renderQueue();  // the list shows the new items the moment it is shown
  show("list-view");
  sync();
}

/** A progress report, queued like a step (offline first) and sent with its own UUID; what the server refuses
 * (a lower area with nothing under way, say) waits in the queue with the server's reason. */
async function submitReport(event) {
  event.preventDefault();
  const form = event.target;
  if (form.hidden || form.dataset.caseId !== String(state.current) || !state.currentProps) { return; }
  const data = new FormData(form);
  const text = String(data.get("text") || "").trim();
  const remaining = String(data.get("remaining_m2") || "").trim();
  const badArea = remaining !== "" && !(Number(remaining) >= 0);
  $("report-error").textContent = !text ? word("请填写本期进展。", "Say what was done.")
    : badArea ? word("剩余面积须为不小于 0 的数。", "The area left is a number, 0 or more.") : "";
  if ($("report-error").textContent) { return; }
  const payload = { text };
  if (remaining !== "") { payload.remaining_m2 = Number(remaining); }
  await queue.add("report", { user: (me() || {}).username, caseId: state.current, caseCode: state.currentProps.code,
    step: "progress_report", payload });
  clearCaseView("");
  state.current = null;
  await renderQueue();
  show("list-view");
  sync();
}

/** The form's choices from the server's labels (cached with the config for offline use). */
function fillChoices() {
  const form = $("field-form");
  const labels = getConfig().labels || {};
  const options = (select, names, blank) => {
    const keep = select.value;
    select.replaceChildren(...(blank ? [h("option", { value: "" }, blank)] : []),
      ...Object.keys(names).map((code) => h("option", { value: code }, label(select.dataset.kind, code))));
    select.value = keep;
  };
  form.elements.legal_reason.dataset.kind = "legal_reason";
  options(form.elements.legal_reason, labels.legal_reason || {}, word("依据 —", "ground —"));
  form.elements.period.dataset.kind = "period";
  const periods = Object.fromEntries(Object.entries(labels.period || {}).filter(([code]) => code !== "unknown"));
  options(form.elements.period, periods, word("未确定", "not established"));
  form.elements.kind.dataset.kind = "photo_kind";
  options(form.elements.kind, labels.photo_kind || { panorama: "" }, null);
  const rules = getConfig().field_only_prohibitions || [3, 5, 7];
  $("field-rules").replaceChildren(...rules.map((code) => h("label", {},
    h("input", { type: "checkbox", name: "field_rules", value: String(code) }), ` ${code} ${label("prohibition", String(code))}`)));
}

// ---- start ----------------------------------------------------------------------------------------------
function watchPosition() {
  if (navigator.geolocation) {
    navigator.geolocation.watchPosition((pos) => {
      state.position = { lat: pos.coords.latitude, lon: pos.coords.longitude, accuracy: pos.coords.accuracy };
      showPosition(state.position);
    }, () => {}, { enableHighAccuracy: true, maximumAge: 10000 });
  }
  window.addEventListener("deviceorientationabsolute", (e) => {
    if (e.alpha !== null) { state.heading = (360 - e.alpha) % 360; }
  });
}

function signOut() {
  logout().finally(() => { $("who").textContent = ""; state.cases = []; show("login-view"); });
}

/** The inspector's own password, changed on the phone: the server logs the user out everywhere, so the app asks
 * for a login with the new one (what is queued on the phone stays, and is sent after it). */
async function submitPassword(event) {
  event.preventDefault();
  const data = new FormData(event.target);
  if (data.get("new_password") !== data.get("repeat")) {
    $("password-error").textContent = t("passwordmismatch", "两次输入的新密码不一致");
    return;
  }
  const refused = await changePassword(data.get("current_password"), data.get("new_password"));
  if (refused) { $("password-error").textContent = errorText(refused); return; }
  event.target.reset();
  event.target.hidden = true;
  forget();
  $("who").textContent = "";
  state.cases = [];
  $("login-note").textContent = t("passwordchanged", "密码已修改，请用新密码登录");
  show("login-view");
}

async function enter() {
  $("who").textContent = me() ? me().display_name || me().username : "";
  show("list-view");
  await renderQueue();
  await api("/api/config").then(setConfig).catch(() => {});  // offline: the copy stored last time
  fillChoices();
  setUpPatrol(() => { renderQueue(); sync(); });
  showInbox();
  showMyFindings();
  try {
    await loadCases();
  } catch (err) {
    if (err instanceof Unauthenticated) { signOut(); return; }
    $("empty").hidden = true;
  }
  sync();
  document.body.dataset.ready = "1";
}

function start() {
  translate();
  $("lang").textContent = language() === "en" ? "中文" : "EN";
  showNet();
  window.addEventListener("online", () => sync());
  window.addEventListener("offline", () => showNet());
  setInterval(() => showNet(), 15000);
  $("lang").onclick = () => {
    setLanguage(language() === "zh" ? "en" : "zh");
    translate();
    $("lang").textContent = language() === "en" ? "中文" : "EN";
    showNet();
    renderQueue();
  };
  $("logout").onclick = signOut;
  $("password-open").onclick = () => {
    $("password-form").hidden = !$("password-form").hidden;
    $("password-error").textContent = "";
  };
  $("password-form").onsubmit = submitPassword;
  $("refresh").onclick = () => sync();
  $("sort").onchange = renderCases;
  $("back").onclick = () => { clearCaseView(""); state.current = null; show("list-view"); };
  $("field-form").onsubmit = submitForm;
  $("report-form").onsubmit = submitReport;
  $("field-form").addEventListener("change", (e) => { if (e.target.name === "step" || e.target.name === "period") { showStep(); } });
  $("photo").addEventListener("change", showPreviews);
  $("login-form").onsubmit = async (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    $("login-note").textContent = "";
    if (!(await login(data.get("username"), data.get("password")))) {
      $("login-error").textContent = t("wrongcredentials", "用户名或密码错误");
      return;
    }
    enter();
  };
  if ("serviceWorker" in navigator) { navigator.serviceWorker.register("/field/sw.js", { scope: "/field/" }); }
  watchPosition();
  if (token()) { enter(); } else { show("login-view"); }
}

start();
