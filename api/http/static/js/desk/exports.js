// Exports: ask for a month, or its quarter (季核) or year (年度评估) (and a township, for the county), watch its
// progress, download its files; earlier exports are listed with theirs.
import { getJSON, postJSON } from "../common/api.js";
import { t } from "../common/lang.js";
import { fill, h } from "../common/dom.js";
import { fillPeriodKinds } from "../common/config.js";
import { localTime, periodOf, thisMonth } from "../common/format.js";

const pageData = JSON.parse(document.getElementById("rl-page").textContent);
const form = document.getElementById("rl-export");
const STATUS = { queued: t("排队中", "queued"), running: t("生成中", "running"), done: t("已完成", "done"),
  failed: t("失败", "failed") };
let polling = null;

function jobRow(job) {
  const files = job.files.map((name) => h("a", { href: `/api/exports/${job.id}/files/${encodeURIComponent(name)}`,
    download: name }, name));
  return h("tr", { dataset: { id: job.id, status: job.status } },
    h("td", { class: "n" }, job.id), h("td", {}, job.month), h("td", {}, job.township || t("全县", "whole county")),
    h("td", {}, localTime(job.created_at)), h("td", {}, STATUS[job.status] || job.status),
    h("td", {}, job.status === "failed" ? h("span", { class: "err" }, job.error || "")
      : h("progress", { max: 1, value: job.progress || 0 })),
    h("td", {}, files.length ? files.flatMap((a) => [a, " "]) : "—"));
}

async function refresh() {
  const jobs = await getJSON("/api/exports");
  fill(document.querySelector("#rl-exports tbody"), jobs.length ? jobs.map(jobRow)
    : h("tr", {}, h("td", { colspan: 7 }, t("还没有导出记录", "No export yet"))));
  const busy = jobs.some((j) => j.status === "queued" || j.status === "running");
  clearTimeout(polling);
  if (busy) { polling = setTimeout(refresh, 1000); }
  document.body.dataset.loaded = String(Date.now());
}

fillPeriodKinds(form.elements.span, "month");
form.elements.month.value = thisMonth();
form.elements.month.max = thisMonth();
form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const error = document.getElementById("rl-export-error");
  error.textContent = "";
  const township = form.elements.township ? form.elements.township.value || null : pageData.user.township_code;
  try {
    await postJSON("/api/exports", { period: periodOf(form.elements.month.value, form.elements.span.value), township });
  } catch (err) {
    error.textContent = err.message;
  }
  refresh();
});
refresh();
