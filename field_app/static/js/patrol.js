// Patrols (巡田): start, walk (every GPS fix kept on the phone, so a killed tab loses nothing), note findings on
// the way, end. The patrol and its findings are queued together — the patrol first, so the server can tie the
// findings to it — then the findings' photos (kept in IndexedDB from the moment they are taken, held until the
// patrol ends), sent when the server answers; their UUIDs make a resend a no-op. Also the chief's inbox:
// what each of my posts answers for.
import { h } from "/static/js/common/dom.js";
import { api, me } from "./api.js";
import { getConfig, label, localTime, t } from "./i18n.js";
import * as queue from "./queue.js";

const KEY = "redline.patrol";
const $ = (id) => document.getElementById(id);
let watch = null;

function active() { return JSON.parse(localStorage.getItem(KEY) || "null"); }
function save(patrol) { localStorage.setItem(KEY, JSON.stringify(patrol)); render(); }

function metres(points) {
  let total = 0;
  for (let i = 1; i < points.length; i += 1) {
    total += L.latLng(points[i - 1][1], points[i - 1][0]).distanceTo(L.latLng(points[i][1], points[i][0]));  // eslint-disable-line no-undef
  }
  return total;
}

function addFix(pos) {
  const patrol = active();
  if (!patrol) { return; }
  const fix = [pos.coords.longitude, pos.coords.latitude];
  const last = patrol.points[patrol.points.length - 1];
  if (last && last[0] === fix[0] && last[1] === fix[1]) { return; }
  patrol.points.push(fix);
  save(patrol);
}

function follow() {
  if (watch === null && navigator.geolocation) {
    watch = navigator.geolocation.watchPosition(addFix, () => {}, { enableHighAccuracy: true, maximumAge: 0 });
  }
}

function start() {
  save({ id: crypto.randomUUID(), started_at: new Date().toISOString(), points: [], findings: [] });
  follow();
}

/** One millisecond after `iso`: a finding's photo is sent right after its finding. */
function justAfter(iso) { return new Date(Date.parse(iso) + 1).toISOString(); }

async function addFinding(form, onQueued) {
  const patrol = active();
  const here = patrol && patrol.points[patrol.points.length - 1];
  if (!here) { $("patrol-error").textContent = t("nofix", "尚无定位，请稍候"); return; }
  const finding = { id: crypto.randomUUID(), kind: form.elements.kind.value, cause: form.elements.cause.value,
    note: form.elements.note.value.trim(), lon: here[0], lat: here[1], at: new Date().toISOString(), photos: [] };
  const file = form.elements.photo.files[0];
  if (file) {  // the original file into IndexedDB now (never into localStorage), held until the patrol ends
    const item = await queue.add("finding_photo", { user: (me() || {}).username, created: justAfter(finding.at), held: true,
      blob: file, payload: { finding_uuid: finding.id, kind: "finding", name: file.name } });
    finding.photos.push(item.id);
  }
  patrol.findings.push(finding);
  form.reset();
  $("patrol-error").textContent = "";
  save(patrol);
  if (file) { onQueued(); }
}

async function end(onQueued) {
  const patrol = active();
  if (!patrol) { return; }
  if (patrol.points.length < 2) { $("patrol-error").textContent = t("shorttrack", "轨迹不足两个定位点，请走动后再结束"); return; }
  const user = (me() || {}).username;
  // The patrol first (dated from its start), then its findings in the order found.
  await queue.add("patrol", { user, id: patrol.id, created: patrol.started_at, payload: {
    started_at: patrol.started_at, ended_at: new Date().toISOString(), points: patrol.points } });
  for (const f of patrol.findings) {
    await queue.add("finding", { user, id: f.id, created: f.at, payload: { patrol_uuid: patrol.id, kind: f.kind,
      cause: f.cause, note: f.note || null, lat: f.lat, lon: f.lon, at: f.at } });
  }
  await queue.release(patrol.findings.flatMap((f) => f.photos || []));
  localStorage.removeItem(KEY);
  if (watch !== null) { navigator.geolocation.clearWatch(watch); watch = null; }
  render();
  onQueued();
}

function render() {
  const patrol = active();
  $("patrol-start").hidden = Boolean(patrol);
  $("patrol-active").hidden = !patrol;
  if (!patrol) { document.body.dataset.patrolFixes = ""; return; }
  $("patrol-status").textContent = `${t("patrolling", "巡田中")} · ${patrol.points.length} ${t("fixes", "个定位点")} · `
    + `${Math.round(metres(patrol.points))} m · ${patrol.findings.length} ${t("findingsn", "条发现")}`;
  $("patrol-findings").replaceChildren(...patrol.findings.map((f) => h("li", {}, `${label("finding_kind", f.kind)}`,
    f.note ? ` · ${f.note}` : "", (f.photos || []).length ? ` · ${t("photo", "照片")} ${f.photos.length}` : "")));
  document.body.dataset.patrolFixes = String(patrol.points.length);
}

function options(select, names) {
  select.replaceChildren(...Object.entries(names || {}).map(([code, name]) => h("option", { value: code }, name || code)));
}

/** The chief's inbox: one line per post (area, open and overdue cases, open abandoned land, patrols). */
export async function showInbox() {
  try {
    const answer = await api("/api/chief/inbox");
    $("inbox").replaceChildren(...answer.posts.map((p) => h("li", { dataset: { level: p.level, area: p.area_code } },
      h("b", {}, `${p.level_name} · ${p.area_name}`),
      ` · ${t("opencases", "在办案件")} ${p.open_cases}（${t("overdue", "逾期")} ${p.overdue_cases}）`,
      ` · ${t("openland", "抛荒待整治")} ${p.open_abandoned}`,
      ` · ${t("tohandle", "待处理的巡田发现")} ${p.findings_to_handle}`,
      ` · ${t("patrols", "本月巡田")} ${p.patrols_done}/${p.patrols_required}`)));
    $("inbox-section").hidden = answer.posts.length === 0;
  } catch { /* offline: the inbox shows what it showed */ }
}

/** What became of each of my findings of the last 30 days: its outcome, its case, and the last word on it (handled,
 * sent back by the county, the footprint a survey or a pass brought). Told once when sent, it changes later. */
export async function showMyFindings() {
  try {
    const mine = await api("/api/findings/mine");
    $("my-findings").replaceChildren(...mine.map((f) => {
      const last = f.handlings[f.handlings.length - 1];
      return h("li", { dataset: { uuid: f.client_uuid, outcome: f.outcome } },
        `${localTime(f.at)} · ${label("finding_kind", f.kind)} · `, h("b", {}, label("finding_outcome", f.outcome)),
        f.case_code ? ` · ${f.case_code}` : "", last ? ` · ${label("finding_action", last.action)}：${last.note}` : "");
    }));
    $("my-findings-section").hidden = mine.length === 0;
  } catch { /* offline: the list shows what it showed */ }
}

export function setUpPatrol(onQueued) {
  const labels = getConfig().labels || {};
  options($("finding-form").elements.kind, labels.finding_kind);
  options($("finding-form").elements.cause, labels.cause);
  $("patrol-start").onclick = start;
  $("patrol-end").onclick = () => end(onQueued);
  $("finding-form").onsubmit = (e) => { e.preventDefault(); addFinding(e.target, onQueued); };
  if (active()) { follow(); }
  render();
}
