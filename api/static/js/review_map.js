// The review map's data layer: fetch what is in view, by bounding box, on every pan and zoom.
/* global L */
function redlineReviewMap(map) {
  "use strict";
  var CASE_COLOURS = { demolish: "#e31a1c", classify: "#ff7f00", verify: "#6a3d9a", none: "#969696" };
  var admin = L.geoJSON(null, { style: { color: "#1f78b4", weight: 2, fill: false }, interactive: false });
  var farmland = L.geoJSON(null, {
    style: { color: "#33a02c", weight: 1, fillColor: "#33a02c", fillOpacity: 0.25 }, interactive: false,
  });
  var cases = L.geoJSON(null, {
    style: function (f) {
      var p = f.properties;
      var colour = p.still_violating ? CASE_COLOURS[p.disposition] || "#000" : CASE_COLOURS.none;
      return { color: colour, weight: 2, fillColor: colour, fillOpacity: 0.6 };
    },
    onEachFeature: function (f, layer) {
      layer.bindPopup(casePopup(f.properties));
    },
  });
  admin.addTo(map);
  farmland.addTo(map);
  cases.addTo(map);
  L.control.layers(null, { "乡镇/村界 admin": admin, "永久基本农田 farmland": farmland, "案件 cases": cases },
    { collapsed: false }).addTo(map);
  var status = document.getElementById("rl-status");
  var generation = 0;

  function fmt(v, digits) { return v === null || v === undefined ? "—" : Number(v).toFixed(digits); }

  function casePopup(p) {
    var mu = 666.667;
    return "<div class='rl-popup'><b>" + p.code + "</b><br>" +
      "状态 status: " + p.status + (p.still_violating ? "" : " (no longer violating)") + "<br>" +
      "时段 period: " + p.period + (p.date_conflict ? " ⚠ date conflict" : "") + "<br>" +
      "处置 disposition: " + p.disposition + "<br>" +
      "八不准: " + (p.rules || "—") + "<br>" +
      "占地 footprint: " + fmt(p.footprint_m2, 1) + " m² (" + fmt(p.footprint_m2 / mu, 3) + " 亩)<br>" +
      "永久基本农田 farmland: <span class='rl-farmland-m2'>" + fmt(p.farmland_m2, 1) + "</span> m² (" +
      fmt(p.farmland_m2 / mu, 3) + " 亩)<br>" +
      "耕地 cultivated: " + fmt(p.cultivated_m2, 1) + " m²<br>" +
      "截止日后 after cutoff: " + fmt(p.after_cutoff_m2, 1) + " m²<br>" +
      "村 village: " + (p.village_code || "—") + "</div>";
  }

  function load(url, layer) {
    return fetch(url, { headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(url + ": " + r.status); } return r.json(); })
      .then(function (fc) { return { fc: fc, layer: layer }; });
  }

  function refresh() {
    var mine = ++generation;
    var b = map.getBounds();
    var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(6); })
      .join(",");
    var params = new URLSearchParams(window.location.search);
    var filters = "";
    ["township", "village", "status", "period", "disposition", "rule"].forEach(function (k) {
      if (params.get(k)) { filters += "&" + k + "=" + encodeURIComponent(params.get(k)); }
    });
    status.textContent = "loading…";
    Promise.all([
      load("/api/layers/admin?limit=2000&bbox=" + bbox, admin),
      map.getZoom() >= 13 ? load("/api/layers/farmland?limit=8000&bbox=" + bbox, farmland) : null,
      load("/api/cases?format=geojson&limit=5000&bbox=" + bbox + filters, cases),
    ]).then(function (results) {
      if (mine !== generation) { return; }
      var shown = 0;
      var total = 0;
      var openCode = null;  // a popup the user has open survives the reload its own auto-pan triggers
      cases.eachLayer(function (l) { if (l.isPopupOpen()) { openCode = l.feature.properties.code; } });
      results.forEach(function (res) {
        if (res === null) { return; }
        res.layer.clearLayers();
        if (!res.fc.truncated) { res.layer.addData(res.fc); }
        if (res.layer === cases) { shown = res.fc.features.length; total = res.fc.total; }
      });
      if (openCode) {
        cases.eachLayer(function (l) { if (l.feature.properties.code === openCode) { l.openPopup(); } });
      }
      if (map.getZoom() < 13) { farmland.clearLayers(); }
      status.textContent = shown + " / " + total + " cases in view" +
        (shown < total ? " — zoom in to see all" : "");
      status.setAttribute("data-cases", String(shown));
    }).catch(function (err) {
      status.textContent = "error: " + err.message;
    });
  }

  map.on("moveend", refresh);
  refresh();
}
