// 田长制 on the desk: my areas (the chief's inbox), the chiefs in post, and — for admins — naming a chief from
// pick lists (a person is never typed; a grid cell by its code).
import { getJSON, postJSON } from "../common/api.js";
import { getConfig, label } from "../common/config.js";
import { fill, h } from "../common/dom.js";
import { localTime } from "../common/format.js";
import { t } from "../common/lang.js";

const pageData = JSON.parse(document.getElementById("rl-page").textContent);
const form = document.getElementById("rl-chief");
const levels = getConfig().levels;

/** An area's name; the county's in the user's language (the server names it 全县). */
function areaName(post) {
  return post.level === levels.county ? t("全县", "the county") : post.area_name;
}

async function showInbox() {
  const answer = await getJSON("/api/chief/inbox");
  fill(document.querySelector("#rl-inbox tbody"), answer.posts.length ? answer.posts.map((p) => h("tr",
    { dataset: { level: p.level, area: p.area_code } },
    h("td", {}, label("chief_level", p.level)), h("td", { title: p.area_code }, areaName(p)), h("td", { class: "n" }, p.open_cases),
    h("td", { class: "n" }, p.overdue_cases), h("td", { class: "n" }, p.open_abandoned),
    h("td", { class: "n" }, p.overdue_remedies), h("td", { class: "n" }, p.findings_to_handle),
    h("td", { class: "n" }, `${p.patrols_done} / ${p.patrols_required}`)))
    : h("tr", {}, h("td", { colspan: 8 }, t("您不是任何区域的田长", "You are not a field chief of any area"))));
}

/** Each handling and reopening of a finding, oldest first: what, by whom, when, the note. */
function handlings(f) {
  if (!f.handlings.length) { return null; }
  return h("ol", { class: "handlings" }, ...f.handlings.map((e) => h("li", { dataset: { action: e.action } },
    `${label("finding_action", e.action)}：${e.note}（${e.by} ${localTime(e.at)}）`)));
}

/** A note and a button that posts it (`path`), then shows the lists again; a refusal is shown in place. */
function noteAndButton(path, placeholder, text, name) {
  const note = h("input", { name: "note", size: 16, maxlength: 2000, placeholder });
  const status = h("span", { role: "status" });
  const button = h("button", { type: "button", name }, text);
  button.addEventListener("click", async () => {
    try {
      await postJSON(path, { note: note.value });
      await Promise.all([showFindings(), showInbox()]);
    } catch (err) {
      status.textContent = err.message;
    }
  });
  return [note, " ", button, " ", status];
}

/** What was done about a finding: each handling and reopening; for the township and the county, a note and a
 * button to say it is handled; for the county, one to send a handled finding back (the server decides who may:
 * `may_handle`, `may_reopen`). */
function handled(f) {
  const path = `/api/findings/${encodeURIComponent(f.client_uuid)}`;
  const state = f.handled_at ? t("已处理", "Handled") : t("待处理", "To handle");
  const action = f.may_handle ? noteAndButton(`${path}/handle`, t("做了什么", "what was done"), t("处理完毕", "Handled"), "handle")
    : f.may_reopen ? noteAndButton(`${path}/reopen`, t("退回原因", "why it goes back"), t("退回重办", "Send back"), "reopen")
      : [];
  return h("td", { class: f.handled_at ? "handled" : null }, state, handlings(f), ...action);
}

/** Patrol findings left to a person (noted for the township, a building no footprint shows yet, a closed case's
 * house built on again) until handled, and those handled lately: what, where, by whom, the case it points at, its
 * photos and what was done. */
