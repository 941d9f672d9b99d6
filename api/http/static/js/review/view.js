// What is in view: on every pan and zoom, the reference layers and the cases in the bounding box. At county
// zoom the server sends counts per grid cell instead of features; nothing ever ships every case at once.
import { getJSON } from "../common/api.js";
import { thisMonth } from "../common/format.js";
import { t } from "../common/lang.js";

const DETAIL_ZOOM = 14;
const LAYER_ZOOM = { farmland: 13, dltb: 16, houses: 17, grids: 13, land: 12 };

/** The view's box, rounded outwards to 6 decimals (about 0.1 m): it never collapses to nothing. */
function boxOf(map) {
  const b = map.getBounds();
  const down = (v) => (Math.floor(v * 1e6) / 1e6).toFixed(6);
  const up = (v) => (Math.ceil(v * 1e6) / 1e6).toFixed(6);
  return [down(b.getWest()), down(b.getSouth()), up(b.getEast()), up(b.getNorth())].join(",");
}

export function createView(map, layers, filters, status) {
  let generation = 0;

  async function refresh() {
    const mine = ++generation;
    const bbox = boxOf(map);
    const zoom = Math.round(map.getZoom());
    const where = filters.asQuery();
    status.textContent = t("加载中…", "Loading…");
    const want = (name, layer) => (zoom >= LAYER_ZOOM[name]
      ? getJSON(`/api/layers/${name}?limit=8000&bbox=${bbox}`).then((fc) => ({ fc, layer })) : null);
    let results;
    try {
      results = await Promise.all([
        getJSON(`/api/layers/admin?limit=2000&bbox=${bbox}`).then((fc) => ({ fc, layer: layers.admin })),
        want("farmland", layers.farmland), want("dltb", layers.cultivated), want("houses", layers.houses),
        zoom >= LAYER_ZOOM.grids ? getJSON(`/api/grids?bbox=${bbox}`).then((fc) => ({ fc, layer: layers.grids })) : null,
        zoom >= LAYER_ZOOM.land ? getJSON("/api/abandoned").then((fc) => ({ fc, layer: layers.abandoned })) : null,
        zoom >= LAYER_ZOOM.land ? getJSON(`/api/patrols?month=${thisMonth()}`).then((fc) => ({ fc, layer: layers.patrols }))
          : null,
        // In detail views the cases themselves, or their grid counts when more than 5000 are in view.
        zoom >= DETAIL_ZOOM
          ? getJSON(`/api/cases/features?limit=5000&zoom=${zoom}&bbox=${bbox}${where}`).then((fc) => ({ fc, layer: layers.cases }))
          : getJSON(`/api/cases/clusters?zoom=${zoom}&bbox=${bbox}${where}`).then((fc) => ({ fc, layer: layers.cases })),
      ]);
    } catch (err) {
      if (mine === generation) { status.textContent = `${t("出错：", "Error: ")}${err.message}`; }
      return;
    }
    if (mine !== generation) { return; }
    let shown = 0;
    let total = 0;
    let grouped = false;
    let openCode = null;  // a popup the user has open survives the reload its own auto-pan triggers
    layers.cases.eachLayer((l) => { if (l.isPopupOpen()) { openCode = l.feature.properties.code; } });
    for (const [name, layer] of [["farmland", layers.farmland], ["dltb", layers.cultivated], ["houses", layers.houses],
      ["grids", layers.grids], ["land", layers.abandoned], ["land", layers.patrols]]) {
      if (zoom < LAYER_ZOOM[name]) { layer.clearLayers(); }
    }
    for (const result of results) {
      if (result === null) { continue; }
      const { fc, layer } = result;
      if (layer === layers.cases) {
        layers.cases.clearLayers();
        if (fc.cells) {
          layers.drawClusters(fc.cells);
          grouped = true;
        } else {
          layers.clusters.clearLayers();
          layers.cases.addData(fc);
          shown = fc.features.length;
        }
        total = fc.total;
        continue;
      }
      layer.clearLayers();
      if (!fc.truncated) { layer.addData(fc); }
    }
    if (openCode) { layers.cases.eachLayer((l) => { if (l.feature.properties.code === openCode) { l.openPopup(); } }); }
    status.textContent = grouped ? t(`视野内 ${total} 件案件（已分组，放大查看每一件）`, `${total} cases in view (grouped: zoom in to see each)`)
      : t(`视野内显示 ${shown} / ${total} 件案件`, `${shown} of ${total} cases in view`);
    status.dataset.cases = String(shown);
    status.dataset.total = String(total);
    status.dataset.grouped = String(grouped);
  }

  return { refresh };
}
