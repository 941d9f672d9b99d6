// Search opens exactly the case searched: its exact code, else the one case whose code begins with the text or
// ends with "-" + the text (the house id). The case is outlined on the map and opened in the panel.
import { getJSON } from "../common/api.js";
import { t } from "../common/lang.js";

export function createSearch(map, layers, panel, status) {
  async function find(text) {
    const code = text.trim();
    if (!code) { return; }
    const get = (q) => getJSON(`/api/cases?format=geojson&limit=2&${q}`);
    let fc = await get(`code=${encodeURIComponent(code)}`);
    if (!fc.features.length) { fc = await get(`search=${encodeURIComponent(code)}`); }
    if (fc.features.length !== 1) {
      status.textContent = fc.features.length
        ? t(`${fc.total} 件案件与「${code}」相符：请输入更完整的编号`, `${fc.total} cases match "${code}": type more of the code`)
        : t(`没有案件「${code}」`, `No case "${code}"`);
      return;
    }
    const feature = fc.features[0];
    map.fitBounds(layers.select(feature), { maxZoom: 18 });
    panel.show(feature.properties.id);
  }
  return { find };
}
