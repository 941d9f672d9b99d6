// The review map: the layers, the filters, the case panel and search, wired to the folium map on the page.
import { createFilters } from "./filters.js";
import { createLand } from "./land.js";
import { createLayers } from "./layers.js";
import { caseDetail, createPanel, popupContent } from "./panel.js";
import { getJSON } from "../common/api.js";
import { createSearch } from "./search.js";
import { createTileView } from "./tiles.js";
import { createView } from "./view.js";

const pageData = JSON.parse(document.getElementById("rl-page").textContent);
const map = window[pageData.map];
const status = document.getElementById("rl-status");
let panel = null;
let land = null;
const tiles = Boolean(pageData.tiles);  // a county above `map_tiles_above` cases: vector tiles (./tiles.js)
const layers = createLayers(map, {
  caseDetail, popupContent, tiles,
  onCaseClick: (feature) => { layers.select(feature); panel.show(feature.properties.id); },
  onLandClick: (feature) => { if (!land.drawing()) { land.show(feature.properties.id); } },
});
let view = null;
const side = document.getElementById("rl-panel");
// A change made in the panel (or new filters) redraws the cases: tiles are fetched anew, GeoJSON reloaded.
const redraw = () => { if (view.refilter) { view.refilter(); } view.refresh(); };
panel = createPanel(side, { layers, user: pageData.user, onChanged: redraw });
land = createLand(map, side, { layers, onChanged: () => view.refresh() });
const search = createSearch(map, layers, panel, status);
const filters = createFilters(document.getElementById("rl-filters"), pageData.areas, {
  onFilter: redraw, onSearch: (code) => search.find(code),
});
view = tiles
  ? createTileView(map, layers, filters, status, {
    caseDetail, popupContent, loading: layers.loading,
    // A tile feature carries no outline to highlight: the case's own GeoJSON does.
    onCaseClick: (id) => {
      getJSON(`/api/cases/${id}`).then((feature) => layers.select(feature)).catch(() => {});
      panel.show(id);
    },
  })
  : createView(map, layers, filters, status);

map.on("moveend", () => view.refresh());
// The map keeps its view when the window changes size (a rotated tablet, a docked window).
window.addEventListener("resize", () => map.invalidateSize());
if (filters.code()) { search.find(filters.code()).then(() => view.refresh()); } else { view.refresh(); }
