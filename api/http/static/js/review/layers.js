// The map's layers and how each looks (colours from the page config: api/mapview/style.py).
/* global L */
import { caseColour, getConfig, label } from "../common/config.js";
import { t } from "../common/lang.js";
import { h } from "../common/dom.js";

/** A placeholder a popup shows until the case's numbers arrive. */
function loading(code) { return h("div", { class: "rl-popup-loading" }, h("b", {}, code), " …"); }

/** A count of cases as a badge coloured by what it holds: a ring split by kind (to demolish, to verify, ...),
 * sized by the count; used by the GeoJSON map's clusters and by the tiled map's count tiles. */
export function countBadge(cell) {
  const colours = getConfig().colours;
  const kindColour = { ...colours.cases, closed: colours.closed };
  const size = 18 + Math.min(24, Math.log2(cell.count + 1) * 4);
  let at = 0;
  const stops = Object.entries(cell.kinds || {}).map(([kind, n]) => {
    const from = at;
    at += (360 * n) / cell.count;
    return `${kindColour[kind] || "#000"} ${from}deg ${at}deg`;
  });
  const badge = h("div", { title: Object.entries(cell.kinds || {}).map(([k, n]) => `${k === "closed" ? label("status", "closed") : label("disposition", k)} ${n}`).join(t("，", ", ")) },
    String(cell.count));
  badge.style.background = stops.length ? `conic-gradient(${stops.join(", ")})` : kindColour.demolish;
  badge.style.width = badge.style.height = `${size}px`;
  badge.style.lineHeight = `${size}px`;
  badge.className = "rl-cluster";
  return badge;
}

/** The map's layers. With `tiles` (a county above `map_tiles_above` cases) the reference layers and the cases
 * are vector tiles (./tiles.js adds them to the same layer control); the GeoJSON ones here stay off the map. */
