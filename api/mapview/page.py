"""The officials' review map: a folium page whose features are fetched by bounding box, never embedded.

The HTML stays small whatever the size of the county: Leaflet is served from this application (no CDN),
and each pan or zoom asks the API for the features in view (`/api/cases`, `/api/layers/...`).
"""

from __future__ import annotations

import folium
from branca.element import Element

from api.settings import Settings

VENDOR = "/static/vendor/leaflet"

LEGEND = """
<div id="rl-legend" class="rl-panel" style="position:fixed;bottom:28px;right:10px;z-index:1000">
  <b>图例 Legend</b><br>
  <span class="rl-sw" style="background:#e31a1c"></span>增量·拆除 increment, demolish<br>
  <span class="rl-sw" style="background:#ff7f00"></span>存量·分类处置 stock, classify<br>
  <span class="rl-sw" style="background:#6a3d9a"></span>存疑·待核实 to verify<br>
  <span class="rl-sw" style="background:#969696"></span>已不违法 no longer violating<br>
  <span class="rl-sw" style="background:#33a02c;opacity:.5"></span>永久基本农田 permanent farmland<br>
  <span class="rl-sw" style="border:2px solid #1f78b4;background:none"></span>乡镇/村界 township/village
  <form method="post" action="/logout" style="margin-top:4px"><button type="submit">退出 log out</button></form>
</div>
<div id="rl-status" class="rl-panel" style="position:fixed;top:10px;left:54px;z-index:1000">loading…</div>
<form id="rl-filters" class="rl-panel" style="position:fixed;top:46px;left:54px;z-index:1000;max-width:330px">
  <input name="code" placeholder="案件编号 case code" size="22">
  <select name="status"><option value="">状态 status</option><option>new</option><option>assigned</option>
    <option>verified</option><option>notice_served</option><option>demolishing</option><option>demolished</option>
    <option>restored</option><option>reinspected</option><option>classified</option><option>rectified</option>
    <option>submitted</option><option>closed</option></select>
  <select name="period"><option value="">时段 period</option><option value="after_cutoff">增量 after cutoff</option>
    <option value="extended_after_cutoff">扩建 extended</option><option value="before_cutoff">存量 stock</option>
    <option value="unknown">未知 unknown</option></select>
  <select name="disposition"><option value="">处置 disposition</option><option>demolish</option>
    <option>classify</option><option>verify</option></select>
  <select name="rule"><option value="">八不准</option><option>1</option><option>2</option><option>3</option>
    <option>4</option><option>5</option><option>6</option><option>7</option><option>8</option></select>
  <select name="overdue"><option value="">期限 deadlines</option><option value="true">逾期 overdue</option></select>
  <input name="township" placeholder="乡镇代码 township" size="13">
  <input name="village" placeholder="村代码 village" size="13">
</form>
<div id="rl-panel" class="rl-panel" hidden style="position:fixed;top:10px;right:10px;bottom:190px;width:330px;
  overflow:auto;z-index:1001"></div>
<style>
 .rl-panel{background:#fff;padding:6px 8px;border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.4);
           font:12px/1.5 sans-serif}
 .rl-sw{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}
 #rl-filters select,#rl-filters input{font-size:12px;margin:1px}.rl-thumb{width:96px;margin:2px}
 .rl-cluster{background:#e31a1cb0;color:#fff;border-radius:50%;text-align:center;font:bold 12px/32px sans-serif}
</style>
"""


def build_map(settings: Settings, center: tuple[float, float], zoom: int = 14) -> str:
    """Render the review map's HTML, centred on `center` (lat, lon)."""
    fmap = folium.Map(location=list(center), zoom_start=zoom, tiles=None, control_scale=True,
                      prefer_canvas=True)
    fmap.default_js = [("leaflet", f"{VENDOR}/leaflet.js")]
    fmap.default_css = [("leaflet_css", f"{VENDOR}/leaflet.css")]
    if settings.tile_url:
        folium.TileLayer(settings.tile_url, attr=settings.tile_attribution or "basemap", name="basemap").add_to(fmap)
    root = fmap.get_root()
    root.html.add_child(Element(LEGEND))  # type: ignore[attr-defined]
    root.html.add_child(Element('<script src="/static/js/review_map.js"></script>'))  # type: ignore[attr-defined]
    root.script.add_child(Element(f"window.addEventListener('load', function () {{"  # type: ignore[attr-defined]
                                  f" redlineReviewMap({fmap.get_name()}); }});"))
    return root.render()
