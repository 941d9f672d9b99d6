// The side panel: one case in full (numbers, photos with their checks, history) and the decisions an official
// takes at the desk. Its buttons act only on the case it shows: an answer for a case asked for earlier (a slow
// click, then a search) is dropped, never drawn over the newer one.
import { getJSON, postJSON, submissionKey } from "../common/api.js";
import { getConfig, label, labelled } from "../common/config.js";
import { t } from "../common/lang.js";
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
      row(t("状态", "Status"), labelled("status", p.status), p.still_violating ? "" : t("（已不违法）", " (no longer violating)")),
      row(t("时段", "Period"), labelled("period", p.period), p.date_conflict ? t(" ⚠ 日期矛盾", " ⚠ dates conflict") : ""),
      row(t("处置", "Disposition"), labelled("disposition", p.disposition)),
      row(t("八不准", "Prohibitions"), rules ? rules.split(",").map((c) => `${c} ${label("prohibition", c)}`).join(t("；", "; ")) : "—"),
      row(t("占地", "Footprint"), `${num(p.footprint_m2)} m²（${num(p.footprint_mu, 3)} ${t("亩", "mu")}）`),
      row(t("永久基本农田", "Permanent farmland"), h("span", { class: "rl-farmland-m2" }, num(p.farmland_m2)),
        ` m²（${num(p.farmland_mu, 3)} ${t("亩", "mu")}）`),
      row(t("耕地", "Cultivated land"), `${num(p.cultivated_m2)} m²`),
      row(t("截止日后新增", "Built from 2020-07-03"), `${num(p.after_cutoff_m2)} m²`),
      row(t("剩余未整改", "Unrectified"), `${num(p.remaining_m2)} m²`),
      row(t("下一期限", "Next deadline"), p.next_deadline ? `${label("deadline", p.next_deadline_kind)} ${localTime(p.next_deadline)}` : "—",
        p.overdue ? h("b", { class: "rl-error" }, t(" 已逾期", " overdue")) : ""),
      row(t("立案号", "File number"), p.file_number || "—"),
      // Worded by the server (api.cases.workflow.upper_review_words), as the exports' 上级审核 column is.
      p.upper_review_words ? row(t("上级审核", "Review above the county"), t(p.upper_review_words.zh, p.upper_review_words.en)) : [],
      row(t("来源", "Origin"), labelled("origin", p.origin), leadCodes(p))));
}

/** The satellite leads (卫片图斑) a case answers: all of them in the panel, the first in a popup. */
function leadCodes(p) {
  const codes = p.lead_codes || (p.lead_code ? [p.lead_code] : []);
  return codes.length ? ` · ${t("卫片图斑", "satellite leads")} ${codes.join(t("、", ", "))}` : "";
}

