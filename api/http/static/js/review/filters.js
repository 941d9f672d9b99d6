// The filter form: kept in the URL (a view can be shared), villages listed for the chosen township.
import { fillVillages } from "../common/areas.js";
import { t } from "../common/lang.js";

export const FILTERS = ["code", "township", "village", "status", "period", "disposition", "rule", "overdue"];

export function createFilters(form, areas, { onFilter, onSearch }) {
  const villagesOf = (township) => fillVillages(form.elements.village, areas, township, t("村：全部", "Village: all"));

  function toUrl() {
    const q = new URLSearchParams();
    for (const k of FILTERS) { if (form.elements[k].value) { q.set(k, form.elements[k].value); } }
    history.replaceState(null, "", window.location.pathname + (q.toString() ? `?${q}` : ""));
  }

  /** The filters (not the search text) as "&key=value" for the API. */
  function asQuery() {
    let q = "";
    for (const k of FILTERS) {
      if (k !== "code" && form.elements[k].value) { q += `&${k}=${encodeURIComponent(form.elements[k].value)}`; }
    }
    return q;
  }

  const params = new URLSearchParams(window.location.search);
  for (const k of FILTERS) { if (params.get(k)) { form.elements[k].value = params.get(k); } }
  villagesOf(form.elements.township.value);
  if (params.get("village")) { form.elements.village.value = params.get("village"); }

  form.addEventListener("change", (e) => {
    if (e.target.name === "township") { villagesOf(e.target.value); }
    toUrl();
    if (e.target.name !== "code") { onFilter(); }
  });
  form.addEventListener("submit", (e) => { e.preventDefault(); toUrl(); onSearch(form.elements.code.value.trim()); });
  // Enter always searches, even when the text has not changed since the last search ("change" would not
  // fire, and the form has no button to submit it).
  form.elements.code.addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); toUrl(); onSearch(form.elements.code.value.trim()); }
  });
  return { asQuery, code: () => form.elements.code.value.trim() };
}
