// The case list: the map's filters plus assignee and overdue, sorted and paged by the server (100 000 cases
// page as fast as 100), downloads of the filtered list, and bulk assignment from pick lists.
import { getJSON, postJSON, query, submissionKey } from "../common/api.js";
import { fillVillages } from "../common/areas.js";
import { label } from "../common/config.js";
import { t } from "../common/lang.js";
import { fill, h } from "../common/dom.js";
import { localTime, num } from "../common/format.js";

const pageData = JSON.parse(document.getElementById("rl-page").textContent);
const areaName = Object.fromEntries(pageData.areas.map((a) => [a.code, a.name]));
const FILTERS = ["township", "village", "status", "period", "disposition", "rule", "overdue", "assignee", "awaiting", "search"];
const form = document.getElementById("rl-filters");
const body = document.querySelector("#rl-cases tbody");
const bulk = document.getElementById("rl-bulk");
const state = { sort: "code", offset: 0, total: 0, selected: new Set(), generation: 0 };

function filters() {
  const values = {};
  for (const k of FILTERS) { values[k] = form.elements[k].value.trim(); }
  return values;
}

function villagesOf(township) { fillVillages(form.elements.village, pageData.areas, township, t("全部", "all")); }

async function inspectors() {
  const users = await getJSON("/api/users?role=inspector");
  const named = (u) => `${u.display_name || u.username}（${areaName[u.township_code] || u.township_code || ""}）`;
  form.elements.assignee.append(...users.map((u) => h("option", { value: u.username }, named(u))));
  bulk.elements.assignee.append(...users.map((u) => h("option", { value: u.username }, named(u))));
  const wanted = new URLSearchParams(window.location.search).get("assignee");
  if (wanted) { form.elements.assignee.value = wanted; }
}

function row(p) {
  const box = h("input", { type: "checkbox", "aria-label": `${t("选择", "select")} ${p.code}`, dataset: { id: p.id } });
  box.checked = state.selected.has(p.id);
  box.addEventListener("change", () => { if (box.checked) { state.selected.add(p.id); } else { state.selected.delete(p.id); } showBulk(); });
  const rules = [p.rules, p.field_rules].filter(Boolean).join(",");
  return h("tr", { class: p.overdue ? "overdue" : null, dataset: { code: p.code } },
    h("td", {}, box),
    h("td", {}, h("a", { href: `/map?code=${encodeURIComponent(p.code)}`, title: t("在地图上打开", "open on the map") }, p.code)),
    h("td", {}, areaName[p.township_code] || p.township_code || "—"),
    h("td", {}, areaName[p.village_code] || p.village_code || "—"),
    h("td", { title: p.status }, label("status", p.status)),
    h("td", { title: p.period }, label("period", p.period)),
    h("td", { title: p.disposition }, label("disposition", p.disposition)),
    h("td", { title: rules.split(",").filter(Boolean).map((c) => `${c} ${label("prohibition", c)}`).join("；") }, rules || "—"),
    h("td", { class: "n" }, `${num(p.farmland_m2)} / ${num(p.farmland_mu, 3)}`),
    h("td", { class: "n" }, num(p.remaining_m2)),
    h("td", {}, p.next_deadline ? `${localTime(p.next_deadline)}${p.overdue ? t(" 已逾期", " overdue") : ""}` : "—"),
    h("td", {}, p.assignee || "—"));
}

function showBulk() {
  bulk.hidden = state.selected.size === 0;
  document.getElementById("rl-selected").textContent = String(state.selected.size);
}

