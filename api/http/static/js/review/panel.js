// The side panel: one case in full (numbers, photos with their checks, history) and the decisions an official
// takes at the desk. Its buttons act only on the case it shows: an answer for a case asked for earlier (a slow
// click, then a search) is dropped, never drawn over the newer one.
import { getJSON, postJSON } from "../common/api.js";
import { getConfig, label, labelled } from "../common/config.js";
import { fill, h } from "../common/dom.js";
import { localTime, num } from "../common/format.js";

export function caseDetail(id) {
  return getJSON(`/api/cases/${id}`).then((f) => f.properties);
}

/** The case's numbers, as in a popup and at the top of the panel. */
export function popupContent(p) {
  const rules = [p.rules, p.field_rules].filter(Boolean).join(",");
  const row = (name, ...value) => [h("dt", {}, name), h("dd", {}, ...value)];
  return h("div", { class: "rl-popup" }, h("b", {}, p.code),
    h("dl", { class: "rl-facts" },
      row("状态", labelled("status", p.status), p.still_violating ? "" : "（已不违法）"),
      row("时段", labelled("period", p.period), p.date_conflict ? " ⚠ 日期矛盾" : ""),
      row("处置", labelled("disposition", p.disposition)),
      row("八不准", rules ? rules.split(",").map((c) => `${c} ${label("prohibition", c)}`).join("；") : "—"),
      row("占地", `${num(p.footprint_m2)} m²（${num(p.footprint_mu, 3)} 亩）`),
      row("永久基本农田", h("span", { class: "rl-farmland-m2" }, num(p.farmland_m2)), ` m²（${num(p.farmland_mu, 3)} 亩）`),
      row("耕地", `${num(p.cultivated_m2)} m²`),
      row("截止日后新增", `${num(p.after_cutoff_m2)} m²`),
      row("剩余未整改", `${num(p.remaining_m2)} m²`),
      row("下一期限", p.next_deadline ? `${label("deadline", p.next_deadline_kind)} ${localTime(p.next_deadline)}` : "—",
        p.overdue ? h("b", { class: "rl-error" }, " 已逾期") : ""),
      row("立案号", p.file_number || "—")));
}

// What an official decides at the desk. Field steps (verify, record demolition, restore, re-inspect) need the
// inspector on site with photos: they are in the field app.
const DESK_ACTIONS = ["assign", "serve_notice", "start_demolition", "classify", "rectify", "submit", "pass_review",
  "return", "file", "decide_period"];

export function createPanel(el, { layers, user, onChanged }) {
  let request = 0;
  let inspectors = null;

  function inspectorsOf(township) {
    inspectors = inspectors || getJSON("/api/users?role=inspector").catch(() => []);
    return inspectors.then((all) => all.filter((u) => u.township_code === township));
  }

  function field(action, p) {
    // Pick lists where there is a choice (never free text for a person), a text box where a reason is needed.
    if (action === "assign") {
      const select = h("select", { "data-for": "assignee", "aria-label": "巡查员" },
        h("option", { value: "" }, "乡镇（暂不指定巡查员）"));
      inspectorsOf(p.township_code).then((list) => select.append(...list.map((u) =>
        h("option", { value: u.username }, u.display_name || u.username))));
      return select;
    }
    if (action === "classify") {
      return h("select", { "data-for": "decision", "aria-label": "处置决定" },
        ...Object.entries(getConfig().labels.decision).map(([code, name]) => h("option", { value: code }, name)));
    }
    if (action === "return") { return h("input", { "data-for": "reason", placeholder: "退回理由（必填）", size: 18 }); }
    if (action === "file") { return h("input", { "data-for": "file_number", placeholder: "立案号（必填）", size: 18 }); }
    if (action === "decide_period") {
      return h("span", {}, h("select", { "data-for": "approve", "aria-label": "决定" },
        h("option", { value: "true" }, "同意变更"), h("option", { value: "false" }, "不同意")),
      h("input", { "data-for": "reason", placeholder: "理由（必填）", size: 14 }));
    }
    return null;
  }

  function payloadOf(box) {
    const payload = {};
    for (const input of box.querySelectorAll("[data-for]")) {
      const value = input.value.trim();
      if (!value) { continue; }
      payload[input.dataset.for] = input.dataset.for === "approve" ? value === "true" : value;
    }
    return payload;
  }

  function actions(p) {
    const names = (p.allowed_actions || []).filter((a) => DESK_ACTIONS.includes(a));
    if (!names.length) { return null; }
    const error = h("div", { id: "rl-action-error", class: "rl-error", role: "alert" });
    const rows = names.map((action) => {
      const box = h("div", {}, field(action, p));
      box.append(" ", h("button", { type: "button", "data-action": action, on: { click: async () => {
        error.textContent = "";
        try {
          await postJSON(`/api/cases/${p.id}/transitions`, { action, version: p.version, payload: payloadOf(box) });
        } catch (err) {
          error.textContent = err.message;
          return;
        }
        show(p.id);
        onChanged();
      } } }, `${label("action", action)} ${action}`));
      return box;
    });
    return h("div", { class: "rl-actions" }, h("h4", {}, "处理"), ...rows, error);
  }

  function periodRequest(p) {
    const r = p.period_request;
    if (!r) { return null; }
    return h("p", {}, `待县级决定：${r.by} 申请把时段改为「${label("period", r.period)}」，理由：${r.reason}；证据：`,
      ...r.evidence.flatMap((id) => [h("a", { href: `/api/photos/${id}/original`, target: "_blank", rel: "noopener" }, `#${id}`), " "]));
  }

  function photo(ph) {
    if (ph.lat !== null && ph.lat !== undefined) { layers.photoMarker(ph); }
    const link = h("a", { href: ph.original_url, target: "_blank", rel: "noopener" },
      ph.media_type === "application/pdf" ? "PDF 证明材料" : h("img", { class: "rl-thumb", src: ph.thumbnail_url, alt: label("photo_kind", ph.kind) }));
    return h("div", { class: "rl-photo" }, link, " ", label("photo_kind", ph.kind), " · ", localTime(ph.taken_at),
      ph.bearing_deg !== null ? ` · 方位 ${num(ph.bearing_deg, 0)}°${ph.bearing_ref || ""}` : "",
      ph.checks.length ? h("div", { class: "rl-checks" }, ...ph.checks.map((c) => h("div", {}, c))) : " ✓");
  }

  function show(id) {
    const mine = ++request;
    return caseDetail(id).then((p) => {
      if (mine !== request) { return; }
      layers.evidence.clearLayers();
      const close = h("a", { href: "#", id: "rl-close", "aria-label": "关闭", on: { click: (e) => {
        e.preventDefault(); el.hidden = true; layers.evidence.clearLayers(); layers.highlight.clearLayers();
      } } }, "✕");
      fill(el, h("div", {}, h("b", {}, p.code), " ", close), popupContent(p), periodRequest(p),
        h("h4", {}, `照片与材料（${p.photos.length}）`), ...p.photos.map(photo), actions(p),
        h("h4", {}, "记录 history"),
        h("ol", {}, ...p.history.map((e) => h("li", {}, `${localTime(e.at)} ${e.actor} ${label("action", e.action)} ${e.action}`,
          e.note ? ` — ${e.note}` : ""))));
      el.hidden = false;
      el.dataset.caseId = String(p.id);
      el.dataset.status = p.status;
    }).catch((err) => {
      if (mine === request) { fill(el, h("p", { class: "rl-error" }, err.message)); el.hidden = false; }
    });
  }

  return { show, user };
}
