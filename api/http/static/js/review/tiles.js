// The review map for counties too big to hold in the server's memory (above the `map_tiles_above` setting):
// reference layers and cases as vector tiles read from the database tile by tile (api/mapview/tiles.py), drawn
// by Leaflet.VectorGrid; wider than the case tiles, counts per quarter tile. Nothing ever ships every case.
/* global L */
import { getJSON } from "../common/api.js";
import { caseColour, getConfig } from "../common/config.js";
import { h } from "../common/dom.js";
import { thisMonth } from "../common/format.js";
import { t } from "../common/lang.js";
import { countBadge } from "./layers.js";

const TILE_OPTIONS = { rendererFactory: L.canvas.tile, maxNativeZoom: 20, fetchOptions: { credentials: "same-origin" } };
// The case tiles' own pane, between Leaflet's overlay pane (400: the map's canvas with grid cells, abandoned land
// and patrols) and its marker pane (600: the count badges). In the tile pane (200) the canvas, which spans the
// whole map, lay over every case and took its clicks. Where no case is drawn a click passes through the case
// tiles (their SVG is not hit-testable, only their paths are) to the canvas below.
const CASES_PANE = "rlCases";
const CASES_PANE_Z = 450;

/** A vector tile layer of the API; `query` returns the filters' query string (for cases). */
function vectorTiles(name, minZoom, style, { interactive = false, query = () => "", pane = "tilePane" } = {}) {
  const url = () => `/api/tiles/${name}/{z}/{x}/{y}.pbf?${query()}`;
  // Interactive tiles are SVG: VectorGrid 1.3's canvas click handler calls `L.DomEvent.fakeStop`, gone since
  // Leaflet 1.8 (Leaflet.VectorGrid#274); the reference layers, never clicked, stay on canvas.
  const renderer = interactive ? { rendererFactory: L.svg.tile } : {};
  const layer = L.vectorGrid.protobuf(url(), { ...TILE_OPTIONS, ...renderer, minZoom, interactive, pane,
    vectorTileLayerStyles: { [name]: style }, getFeatureId: interactive ? (f) => f.properties.id : undefined });
  layer.refresh = () => layer.setUrl(url());
  return layer;
}

/** Counts of cases per quarter tile, each a badge coloured by what it holds (as the county-wide view). */
function countTiles(maxZoom, query, onTotals) {
  const totals = new Map();
  const Counts = L.GridLayer.extend({
    createTile(coords, done) {
      const tile = h("div", { class: "rl-count-tile" });
      const key = `${coords.z}/${coords.x}/${coords.y}`;
      if (coords.z > maxZoom) { setTimeout(() => done(null, tile)); return tile; }  // the case tiles take over
      getJSON(`/api/tiles/case-counts/${key}.json?${query()}`).then((answer) => {
        totals.set(key, answer.total);
        const origin = coords.scaleBy(this.getTileSize());  // the tile's corner in pixels at its own zoom
        for (const cell of answer.cells) {
          const el = badge(cell, this._map.project([cell.lat, cell.lon], coords.z).subtract(origin));
          el.addEventListener("click", () => this._map.setView([cell.lat, cell.lon], this._map.getZoom() + 2));
          tile.append(el);
        }
        onTotals(totals);
        done(null, tile);
      }).catch((err) => done(err, tile));
      return tile;
    },
  });
  function badge(cell, at) {
    const el = countBadge(cell);
    const size = parseFloat(el.style.width);
    el.style.position = "absolute";
    el.style.left = `${at.x - size / 2}px`;
    el.style.top = `${at.y - size / 2}px`;
    return el;
  }
  // No `maxZoom` option: a layer's maxZoom caps the whole map's (Leaflet takes the largest of its layers').
  const layer = new Counts({ pane: "markerPane" });
  layer.on("tileunload", (e) => totals.delete(`${e.coords.z}/${e.coords.x}/${e.coords.y}`));
  layer.totals = totals;
  return layer;
}

