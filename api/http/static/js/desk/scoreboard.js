// The township scoreboard (通报): a period's figures per township from /api/scoreboard — the month (月通报), its
// quarter (季核) or its year (年度评估) — commend and criticise marks, the trend of recent months, printable.
import { getJSON } from "../common/api.js";
import { fillPeriodKinds, getConfig, label } from "../common/config.js";
import { t as word } from "../common/lang.js";
import { fill, h, svg } from "../common/dom.js";
import { num, percent, periodOf, thisMonth } from "../common/format.js";

const form = document.getElementById("rl-month");

function flag(t) {
  if (t.commend) { return h("span", { class: "flag-commend" }, word("通报表扬", "commended")); }
  if (t.criticise) { return h("span", { class: "flag-criticise" }, word("通报批评", "criticised")); }
  return "—";
}

function townshipRow(t, rank) {
  return h("tr", { class: t.commend ? "commend" : t.criticise ? "criticise" : null, dataset: { code: t.township_code } },
    h("td", { class: "n" }, String(rank)), h("td", { title: t.township_code }, t.township_name || t.township_code),
    h("td", { class: "n" }, t.new_cases), h("td", { class: "n" }, t.new_increments), h("td", { class: "n" }, t.closed),
    h("td", { class: "n" }, `${num(t.restored_m2)}（${num(t.restored_mu, 3)}）`), h("td", { class: "n" }, t.rectified_stock),
    h("td", { class: "n" }, t.reopened), h("td", { class: "n" }, num(t.remaining_m2)), h("td", { class: "n" }, t.overdue),
    h("td", { class: "n" }, `${t.due} / ${t.met}`), h("td", { class: "n" }, percent(t.on_time_rate)), h("td", {}, flag(t)),
    h("td", { class: "n rl-leads" }, `${t.leads_received} / ${t.leads_checked}`), h("td", { class: "n" }, percent(t.lead_clearance_rate)),
    h("td", { class: "n" }, t.leads_unchecked),
    h("td", { class: "n" }, num(t.abandoned_outstanding_m2)), h("td", { class: "n" }, t.overdue_remedies),
    h("td", { class: "n" }, `${t.patrols_done} / ${t.patrols_required}`));
}

function chart(months) {
  // New increments and closures per month, as two lines: what the county most wants to see move.
  const width = 640;
  const height = 180;
  const pad = 30;
  const top = Math.max(1, ...months.map((m) => Math.max(m.new_increments || 0, m.closed || 0)));
  const x = (i) => pad + (i * (width - 2 * pad)) / Math.max(1, months.length - 1);
  const y = (v) => height - pad - ((v || 0) * (height - 2 * pad)) / top;
  const colours = getConfig().colours;
  const line = (key, colour) => svg("polyline", { points: months.map((m, i) => `${x(i)},${y(m[key])}`).join(" "),
    fill: "none", stroke: colour, "stroke-width": 2 });
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": word("新增增量与办结走势", "new increments and closures") },
    svg("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, stroke: "#999" }),
    line("new_increments", colours.cases.demolish), line("closed", colours.closed),
    ...months.map((m, i) => svg("text", { x: x(i), y: height - 8, "font-size": 11, "text-anchor": "middle" }, m.month)),
    svg("text", { x: pad, y: 14, "font-size": 12, fill: colours.cases.demolish }, `— ${word("新增增量", "new increments")}`),
    svg("text", { x: pad + 110, y: 14, "font-size": 12, fill: colours.closed }, `— ${word("办结", "closed")}`));
}

async function show(month, span) {
  history.replaceState(null, "", `${window.location.pathname}?month=${month}${span === "month" ? "" : `&span=${span}`}`);
  const period = periodOf(month, span);
  const body = document.querySelector("#rl-scoreboard tbody");
  document.getElementById("rl-as-of").textContent = word("加载中…", "Loading…");
  let board;
  try {
    board = await getJSON(`/api/scoreboard?period=${period}`);
    fill(body, board.townships.length ? board.townships.map((t, i) => townshipRow(t, i + 1))
      : h("tr", {}, h("td", { colspan: 16 }, word("本期没有乡镇数据", "No township figures for this period"))));
    const monthly = board.kind === "month";
    document.getElementById("rl-h-leads").textContent = monthly
      ? word("卫片图斑 本月 / 已核查", "Satellite leads this month / checked")
      : word("卫片图斑 期内 / 已核查", "Satellite leads in the period / checked");
    document.getElementById("rl-h-cleared").textContent = monthly ? word("月清率", "Cleared in the month")
      : word("期末核查率", "Checked by the period's end");
    const name = label("report_period", board.kind);
    document.getElementById("rl-as-of").textContent = word(
      `${period} ${name}（${board.months[0]} 至 ${board.months[board.months.length - 1]}；按遏制新增、逾期、按期办理率、拆除复耕排序）`,
      `${period} ${name} (${board.months[0]} to ${board.months[board.months.length - 1]}; ranked by new increments held down, overdue, on-time rate, land restored)`);
    document.body.dataset.loaded = period;
  } catch (err) {
    document.getElementById("rl-as-of").textContent = `${word("出错：", "Error: ")}${err.message}`;
    return;
  }
  const last = board.months[board.months.length - 1];  // the trend: the months up to the period's last so far
  const trend = await getJSON(`/api/scoreboard/trend?month=${last}&months=6`);
  fill(document.getElementById("rl-trend-chart"), chart(trend.months));
  fill(document.querySelector("#rl-trend tbody"), trend.months.map((m) => h("tr", {},
    h("td", {}, m.month), h("td", { class: "n" }, m.new_cases), h("td", { class: "n" }, m.new_increments),
    h("td", { class: "n" }, m.closed), h("td", { class: "n" }, num(m.restored_m2)), h("td", { class: "n" }, num(m.remaining_m2)),
    h("td", { class: "n" }, m.overdue), h("td", { class: "n" }, percent(m.on_time_rate)))));
  document.body.dataset.trend = period;
}

const params = new URLSearchParams(window.location.search);
const month = params.get("month") || thisMonth();
fillPeriodKinds(form.elements.span, params.get("span"));
form.elements.month.value = month;
form.elements.month.max = thisMonth();
form.addEventListener("change", () => {
  if (form.elements.month.value) { show(form.elements.month.value, form.elements.span.value); }
});
document.getElementById("rl-print").addEventListener("click", () => window.print());
show(month, form.elements.span.value);