async function showFindings() {
  const findings = await getJSON("/api/findings");
  fill(document.querySelector("#rl-findings tbody"), findings.length ? findings.map((f) => h("tr",
    { dataset: { uuid: f.client_uuid, outcome: f.outcome, handled: f.handled_at ? "yes" : "no" } },
    h("td", {}, localTime(f.at)), h("td", {}, label("finding_kind", f.kind)),
    h("td", {}, label("finding_outcome", f.outcome)),
    h("td", { title: `${f.lat.toFixed(6)}, ${f.lon.toFixed(6)}` }, f.grid_code || f.village_code || f.township_code || "—"),
    h("td", {}, f.by), h("td", {}, f.note || ""),
    h("td", {}, f.case_code ? h("a", { href: `/map?code=${encodeURIComponent(f.case_code)}` }, f.case_code) : ""),
    h("td", {}, ...f.photos.flatMap((id) => [h("a", { href: `/api/land-photos/${id}/original`, target: "_blank", rel: "noopener" },
      h("img", { src: `/api/land-photos/${id}/thumbnail`, alt: `#${id}`, height: 48 })), " "])), handled(f)))
    : h("tr", {}, h("td", { colspan: 9 }, t("没有待处理的巡田发现", "No findings to handle"))));
  document.body.dataset.findings = String(Date.now());
}

async function showChiefs() {
  const chiefs = await getJSON("/api/chiefs");
  // A vacant post (the county's or a township's, nobody holding it) is listed to be filled, not left out.
  fill(document.querySelector("#rl-chiefs tbody"), chiefs.length ? chiefs.map((c) => h("tr",
    { dataset: { level: c.level, area: c.area_code }, class: c.vacant ? "vacant" : null },
    h("td", {}, label("chief_level", c.level)), h("td", {}, areaName(c)), h("td", {}, c.area_code),
    h("td", {}, c.vacant ? t("空缺", "Vacant") : c.display_name || c.username),
    h("td", {}, c.vacant ? "" : localTime(c.since))))
    : h("tr", {}, h("td", { colspan: 5 }, t("尚未任命田长", "No field chief named yet"))));
  document.body.dataset.loaded = String(Date.now());
}

/** Per township, how far the village chiefs reach: the farmland of the villages no chief answers for, named. */
async function showCoverage() {
  const rows = await getJSON("/api/chiefs/coverage");
  fill(document.querySelector("#rl-coverage tbody"), rows.length ? rows.map((r) => h("tr",
    { dataset: { township: r.township_code }, class: r.uncovered.length ? "vacant" : null },
    h("td", { title: r.township_code }, r.township_name), h("td", { class: "n" }, r.villages_with_farmland),
    h("td", { class: "n" }, r.villages_with_chief), h("td", { class: "n" }, r.uncovered_mu.toFixed(2)),
    h("td", {}, r.uncovered.map((v) => `${v.name} ${v.code}`).join(t("、", ", ")))))
    : h("tr", {}, h("td", { colspan: 5 }, t("尚未导入村界", "No village boundaries imported"))));
  document.body.dataset.coverage = String(Date.now());
}

function areasOf(level) {
  if (level === levels.county) { return [{ code: pageData.county, name: t("全县", "the county") }]; }
  if (level === levels.grid) { return []; }
  return pageData.areas.filter((a) => a.level === level);
}

async function setUpForm() {
  const users = await getJSON("/api/users");
  fill(form.elements.username, users.map((u) => h("option", { value: u.username }, u.display_name || u.username)));
  const pick = () => {
    const level = form.elements.level.value;
    fill(form.elements.area_code, areasOf(level).map((a) => h("option", { value: a.code }, `${a.name} ${a.code}`)));
    form.elements.area_code.disabled = level === levels.grid;
    form.elements.grid.disabled = level !== levels.grid;
  };
  form.elements.level.addEventListener("change", pick);
  pick();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const out = document.getElementById("rl-chief-result");
    const level = form.elements.level.value;
    try {
      await postJSON("/api/chiefs", { level, username: form.elements.username.value,
        area_code: level === levels.grid ? form.elements.grid.value.trim() : form.elements.area_code.value });
      out.textContent = t("已任命", "Named");
      await Promise.all([showChiefs(), showInbox(), showCoverage()]);
    } catch (err) {
      out.textContent = err.message;
    }
  });
}

showInbox();
showFindings();
showChiefs();
showCoverage();
if (form) { setUpForm(); }