export function createTileView(map, layers, filters, status, { onCaseClick, caseDetail, popupContent, loading }) {
  const { detail, layers: minZoom } = getConfig().map_zooms;
  const colours = getConfig().colours;
  const cultivatedCodes = new Set(getConfig().cultivated_codes);
  const where = () => filters.asQuery().replace(/^&/, "");
  const reference = [
    vectorTiles("admin", minZoom.admin, (p) => ({ color: colours.layers.admin, weight: p.level === getConfig().levels.township ? 3 : 1,
      fill: false })),
    vectorTiles("farmland", minZoom.farmland, { color: colours.layers.farmland, weight: 1, fill: true,
      fillColor: colours.layers.farmland, fillOpacity: 0.25 }),
    vectorTiles("dltb", minZoom.dltb, (p) => {
      const isCultivated = cultivatedCodes.has(p.dlbm);
      return { color: isCultivated ? colours.layers.cultivated : colours.layers.other_land, weight: 0.5, fill: true,
        fillColor: isCultivated ? colours.layers.cultivated_fill : "#eeeeee", fillOpacity: 0.3 };
    }),
    vectorTiles("houses", minZoom.houses, { color: colours.layers.houses, weight: 1, fill: true, fillOpacity: 0.2 }),
  ];
  if (!map.getPane(CASES_PANE)) { map.createPane(CASES_PANE).style.zIndex = String(CASES_PANE_Z); }
  const cases = vectorTiles("cases", detail, (p) => {
    const colour = caseColour(p);
    return { color: colour, weight: p.overdue ? 4 : 2, fill: true, fillColor: colour, fillOpacity: 0.6,
      dashArray: p.overdue ? [6, 4] : null };
  }, { interactive: true, query: where, pane: CASES_PANE });
  cases.on("click", (e) => {
    const p = e.layer.properties;
    const popup = L.popup({ autoPan: true }).setLatLng(e.latlng).setContent(loading(p.code)).openOn(map);
    caseDetail(p.id).then((detailed) => popup.setContent(popupContent(detailed))).catch(() => {});
    onCaseClick(p.id);
  });
  const counts = countTiles(detail - 1, where, showTotals);
  for (const layer of [...reference, counts, cases]) { layer.addTo(map); }
  const names = [t("乡镇 / 村界", "Township / village boundaries"), t("永久基本农田", "Permanent basic farmland"),
    t("耕地（三调）", "Cultivated land (三调)"), t("房屋", "Houses")];
  reference.forEach((layer, i) => layers.control.addOverlay(layer, names[i]));
  layers.control.addOverlay(cases, t("案件", "Cases"));
  layers.control.addOverlay(counts, t("案件数量", "Case counts"));

  function showTotals(totals) {
    if (map.getZoom() >= detail) { return; }
    let total = 0;
    for (const n of totals.values()) { total += n; }
    status.textContent = t(`已加载的瓦片内共 ${total} 件案件（已分组，放大查看每一件）`,
      `${total} cases in the loaded tiles (grouped: zoom in to see each)`);
    status.dataset.total = String(total);
    status.dataset.grouped = "true";
  }

  /** The small layers still come as GeoJSON: grid cells, abandoned land and this month's patrols. */
  async function refresh() {
    const zoom = Math.round(map.getZoom());
    if (zoom >= detail) {
      status.textContent = t("案件以矢量瓦片显示：点击案件查看详情", "Cases drawn as vector tiles: click one for its details");
      status.dataset.grouped = "false";
    } else {
      showTotals(counts.totals);
    }
    const bbox = map.getBounds().toBBoxString();
    const small = [
      ["grids", layers.grids, () => getJSON(`/api/grids?bbox=${bbox}`)],
      ["land", layers.abandoned, () => getJSON("/api/abandoned")],
      ["land", layers.patrols, () => getJSON(`/api/patrols?month=${thisMonth()}`)],
    ];
    await Promise.all(small.map(async ([name, layer, load]) => {
      if (zoom < minZoom[name]) { layer.clearLayers(); return; }
      const fc = await load().catch(() => null);
      layer.clearLayers();
      if (fc) { layer.addData(fc); }
    }));
  }

  /** New filters: new case and count tiles (the server caches them per filter). */
  function refilter() {
    cases.refresh();
    counts.totals.clear();
    counts.redraw();
  }

  return { refresh, refilter, layers: { reference, cases, counts } };
}
