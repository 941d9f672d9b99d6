"""The officials' review map: a folium page whose features are fetched by bounding box, never embedded.

The HTML stays small whatever the size of the county: Leaflet is served from this application (no CDN),
and each pan or zoom asks the API for the features in view (`/api/cases/features`, `/api/layers/...`).
The panels around the map (legend, filters, the case panel) come from a template the HTTP edge renders;
the map's behaviour from the ES modules under `/static/js/review/`.
"""

from __future__ import annotations

from html import escape

import folium
from branca.element import Element

VENDOR = "/static/vendor/leaflet"
VECTORGRID = "/static/vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js"
PANELS = "<!-- redline panels -->"


def build_map(center: tuple[float, float], panels_html: str, *, title: str = "", tile_url: str = "",
              tile_attribution: str = "", zoom: int = 14, map_name: str = "map_redline",
              vector_tiles: bool = False) -> str:
    """The review map's HTML, titled `title`, centred on `center` (lat, lon), with `panels_html` (already escaped
    by its template) around it. Without a `tile_url` there is no basemap: the page then works fully offline. With
    `vector_tiles` the page also loads Leaflet.VectorGrid (vendored: what folium's VectorGridProtobuf plugin
    would load from a CDN), which draws the layers as vector tiles (`api.mapview.tiles`)."""
    fmap = folium.Map(location=list(center), zoom_start=zoom, tiles=None, control_scale=True,
                      prefer_canvas=True, max_zoom=20)
    fmap._name, fmap._id = "map", "redline"  # a stable global name: `map_redline`, read by the page's module
    assert fmap.get_name() == map_name
    fmap.default_js = [("leaflet", f"{VENDOR}/leaflet.js")]
    if vector_tiles:
        fmap.default_js.append(("vectorgrid", VECTORGRID))
    fmap.default_css = [("leaflet_css", f"{VENDOR}/leaflet.css"), ("redline_map", "/static/css/map.css")]
    if tile_url:
        folium.TileLayer(tile_url, attr=tile_attribution or "basemap", name="底图 basemap", max_zoom=20).add_to(fmap)
    root = fmap.get_root()
    root.title = escape(title)  # type: ignore[attr-defined]  # branca's template does not escape it
    # The panels go in after folium has rendered: branca renders every Element as a Jinja template, and a
    # township name that happens to contain "{{" must stay text, not become template code.
    root.html.add_child(Element(PANELS))  # type: ignore[attr-defined]
    root.html.add_child(Element('<script type="module" src="/static/js/review/main.js"></script>'))  # type: ignore[attr-defined]
    html = root.render()
    assert html.count(PANELS) == 1
    return html.replace(PANELS, panels_html)
