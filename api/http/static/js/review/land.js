// Abandoned land (抛荒) on the officials' map: a record in the side panel (its numbers, photos with their checks,
// history with audit hashes, and the steps the user may take), and recording a new one by drawing the abandoned
// part of a field on the map. The server clips a drawn part to the cultivated parcel it overlaps most and
// computes its area in the county CRS; the map only sends the outline (WGS 84).
/* global L */
import { getJSON, postJSON } from "../common/api.js";
import { getConfig, label, labelled } from "../common/config.js";
import { t } from "../common/lang.js";
import { fill, h } from "../common/dom.js";
import { localTime, num } from "../common/format.js";

/** Today in Asia/Shanghai, as YYYY-MM-DD (the county's day, whatever the desk's clock zone). */
function countyToday() {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());
}

function options(names) {
  return Object.entries(names || {}).map(([code, name]) => h("option", { value: code }, `${name} ${code}`));
}

export function createLand(map, el, { layers, onChanged }) {
  let request = 0;

  function facts(p) {
    const row = (name, ...value) => [h("dt", {}, name), h("dd", {}, ...value)];
    return h("dl", { class: "rl-facts" },
      row(t("状态", "Status"), labelled("land_status", p.status)),
      row(t("面积", "Area"), h("span", { class: "rl-land-m2" }, num(p.area_m2)), ` m²（${num(p.area_mu, 3)} ${t("亩", "mu")}）`),
      row(t("地类", "Land class"), p.dlbm),
      row(t("原因", "Cause"), labelled("cause", p.cause)),
      row(t("发现日期", "Seen on"), p.seen_on || "—"),
      row(t("承包户", "Contractor"), p.contractor_key || "—"),
      row(t("网格", "Grid cell"), p.grid_code || "—"),
      row(t("整治方式", "Remedy"), p.remedy ? labelled("remedy", p.remedy) : "—", p.remedy_detail ? `（${p.remedy_detail}）` : ""),
      row(t("整治期限", "Remedy deadline"), p.remedy_deadline || "—",
        p.overdue ? h("b", { class: "rl-error" }, t(" 已逾期", " overdue")) : ""),
      row(t("说明", "Note"), p.note || "—"));
  }

  function photo(ph) {
    return h("figure", { class: "rl-photo", dataset: { photoId: ph.id, kind: ph.kind } },
      h("a", { href: `/api/land-photos/${ph.id}/original`, target: "_blank", rel: "noopener" },
        h("img", { class: "rl-thumb", src: `/api/land-photos/${ph.id}/thumbnail`, alt: label("land_photo_kind", ph.kind), loading: "lazy" })),
      h("figcaption", {}, `${label("land_photo_kind", ph.kind)} · ${ph.taken_at ? localTime(ph.taken_at) : t("无拍摄时间", "no capture time")}`,
        ph.checks.length ? h("ul", { class: "rl-error" }, ...ph.checks.map((c) => h("li", {}, c)))
          : h("span", { class: "rl-ok" }, t(" · 核验通过", " · checks passed"))));
  }

  /** The step's form: a remedy from the pick list and who takes the land on, or a reason to dismiss. */
  function actionForm(p, action) {
    const said = h("span", { class: "rl-error", role: "alert" });
    const inputs = [];
    if (action === "decide_remedy") {
      inputs.push(h("select", { "data-for": "remedy", "aria-label": t("整治方式", "Remedy") }, ...options(getConfig().labels.remedy)),
        h("input", { "data-for": "remedy_detail", size: 18, maxlength: 200,
          placeholder: t("承接方（流转、托管必填）", "who takes it on (transfer, managed)") }),
        h("input", { "data-for": "deadline", type: "date", "aria-label": t("期限（留空按默认）", "deadline (empty: the default)") }));
    } else if (action === "dismiss") {
      inputs.push(h("input", { "data-for": "reason", size: 24, maxlength: 500, placeholder: t("核销理由", "reason") }));
    }
    const button = h("button", { type: "submit" }, label("land_action", action) || action);
    return h("form", { class: "rl-action", dataset: { action }, on: { submit: async (e) => {
      e.preventDefault();
      const payload = {};
      for (const input of inputs) { if (input.value.trim()) { payload[input.dataset.for] = input.value.trim(); } }
      button.disabled = true;
      try {
        await postJSON(`/api/abandoned/${p.id}/transitions`, { action, version: p.version, payload });
        await show(p.id);
        onChanged();
      } catch (err) {
        said.textContent = err.message;
        button.disabled = false;
      }
    } } }, ...inputs, button, " ", said);
  }

  function show(id) {
    const mine = ++request;
    return getJSON(`/api/abandoned/${id}`).then((feature) => {
      if (mine !== request) { return; }
      const p = feature.properties;
      layers.highlight.clearLayers();
      L.geoJSON(feature, { interactive: false, style: { color: getConfig().colours.selected, weight: 4, fill: false } })
        .addTo(layers.highlight);
      const close = h("a", { href: "#", id: "rl-close", "aria-label": t("关闭", "close"), on: { click: (e) => {
        e.preventDefault(); el.hidden = true; layers.highlight.clearLayers();
      } } }, "✕");
      fill(el, h("div", {}, h("b", {}, t("耕地抛荒 ", "Abandoned land "), p.code), " ", close), facts(p),
        h("h4", {}, t(`照片（${p.photos.length}）`, `Photos (${p.photos.length})`)), ...p.photos.map(photo),
        p.allowed_actions.length ? h("h4", {}, t("可办理", "Steps you may take")) : null,
        ...p.allowed_actions.map((a) => actionForm(p, a)),
        h("h4", {}, t("记录", "History")),
        h("ol", {}, ...p.history.map((e) => h("li", { title: e.hash }, `${localTime(e.at)} ${e.actor} ${labelled("land_action", e.action)}`,
          e.note ? ` — ${e.note}` : ""))));
      el.hidden = false;
      el.dataset.recordId = String(p.id);
      el.dataset.status = p.status;
      delete el.dataset.caseId;
    }).catch((err) => {
      if (mine === request) { fill(el, h("p", { class: "rl-error" }, err.message)); el.hidden = false; }
    });
  }

  // ---- drawing the abandoned part ------------------------------------------------------------------------
  const sketch = L.layerGroup().addTo(map);
  let vertices = null;  // [[lat, lng], ...] while drawing

  function redraw() {
    sketch.clearLayers();
    if (!vertices) { return; }
    const style = { color: getConfig().colours.layers.abandoned, weight: 2, dashArray: "4 3" };
    if (vertices.length >= 3) { L.polygon(vertices, { ...style, fillOpacity: 0.2, interactive: false }).addTo(sketch); }
    else if (vertices.length === 2) { L.polyline(vertices, { ...style, interactive: false }).addTo(sketch); }
    for (const v of vertices) { L.circleMarker(v, { radius: 4, color: style.color, interactive: false }).addTo(sketch); }
    control.dataset.vertices = String(vertices.length);
    finish.disabled = vertices.length < 3;
  }

  function addVertex(e) { vertices.push([e.latlng.lat, e.latlng.lng]); redraw(); }

  function stop() {
    vertices = null;
    map.off("click", addVertex);
    map.getContainer().classList.remove("rl-drawing");
    sketch.clearLayers();
    control.dataset.drawing = "";
    control.dataset.vertices = "0";
    drawing.hidden = true;
    begin.hidden = false;
  }

  function start() {
    vertices = [];
    map.on("click", addVertex);
    map.getContainer().classList.add("rl-drawing");
    control.dataset.drawing = "true";
    drawing.hidden = false;
    begin.hidden = true;
    redraw();
  }

  /** The record's form, under the outline just drawn: cause, the day it was seen, a note. */
  function askForRecord() {
    const ring = [...vertices.map(([lat, lng]) => [lng, lat]), [vertices[0][1], vertices[0][0]]];
    const cause = h("select", { name: "cause", "aria-label": t("抛荒原因", "Cause") }, ...options(getConfig().labels.cause));
    const seen = h("input", { name: "seen_on", type: "date", value: countyToday(), max: countyToday(), required: true });
    const note = h("input", { name: "note", size: 24, maxlength: 500, placeholder: t("说明", "note") });
    const said = h("p", { class: "rl-error", role: "alert" });
    const save = h("button", { type: "submit" }, t("登记", "Record"));
    const form = h("form", { id: "rl-land-new", on: { submit: async (e) => {
      e.preventDefault();
      save.disabled = true;
      try {
        const made = await postJSON("/api/abandoned", { geometry: { type: "Polygon", coordinates: [ring] },
          cause: cause.value, seen_on: seen.value, note: note.value.trim() || null });
        stop();
        onChanged();
        await show(made.id);
      } catch (err) {
        said.textContent = err.message;
        save.disabled = false;
      }
    } } }, h("label", {}, t("原因 ", "Cause "), cause), " ", h("label", {}, t("发现日期 ", "Seen on "), seen), " ",
    note, " ", save, said);
    fill(el, h("b", {}, t("登记耕地抛荒：所画范围", "Record abandoned land: the outline drawn")),
      h("p", {}, t("范围将裁剪到与其重叠最多的耕地图斑，面积由服务器在投影坐标系中计算。",
        "The outline is clipped to the cultivated parcel it overlaps most; the server computes its area in the county CRS.")),
      form);
    el.hidden = false;
    request += 1;  // an older record's answer must not draw over this form
  }

  const begin = h("button", { type: "button", id: "rl-land-draw" }, t("画出抛荒范围", "Draw abandoned land"));
  const finish = h("button", { type: "button", id: "rl-land-finish", disabled: true }, t("完成", "Finish"));
  const undo = h("button", { type: "button", id: "rl-land-undo" }, t("撤销一点", "Undo point"));
  const cancel = h("button", { type: "button", id: "rl-land-cancel" }, t("取消", "Cancel"));
  const drawing = h("span", { hidden: true }, t("在地图上逐点单击 ", "Click the corners on the map "), finish, undo, cancel);
  const control = h("div", { class: "leaflet-bar rl-land-control", dataset: { drawing: "", vertices: "0" } }, begin, drawing);
  begin.addEventListener("click", start);
  undo.addEventListener("click", () => { if (vertices && vertices.length) { vertices.pop(); redraw(); } });
  cancel.addEventListener("click", stop);
  finish.addEventListener("click", () => { if (vertices && vertices.length >= 3) { askForRecord(); map.off("click", addVertex); } });
  L.DomEvent.disableClickPropagation(control);
  const Control = L.Control.extend({ onAdd: () => control });
  new Control({ position: "bottomleft" }).addTo(map);

  return { show, drawing: () => vertices !== null };
}