export function createLayers(map, { onCaseClick, onLandClick, caseDetail, popupContent, tiles = false }) {
  const colours = getConfig().colours;
  const cultivatedCodes = new Set(getConfig().cultivated_codes);
  const admin = L.geoJSON(null, {
    style: (f) => ({ color: colours.layers.admin, weight: f.properties.level === getConfig().levels.township ? 3 : 1, fill: false }),
    interactive: false,
    // Township and village names on the map; which are shown depends on the zoom (see `showNamesFor`).
    onEachFeature: (f, layer) => layer.bindTooltip(String(f.properties.name || ""), {
      permanent: true, direction: "center", className: `rl-name rl-name-${f.properties.level}` }),
  });
  const farmland = L.geoJSON(null, { interactive: false, style: { color: colours.layers.farmland, weight: 1,
    fillColor: colours.layers.farmland, fillOpacity: 0.25 } });
  const cultivated = L.geoJSON(null, { interactive: false, style: (f) => {
    const isCultivated = cultivatedCodes.has(f.properties.dlbm);
    return { color: isCultivated ? colours.layers.cultivated : colours.layers.other_land, weight: 0.5,
      fillColor: isCultivated ? colours.layers.cultivated_fill : "#eeeeee", fillOpacity: 0.3 };
  } });
  const houses = L.geoJSON(null, { interactive: false, style: { color: colours.layers.houses, weight: 1, fillOpacity: 0.2 } });
  const clusters = L.layerGroup();
  const evidence = L.layerGroup();
  const highlight = L.layerGroup();
  // 田长制: grid cells by this month's patrol coverage, abandoned land by state, this month's patrol tracks.
  const grids = L.geoJSON(null, { interactive: false, style: (f) => ({
    color: f.properties.patrolled ? colours.layers.grid_patrolled : colours.layers.grid_unpatrolled,
    weight: 1.5, dashArray: f.properties.patrolled ? null : "4 4", fill: false }) });
  const abandoned = L.geoJSON(null, {
    style: (f) => ({ color: colours.layers.abandoned, weight: f.properties.overdue ? 3 : 1.5,
      fillColor: colours.layers.abandoned, fillOpacity: ["closed", "dismissed"].includes(f.properties.status) ? 0.05 : 0.35,
      dashArray: f.properties.overdue ? "6 4" : null }),
    onEachFeature: (f, layer) => {
      layer.bindTooltip(`${f.properties.code} · ${label("land_status", f.properties.status)}`
        + ` · ${Math.round(f.properties.area_m2)} m²`);
      layer.on("click", () => onLandClick(f));
    },
  });
  const patrols = L.geoJSON(null, { interactive: false, style: { color: colours.layers.patrol, weight: 3, opacity: 0.8 } });
  // The selected case's surroundings on one imagery pass (the panel's before/after slider picks the pass).
  const epoch = L.geoJSON(null, { interactive: false, style: (f) => ({ color: colours.layers.epoch,
    weight: f.properties.at_house ? 3 : 1, dashArray: "5 3", fillColor: colours.layers.epoch,
    fillOpacity: f.properties.at_house ? 0.25 : 0.05 }) });
  const cases = L.geoJSON(null, {
    style: (f) => {
      const p = f.properties;
      const colour = caseColour(p);
      return { color: colour, weight: p.overdue ? 4 : 2, fillColor: colour, fillOpacity: 0.6, dashArray: p.overdue ? "6 4" : null };
    },
    // Features carry only what styling and filters need; a popup loads the case's numbers when opened.
    onEachFeature: (f, layer) => {
      layer.bindPopup(() => loading(f.properties.code), { autoPan: true });
      layer.on("popupopen", () => {
        caseDetail(f.properties.id).then((p) => layer.setPopupContent(popupContent(p))).catch(() => {});
      });
      layer.on("click", () => onCaseClick(f));
    },
  });
  const drawn = tiles ? [grids, abandoned, patrols, evidence, epoch, highlight]
    : [admin, cultivated, farmland, grids, abandoned, houses, patrols, clusters, evidence, cases, epoch, highlight];
  for (const layer of drawn) { layer.addTo(map); }
  const geojson = tiles ? {} : { [t("乡镇 / 村界", "Township / village boundaries")]: admin,
    [t("耕地（三调）", "Cultivated land (三调)")]: cultivated, [t("永久基本农田", "Permanent basic farmland")]: farmland,
    [t("房屋", "Houses")]: houses, [t("案件", "Cases")]: cases };
  const control = L.control.layers(null, { ...geojson, [t("照片", "Photos")]: evidence,
    [t("影像中的房屋", "Buildings on imagery")]: epoch, [t("网格（本月巡田）", "Grid (patrolled this month)")]: grids,
    [t("耕地抛荒", "Abandoned land")]: abandoned, [t("巡田轨迹", "Patrol tracks")]: patrols }, { collapsed: true }).addTo(map);

  function showNamesFor(zoom) {
    const box = map.getContainer().classList;
    box.toggle("rl-hide-names", zoom < 10);
    box.toggle("rl-hide-villages", zoom < 13);
  }
  showNamesFor(map.getZoom());
  map.on("zoomend", () => showNamesFor(map.getZoom()));

  /** Outline the selected (or searched) case; returns its bounds. */
  function select(feature) {
    highlight.clearLayers();
    const outline = L.geoJSON(feature, { interactive: false, style: { color: colours.selected, weight: 5, fill: false } });
    outline.addTo(highlight);
    return outline.getBounds();
  }

  /** Count markers coloured by what they hold (`countBadge`). */
  function drawClusters(cells) {
    clusters.clearLayers();
    for (const cell of cells) {
      const badge = countBadge(cell);
      const size = parseFloat(badge.style.width);
      L.marker([cell.lat, cell.lon], { icon: L.divIcon({ className: "", html: badge, iconSize: [size, size] }) })
        .on("click", () => map.setView([cell.lat, cell.lon], map.getZoom() + 2)).addTo(clusters);
    }
  }

  /** A photo's position and its view cone (the evidence policy's field of view and range). */
  function photoMarker(photo) {
    const { field_of_view_deg: fov, view_range_m: range } = getConfig().evidence;
    L.circleMarker([photo.lat, photo.lon], { radius: 5, color: colours.layers.photo }).addTo(evidence);
    if (photo.bearing_true_deg === null || photo.bearing_true_deg === undefined) { return; }
    const r = range / 111320;  // metres in degrees of latitude
    const points = [[photo.lat, photo.lon]];
    for (let a = photo.bearing_true_deg - fov / 2; a <= photo.bearing_true_deg + fov / 2 + 1e-9; a += fov / 12) {
      const rad = (a * Math.PI) / 180;
      points.push([photo.lat + r * Math.cos(rad), photo.lon + (r * Math.sin(rad)) / Math.cos((photo.lat * Math.PI) / 180)]);
    }
    L.polygon(points, { color: colours.layers.photo, weight: 1, fillOpacity: 0.15, interactive: false }).addTo(evidence);
  }

  return { admin, farmland, cultivated, houses, clusters, evidence, cases, epoch, grids, abandoned, patrols, highlight,
    control, select, drawClusters, photoMarker, loading };
}
