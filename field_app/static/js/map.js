// The field app's map: my cases and where I am. It keeps its view when the screen changes size (the keyboard
// opening, the phone turning): Leaflet has to be told, or it draws into the old size and shows nothing.
/* global L */

let map = null;
let cases = null;
let me = null;

export function showCases(features, colour) {
  if (!map) {
    map = L.map("map", { zoomControl: true });
    cases = L.geoJSON(null, { style: () => ({ color: colour, weight: 2 }) }).addTo(map);
    const keep = () => map.invalidateSize({ pan: false });
    window.addEventListener("resize", keep);
    window.addEventListener("orientationchange", keep);
    if (window.visualViewport) { window.visualViewport.addEventListener("resize", keep); }
  }
  map.invalidateSize({ pan: false });
  const first = cases.getLayers().length === 0;
  cases.clearLayers();
  cases.addData({ type: "FeatureCollection", features });
  if (features.length && first) { map.fitBounds(cases.getBounds(), { maxZoom: 17 }); }
  if (!features.length && first) { map.setView([25.6, 112.4], 11); }
}

export function showPosition(position) {
  if (!map || !position) { return; }
  if (!me) { me = L.circleMarker([position.lat, position.lon], { radius: 6 }).addTo(map); }
  me.setLatLng([position.lat, position.lon]);
}

export function refit() { if (map) { map.invalidateSize({ pan: false }); } }