// What an official decides at the desk. Field steps (verify, record demolition, restore, re-inspect) need the
// inspector on site with photos: they are in the field app.
const DESK_ACTIONS = ["assign", "serve_notice", "start_demolition", "classify", "rectify", "submit", "pass_review",
  "return", "upper_pass", "upper_return", "file", "decide_period"];

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
      const select = h("select", { "data-for": "assignee", "aria-label": t("巡查员", "Inspector") },
        h("option", { value: "" }, t("乡镇（暂不指定巡查员）", "the township (no inspector yet)")));
      inspectorsOf(p.township_code).then((list) => select.append(...list.map((u) =>
        h("option", { value: u.username }, u.display_name || u.username))));
      return select;
    }
    if (action === "classify") {
      // On permanent basic farmland, and a house built from the cutoff on, the house is demolished: a decision
      // keeping it is not offered (the server refuses it too, naming the reason).
      const config = getConfig();
      const onFarmland = String(p.rules || "").split(",").includes(String(config.permanent_farmland_prohibition));
      const neverKept = onFarmland || config.periods_never_kept.includes(p.period);
      const decisions = Object.entries(config.labels.decision)
        .filter(([code]) => !(neverKept && config.decisions_keeping_the_house.includes(code)));
      return h("select", { "data-for": "decision", "aria-label": t("处置决定", "Decision") },
        ...decisions.map(([code, name]) => h("option", { value: code }, name)));
    }
    if (action === "upper_pass" || action === "upper_return") {
      // The county records the word of the level the case waits for (the city, then the province), from that
      // level's document, whose number the history keeps.
      const level = h("select", { "data-for": "level", "aria-label": t("审核层级", "Review level") },
        h("option", { value: p.awaiting_review }, label("review_level", p.awaiting_review)));
      const document = h("input", { "data-for": "document", maxlength: 60, size: 14,
        placeholder: t("审核意见文号（必填）", "document number (required)") });
      return action === "upper_pass" ? h("span", {}, level, " ", document) : h("span", {}, level, " ", document, " ",
        h("input", { "data-for": "reason", placeholder: t("退回理由（必填）", "reason for return (required)"), size: 14 }));
    }
    if (action === "return") { return h("input", { "data-for": "reason", placeholder: t("退回理由（必填）", "reason for return (required)"), size: 18 }); }
    if (action === "file") { return h("input", { "data-for": "file_number", placeholder: t("立案号（必填）", "file number (required)"), size: 18 }); }
    if (action === "decide_period") {
      return h("span", {}, h("select", { "data-for": "approve", "aria-label": t("决定", "Decision") },
        h("option", { value: "true" }, t("同意变更", "approve")), h("option", { value: "false" }, t("不同意", "refuse"))),
      h("input", { "data-for": "reason", placeholder: t("理由（必填）", "reason (required)"), size: 14 }));
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
      box.append(" ", h("button", { type: "button", "data-action": action, on: { click: sender(p,
        `/api/cases/${p.id}/transitions`, error, () => ({ action, version: p.version, payload: payloadOf(box) })) } },
      labelled("action", action)));
      return box;
    });
    return h("div", { class: "rl-actions" }, h("h4", {}, t("处理", "Actions")), ...rows, error);
  }

  /** Post from a small form; on success the case is drawn again (its history, deadlines and figures moved). A
   * second click while the first is on its way is ignored, and a click again after a failure sends the same
   * submission key: a report, a comment or a step whose answer was lost is not filed twice. */
  function sender(p, path, error, body) {
    let sending = false;
    const key = submissionKey();  // one per form as drawn: the panel is drawn anew after a success
    return async () => {
      if (sending) { return; }
      sending = true;
      error.textContent = "";
      try {
        await postJSON(path, { ...body(), client_uuid: key });
      } catch (err) {
        error.textContent = err.message;
        sending = false;
        return;
      }
      show(p.id);
      onChanged();
    };
  }

  /** Staged progress reports (137: every 7 days until finished), and the form for one where the user files them:
   * what was done, and — while a demolition or rectification is under way — how much is left (the server says
   * why a lower figure is refused elsewhere). */
  function progressReports(p) {
    const reports = p.progress_reports || [];
    const list = h("ol", { id: "rl-reports" }, ...reports.map((r) => h("li", {},
      `${localTime(r.at)} ${r.author_name}：${r.text}`,
      r.remaining_m2 !== null && r.remaining_m2 !== undefined ? t(`（剩余未整改 ${num(r.remaining_m2)} m²）`, ` (unrectified ${num(r.remaining_m2)} m²)`) : "")));
    const head = h("h4", {}, t(`进展报告（${reports.length}）`, `Progress reports (${reports.length})`));
    if (!p.may_report) { return h("div", {}, head, list); }
    const text = h("textarea", { id: "rl-report-text", rows: 2, cols: 28, maxlength: 5000,
      placeholder: t("本期进展（必填）", "what was done (required)") });
    const remaining = h("input", { id: "rl-report-remaining", type: "number", min: 0, step: "0.01", size: 8,
      "aria-label": t("剩余未整改面积 m²（可不填）", "remaining unrectified m² (optional)"),
      placeholder: t("剩余 m²（可不填）", "left, m² (optional)") });
    const error = h("div", { id: "rl-report-error", class: "rl-error", role: "alert" });
    const send = sender(p, `/api/cases/${p.id}/progress-reports`, error, () => {
      const body = { text: text.value.trim() };
      if (remaining.value.trim() !== "") { body.remaining_m2 = Number(remaining.value); }
      return body;
    });
    return h("div", {}, head, list, text, " ", remaining, " ",
      h("button", { type: "button", id: "rl-report-send", on: { click: send } }, t("提交进展报告", "File the report")), error);
  }

  /** Comments: anyone who sees the case may say something on it (kept in its history). */
  function comments(p) {
    const all = p.comments || [];
    const text = h("input", { id: "rl-comment-text", size: 28, maxlength: 5000, placeholder: t("评论", "comment") });
    const error = h("div", { id: "rl-comment-error", class: "rl-error", role: "alert" });
    return h("div", {}, h("h4", {}, t(`评论（${all.length}）`, `Comments (${all.length})`)),
      h("ol", { id: "rl-comments" }, ...all.map((c) => h("li", {}, `${localTime(c.at)} ${c.author_name}：${c.text}`))),
      text, " ", h("button", { type: "button", id: "rl-comment-send",
        on: { click: sender(p, `/api/cases/${p.id}/comments`, error, () => ({ text: text.value.trim() })) } }, t("发表评论", "Comment")),
      error);
  }

  function periodRequest(p) {
    const r = p.period_request;
    if (!r) { return null; }
    return h("p", {}, t(`待县级决定：${label("actor", r.by)} 申请把时段改为「${label("period", r.period)}」，理由：${r.reason}；证据：`,
      `Awaiting the county: ${label("actor", r.by)} asks to change the period to "${label("period", r.period)}", because: ${r.reason}; evidence: `),
      ...(r.evidence.length
        ? r.evidence.flatMap((id) => [h("a", { href: `/api/photos/${id}/original`, target: "_blank", rel: "noopener" }, `#${id}`), " "])
        : [h("span", { class: "rl-no-evidence" }, t("无照片（由复测的数据变化提出，请核对数据）", "none (filed by a re-scan from changed data: check the data)"))]));
  }

  function photo(ph) {
    if (ph.lat !== null && ph.lat !== undefined) { layers.photoMarker(ph); }
    const link = h("a", { href: ph.original_url, target: "_blank", rel: "noopener" },
      ph.media_type === "application/pdf" ? t("PDF 证明材料", "PDF document") : h("img", { class: "rl-thumb", src: ph.thumbnail_url, alt: label("photo_kind", ph.kind) }));
    return h("div", { class: "rl-photo" }, link, " ", label("photo_kind", ph.kind), " · ", localTime(ph.taken_at),
      ph.bearing_deg !== null ? ` · ${t("方位", "bearing")} ${num(ph.bearing_deg, 0)}°${ph.bearing_ref || ""}` : "",
      ph.checks.length ? h("div", { class: "rl-checks" }, ...ph.checks.map((c) => h("div", {}, c)))
        : ph.pixels_checked === false ? ` · ${label("photo_state", "being_checked")}` : " ✓");
  }

  /** The house on every imagery pass: a slider from the earliest pass to the latest, drawing the chosen one. */
  function epochs(p, mine) {
    const box = h("div", { id: "rl-epochs" });
    getJSON(`/api/cases/${p.id}/epochs`).then((answer) => {
      if (mine !== request || !answer.epochs.length) { return; }
      const list = answer.epochs;
      const said = h("span", { id: "rl-epoch-said", role: "status" });
      const slider = h("input", { type: "range", min: 0, max: list.length - 1, step: 1, value: list.length - 1,
        "aria-label": t("影像期次", "imagery pass"), id: "rl-epoch-slider" });
      const draw = () => {
        const e = list[Number(slider.value)];
        layers.epoch.clearLayers();
        layers.epoch.addData(e.features);
        said.textContent = `${e.imaged_on}：` + (e.present ? t(`房屋在，${num(e.area_m2)} m²`, `the house is there, ${num(e.area_m2)} m²`)
          : t("无房屋", "no house"));
        box.dataset.shown = e.imaged_on;
      };
      slider.addEventListener("input", draw);
      fill(box, h("h4", {}, t(`各期影像（${list.length}）`, `Imagery passes (${list.length})`)),
        h("div", {}, list[0].imaged_on, " ", slider, " ", list[list.length - 1].imaged_on), said);
      draw();
    }).catch(() => {});
    return box;
  }

  function show(id) {
    const mine = ++request;
    return caseDetail(id).then((p) => {
      if (mine !== request) { return; }
      layers.evidence.clearLayers();
      layers.epoch.clearLayers();
      const close = h("a", { href: "#", id: "rl-close", "aria-label": t("关闭", "close"), on: { click: (e) => {
        e.preventDefault(); el.hidden = true; layers.evidence.clearLayers(); layers.highlight.clearLayers();
        layers.epoch.clearLayers();
      } } }, "✕");
      fill(el, h("div", {}, h("b", {}, p.code), " ", close), popupContent(p), periodRequest(p), epochs(p, mine),
        h("h4", {}, t(`照片与材料（${p.photos.length}）`, `Photos and documents (${p.photos.length})`)), ...p.photos.map(photo), actions(p),
        progressReports(p), comments(p),
        h("h4", {}, t("记录", "History")),
        h("ol", { id: "rl-history" }, ...p.history.map((e) => h("li", {}, `${localTime(e.at)} ${label("actor", e.actor)} ${labelled("action", e.action)}`,
          e.note ? ` — ${e.note}` : ""))));
      el.hidden = false;
      el.dataset.caseId = String(p.id);
      delete el.dataset.recordId;
      el.dataset.status = p.status;
    }).catch((err) => {
      if (mine === request) { fill(el, h("p", { class: "rl-error" }, err.message)); el.hidden = false; }
    });
  }

  return { show, user };
}
