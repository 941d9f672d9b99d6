// The review map's data layer: fetch what is in view, by bounding box, on every pan and zoom. At county
// zoom the server sends counts per grid cell instead of features; nothing ever ships every case at once.
/* global L */
function redlineReviewMap(map) {
  "use strict";
  var CASE_COLOURS = { demolish: "#e31a1c", classify: "#ff7f00", verify: "#6a3d9a", none: "#969696" };
  var FILTERS = ["code", "township", "village", "status", "period", "disposition", "rule", "overdue"];
  var DETAIL_ZOOM = 14;
  var admin = L.geoJSON(null, { style: { color: "#1f78b4", weight: 2, fill: false }, interactive: false });
  var farmland = L.geoJSON(null, {
    style: { color: "#33a02c", weight: 1, fillColor: "#33a02c", fillOpacity: 0.25 }, interactive: false,
  });
  var cultivated = L.geoJSON(null, {
    style: function (f) {
      var c = ["0101", "0102", "0103"].indexOf(f.properties.dlbm) >= 0;
      return { color: c ? "#b8a000" : "#bbbbbb", weight: 0.5, fillColor: c ? "#ffe680" : "#eeeeee", fillOpacity: 0.3 };
    }, interactive: false,
  });
  var houses = L.geoJSON(null, { style: { color: "#555", weight: 1, fillOpacity: 0.2 }, interactive: false });
  var clusters = L.layerGroup();
  var evidence = L.layerGroup();
  var highlight = L.layerGroup();  // the case searched for, outlined
  var cases = L.geoJSON(null, {
    style: function (f) {
      var p = f.properties;
      var colour = p.status === "closed" ? "#33a02c" : (p.still_violating ? CASE_COLOURS[p.disposition] || "#000" : CASE_COLOURS.none);
      return { color: colour, weight: p.overdue ? 4 : 2, fillColor: colour, fillOpacity: 0.6, dashArray: p.overdue ? "4" : null };
    },
    // Map features carry only what styling and filters need; a popup loads the case's numbers when opened.
    onEachFeature: function (f, layer) {
      layer.bindPopup("<div>" + esc(f.properties.code) + " …</div>", { autoPan: true });
      layer.on("popupopen", function () {
        caseDetail(f.properties.id).then(function (p) { layer.setPopupContent(casePopup(p)); });
      });
      layer.on("click", function () { highlight.clearLayers(); showPanel(f.properties.id); });
    },
  });
  [admin, cultivated, farmland, houses, clusters, evidence, cases, highlight].forEach(function (l) { l.addTo(map); });
  L.control.layers(null, { "乡镇/村界 admin": admin, "耕地 DLTB": cultivated, "永久基本农田 farmland": farmland,
    "房屋 houses": houses, "案件 cases": cases, "照片 photos": evidence }, { collapsed: true }).addTo(map);
  var status = document.getElementById("rl-status");
  var panel = document.getElementById("rl-panel");
  var form = document.getElementById("rl-filters");
  var generation = 0;
  var params = new URLSearchParams(window.location.search);
  FILTERS.forEach(function (k) { if (params.get(k) && form.elements[k]) { form.elements[k].value = params.get(k); } });
  form.addEventListener("change", applyFilters);
  form.addEventListener("submit", function (e) { e.preventDefault(); applyFilters({ target: form.elements.code }); });
  // Enter in the search box always searches, even when its text has not changed since the last search (the
  // form has several inputs and no button, so the browser would not submit it; "change" fires only on a change).
  form.elements.code.addEventListener("keydown", function (e) {
    if (e.key === "Enter") { e.preventDefault(); applyFilters({ target: form.elements.code }); }
  });

  // The URL keeps the filters, so a view can be shared; a case code jumps to that case.
  function applyFilters(event) {
    var q = new URLSearchParams();
    FILTERS.forEach(function (k) { if (form.elements[k] && form.elements[k].value) { q.set(k, form.elements[k].value); } });
    history.replaceState(null, "", window.location.pathname + (q.toString() ? "?" + q.toString() : ""));
    if (event && event.target && event.target.name === "code" && q.get("code").trim()) { findCode(q.get("code").trim()); } else { refresh(); }
  }

  function filterQuery() {
    var q = "";
    FILTERS.forEach(function (k) {
      if (k !== "code" && form.elements[k] && form.elements[k].value) { q += "&" + k + "=" + encodeURIComponent(form.elements[k].value); }
    });
    return q;
  }

  function fmt(v, digits) { return v === null || v === undefined ? "—" : Number(v).toFixed(digits); }
  function esc(s) { return String(s === null || s === undefined ? "" : s).replace(/[&<>"]/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]; }); }

  function casePopup(p) {
    return "<div class='rl-popup'><b>" + esc(p.code) + "</b><br>" +
      "状态 status: " + esc(p.status) + (p.still_violating ? "" : " (no longer violating)") + "<br>" +
      "时段 period: " + esc(p.period) + (p.date_conflict ? " ⚠ date conflict" : "") + "<br>" +
      "处置 disposition: " + esc(p.disposition) + "<br>" +
      "八不准: " + esc([p.rules, p.field_rules].filter(Boolean).join(",") || "—") + "<br>" +
      "占地 footprint: " + fmt(p.footprint_m2, 1) + " m² (" + fmt(p.footprint_mu, 3) + " 亩)<br>" +
      "永久基本农田 farmland: <span class='rl-farmland-m2'>" + fmt(p.farmland_m2, 1) + "</span> m² (" +
      fmt(p.farmland_mu, 3) + " 亩)<br>" +
      "耕地 cultivated: " + fmt(p.cultivated_m2, 1) + " m²<br>" +
      "截止日后 after cutoff: " + fmt(p.after_cutoff_m2, 1) + " m²<br>" +
      "剩余未整改 remaining: " + fmt(p.remaining_m2, 1) + " m²<br>" +
      "期限 next deadline: " + esc(p.next_deadline ? p.next_deadline_kind + " " + p.next_deadline.slice(0, 16) : "—") +
      (p.overdue ? " <b style='color:#c00'>逾期 overdue</b>" : "") + "<br>" +
      "村 village: " + esc(p.village_code || "—") + "</div>";
  }

  function cone(lat, lon, bearing) {
    var pts = [[lat, lon]];
    var r = 100 / 111320;  // 100 m in degrees of latitude
    for (var a = bearing - 30; a <= bearing + 30; a += 5) {
      var rad = a * Math.PI / 180;
      pts.push([lat + r * Math.cos(rad), lon + r * Math.sin(rad) / Math.cos(lat * Math.PI / 180)]);
    }
    return L.polygon(pts, { color: "#1565c0", weight: 1, fillOpacity: 0.15, interactive: false });
  }

  function caseDetail(id) {
    return fetch("/api/cases/" + id).then(function (r) {
      if (!r.ok) { throw new Error("case " + id + ": " + r.status); }
      return r.json();
    }).then(function (f) { return f.properties; });
  }

  // The panel shows one case and its buttons act on that case only: an answer for a case asked for earlier
  // (a slow click, then a search) is dropped, never drawn over the newer one.
  var panelRequest = 0;

  function showPanel(id) {
    var mine = ++panelRequest;
    caseDetail(id).then(function (p) {
      if (mine !== panelRequest) { return; }
      evidence.clearLayers();
      var html = "<b>" + esc(p.code) + "</b> <a href='#' id='rl-close'>✕</a><br>" + casePopup(p) +
        "<h4>照片 photos (" + p.photos.length + ")</h4>";
      p.photos.forEach(function (ph) {
        html += "<div class='rl-photo'><img class='rl-thumb' src='" + ph.thumbnail_url + "' alt=''> " +
          esc(ph.taken_at || "—") + " " + (ph.bearing_deg !== null ? fmt(ph.bearing_deg, 0) + "°" + esc(ph.bearing_ref || "") : "") +
          (ph.checks.length ? "<br><span style='color:#c00'>" + ph.checks.map(esc).join("<br>") + "</span>" : " ✓") + "</div>";
        if (ph.lat !== null) {
          L.circleMarker([ph.lat, ph.lon], { radius: 5, color: "#1565c0" }).addTo(evidence);
          if (ph.bearing_true_deg !== null) { cone(ph.lat, ph.lon, ph.bearing_true_deg).addTo(evidence); }
        }
      });
      html += actionsHtml(p);
      html += "<h4>记录 history</h4><ol>" + p.history.map(function (e) {
        return "<li>" + esc(e.at.slice(0, 16)) + " " + esc(e.actor) + " " + esc(e.action) + (e.note ? " — " + esc(e.note) : "") + "</li>";
      }).join("") + "</ol>";
      panel.innerHTML = html;
      panel.hidden = false;
      panel.dataset.caseId = String(p.id);
      panel.dataset.status = p.status;
      document.getElementById("rl-close").onclick = function (e) { e.preventDefault(); panel.hidden = true; evidence.clearLayers(); };
      panel.querySelectorAll("button[data-action]").forEach(function (b) {
        b.onclick = function () { act(p, b.dataset.action); };
      });
    });
  }

  // What an official decides at the desk. Field actions (verify, record demolition, restore, re-inspect)
  // need the inspector on site with photos: they belong to the field app, not here.
  var DESK_ACTIONS = {
    assign: { label: "指派 assign", input: "assignee", hint: "inspector (optional)" },
    serve_notice: { label: "送达拆除通知 serve notice" },
    start_demolition: { label: "开始拆除 start demolition" },
    classify: { label: "分类处置 classify", choose: ["demolish", "confiscate", "fine_keep", "legalise"], field: "decision" },
    rectify: { label: "整改到位 rectified" },
    submit: { label: "提交审核 submit" },
    pass_review: { label: "审核通过 pass review" },
    "return": { label: "退回 return", input: "reason", hint: "reason (required)" },
  };

  function actionsHtml(p) {
    var names = (p.allowed_actions || []).filter(function (a) { return DESK_ACTIONS[a]; });
    if (!names.length) { return ""; }
    return "<h4>处理 decide</h4><div id='rl-actions'>" + names.map(function (a) {
      var d = DESK_ACTIONS[a];
      var field = d.input ? "<input data-for='" + a + "' placeholder='" + esc(d.hint) + "' size='16'> "
        : d.choose ? "<select data-for='" + a + "'>" + d.choose.map(function (c) { return "<option>" + c + "</option>"; }).join("") + "</select> " : "";
      return "<div>" + field + "<button type='button' data-action='" + a + "'>" + esc(d.label) + "</button></div>";
    }).join("") + "<div id='rl-action-error' style='color:#c00'></div></div>";
  }

  function act(p, action) {
    var d = DESK_ACTIONS[action];
    var payload = {};
    var input = panel.querySelector("[data-for='" + action + "']");
    if (input && input.value.trim()) { payload[d.input || d.field] = input.value.trim(); }
    fetch("/api/cases/" + p.id + "/transitions", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ action: action, version: p.version, payload: payload }),
    }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) { throw new Error(body.error ? body.error.message : String(r.status)); }
        showPanel(p.id);
        refresh();
      });
    }).catch(function (err) {
      var box = document.getElementById("rl-action-error");
      if (box) { box.textContent = err.message; }
    });
  }

  // Search opens exactly the case searched: its exact code, else the one case whose code begins with the text
  // or ends with "-" + the text (the house id). The case is outlined on the map.
  function findCode(code) {
    var get = function (q) { return fetch("/api/cases?format=geojson&limit=2&" + q).then(function (r) { return r.json(); }); };
    get("code=" + encodeURIComponent(code)).then(function (fc) {
      return fc.features.length ? fc : get("search=" + encodeURIComponent(code));
    }).then(function (fc) {
      if (fc.features.length !== 1) {
        status.textContent = fc.features.length ? (fc.total + " cases match " + code + ": type more of the code")
          : "no case " + code;
        return;
      }
      highlight.clearLayers();
      var layer = L.geoJSON(fc.features[0], { style: { color: "#00b8d4", weight: 5, fill: false } }).addTo(highlight);
      map.fitBounds(layer.getBounds(), { maxZoom: 18 });
      showPanel(fc.features[0].properties.id);
    });
  }

  function load(url, layer) {
    return fetch(url, { headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(url + ": " + r.status); } return r.json(); })
      .then(function (fc) { return { fc: fc, layer: layer }; });
  }

  function drawClusters(body) {
    clusters.clearLayers();
    body.cells.forEach(function (c) {
      var size = 18 + Math.min(24, Math.log2(c.count + 1) * 4);
      L.marker([c.lat, c.lon], { icon: L.divIcon({ className: "rl-cluster", html: String(c.count),
        iconSize: [size, size] }) }).on("click", function () { map.setView([c.lat, c.lon], map.getZoom() + 2); })
        .addTo(clusters);
    });
  }

  function refresh() {
    var mine = ++generation;
    var b = map.getBounds();
    var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(6); }).join(",");
    var zoom = map.getZoom();
    var filters = filterQuery();
    status.textContent = "loading…";
    var detail = zoom >= DETAIL_ZOOM;
    Promise.all([
      load("/api/layers/admin?limit=2000&bbox=" + bbox, admin),
      zoom >= 13 ? load("/api/layers/farmland?limit=8000&bbox=" + bbox, farmland) : null,
      zoom >= 16 ? load("/api/layers/dltb?limit=8000&bbox=" + bbox, cultivated) : null,
      zoom >= 17 ? load("/api/layers/houses?limit=8000&bbox=" + bbox, houses) : null,
      // In detail views the server sends the cases, or their grid counts when more than 5000 are in view.
      detail ? load("/api/cases/features?limit=5000&zoom=" + zoom + "&bbox=" + bbox + filters, cases)
        : fetch("/api/cases/clusters?zoom=" + zoom + "&bbox=" + bbox + filters).then(function (r) { return r.json(); }),
    ]).then(function (results) {
      if (mine !== generation) { return; }
      var shown = 0;
      var total = 0;
      var grouped = false;
      var openCode = null;  // a popup the user has open survives the reload its own auto-pan triggers
      cases.eachLayer(function (l) { if (l.isPopupOpen()) { openCode = l.feature.properties.code; } });
      results.forEach(function (res) {
        if (res === null) { return; }
        if (res.fc && res.fc.cells) { res = res.fc; }
        if (res.cells) { cases.clearLayers(); drawClusters(res); total = res.total; grouped = true; return; }
        res.layer.clearLayers();
        if (!res.fc.truncated) { res.layer.addData(res.fc); }
        if (res.layer === cases) { clusters.clearLayers(); shown = res.fc.features.length; total = res.fc.total; }
      });
      if (zoom < 13) { farmland.clearLayers(); }
      if (zoom < 16) { cultivated.clearLayers(); }
      if (zoom < 17) { houses.clearLayers(); }
      if (openCode) {
        cases.eachLayer(function (l) { if (l.feature.properties.code === openCode) { l.openPopup(); } });
      }
      status.textContent = grouped ? total + " cases in view (grouped; zoom in to see each)"
        : shown + " / " + total + " cases in view";
      status.setAttribute("data-cases", String(shown));
      status.setAttribute("data-total", String(total));
    }).catch(function (err) {
      status.textContent = "error: " + err.message;
    });
  }

  map.on("moveend", refresh);
  if (params.get("code")) { findCode(params.get("code")); } else { refresh(); }
}