async function refresh() {
  const mine = ++state.generation;
  const limit = Number(form.elements.limit.value);
  const q = query({ ...filters(), sort: state.sort });
  history.replaceState(null, "", `${window.location.pathname}?${query({ ...filters(), sort: state.sort, offset: state.offset || "" })}`);
  for (const [id, format] of [["rl-csv", "csv"], ["rl-xlsx", "xlsx"]]) {
    document.getElementById(id).href = `/api/cases/download?format=${format}&${q}`;
  }
  const total = document.getElementById("rl-total");
  total.textContent = t("加载中…", "Loading…");
  let answer;
  try {
    answer = await getJSON(`/api/cases?${q}&limit=${limit}&offset=${state.offset}`);
  } catch (err) {
    total.textContent = `${t("出错：", "Error: ")}${err.message}`;
    return;
  }
  if (mine !== state.generation) { return; }
  state.total = answer.total;
  fill(body, answer.items.length ? answer.items.map(row)
    : h("tr", {}, h("td", { colspan: 12 }, t("没有符合条件的案件", "No case matches these filters"))));
  total.textContent = t(`共 ${answer.total} 件`, `${answer.total} cases`);
  total.dataset.total = String(answer.total);
  const pages = Math.max(1, Math.ceil(answer.total / limit));
  document.getElementById("rl-page-no").textContent = t(`第 ${Math.floor(state.offset / limit) + 1} / ${pages} 页`,
    `page ${Math.floor(state.offset / limit) + 1} of ${pages}`);
  document.getElementById("rl-prev").disabled = state.offset === 0;
  document.getElementById("rl-next").disabled = state.offset + limit >= answer.total;
  for (const th of document.querySelectorAll("#rl-cases th[data-sort]")) {
    const key = th.dataset.sort;
    th.setAttribute("aria-sort", state.sort === key ? "ascending" : state.sort === `-${key}` ? "descending" : "none");
  }
  document.getElementById("rl-all").checked = false;
  document.body.dataset.loaded = String(Date.now());
}

function start() {
  const params = new URLSearchParams(window.location.search);
  for (const k of FILTERS) { if (params.get(k) && form.elements[k]) { form.elements[k].value = params.get(k); } }
  villagesOf(form.elements.township.value);
  if (params.get("village")) { form.elements.village.value = params.get("village"); }
  state.sort = params.get("sort") || "code";
  state.offset = Number(params.get("offset") || 0);
  form.addEventListener("change", (e) => {
    if (e.target.name === "township") { villagesOf(e.target.value); }
    state.offset = 0;
    refresh();
  });
  form.addEventListener("submit", (e) => { e.preventDefault(); state.offset = 0; refresh(); });
  for (const th of document.querySelectorAll("#rl-cases th[data-sort]")) {
    th.addEventListener("click", () => {
      state.sort = state.sort === th.dataset.sort ? `-${th.dataset.sort}` : th.dataset.sort;
      state.offset = 0;
      refresh();
    });
  }
  document.getElementById("rl-prev").addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - Number(form.elements.limit.value)); refresh();
  });
  document.getElementById("rl-next").addEventListener("click", () => {
    state.offset += Number(form.elements.limit.value); refresh();
  });
  document.getElementById("rl-all").addEventListener("change", (e) => {
    for (const box of body.querySelectorAll("input[type=checkbox]")) {
      box.checked = e.target.checked;
      const id = Number(box.dataset.id);
      if (box.checked) { state.selected.add(id); } else { state.selected.delete(id); }
    }
    showBulk();
  });
  // The batch sent and not yet answered, with its key: sent again (the answer was lost, the official clicks once
  // more) it keeps the key, so the server assigns no case twice; another selection or assignee is a new batch.
  let unanswered = null;
  bulk.addEventListener("submit", async (e) => {
    e.preventDefault();
    const out = document.getElementById("rl-bulk-result");
    out.textContent = t("指派中…", "Assigning…");
    const ids = [...state.selected].sort((a, b) => a - b);
    const assignee = bulk.elements.assignee.value || null;
    const signature = JSON.stringify([ids, assignee]);
    if (!unanswered || unanswered.signature !== signature) {
      unanswered = { signature, key: submissionKey() };
    }
    try {
      const result = await postJSON("/api/cases/bulk-assign", { ids, assignee, client_uuid: unanswered.key });
      unanswered = null;
      const refused = result.results.filter((r) => !r.ok).map((r) => `#${r.id}: ${t(r.error_zh, r.error_en)}`);
      out.textContent = t(`已指派 ${result.assigned} 件`, `${result.assigned} assigned`) + (refused.length
        ? t(`；未指派 ${refused.length} 件（${refused.join("；")}）`, `; ${refused.length} not assigned (${refused.join("; ")})`) : "");
      out.dataset.assigned = String(result.assigned);
      state.selected.clear();
      showBulk();
      bulk.hidden = false;
      refresh();
    } catch (err) {
      out.textContent = `${t("出错：", "Error: ")}${err.message}`;
    }
  });
  inspectors().catch((err) => { document.getElementById("rl-total").textContent = `${t("出错：", "Error: ")}${err.message}`; });
  refresh();
}

start();
