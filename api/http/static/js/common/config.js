// The page configuration the server embeds (labels of every code, palette, thresholds): one home per fact,
// on the server (api/http/config.py); pages never spell a label or a colour themselves.

let config = null;

export function getConfig() {
  if (!config) {
    const el = document.getElementById("rl-config");
    config = el ? JSON.parse(el.textContent) : { labels: {}, colours: { cases: {}, layers: {} }, legend: [] };
  }
  return config;
}

/** The label of a code in the user's language ("已指派" / "assigned"), or the code itself when it has none. */
export function label(kind, code) {
  if (code === null || code === undefined || code === "") { return "—"; }
  const names = getConfig().labels[kind] || {};
  return names[code] || String(code);
}

/** The label with its code beside it ("已指派 assigned"), for places where officials need both (once, when
 * the English label is the code itself). */
export function labelled(kind, code) {
  const name = label(kind, code);
  return name.replaceAll(" ", "_") === String(code) || name === "—" ? name : `${name} ${code}`;
}

/** The colour a case is drawn in (the same rule as api/mapview/style.case_colour). */
export function caseColour(p) {
  const c = getConfig().colours;
  if (p.status === "closed") { return c.closed; }
  if (p.still_violating === false) { return c.cases.none; }
  return c.cases[p.disposition] || "#000000";
}

/** Fill a select with the kinds of report period (月通报, 季核, 年度评估: the server's labels), `chosen` selected
 * when it is one of them, else the month. */
export function fillPeriodKinds(select, chosen) {
  const kinds = Object.keys(getConfig().labels.report_period || { month: "" });
  select.replaceChildren(...kinds.map((code) => {
    const option = document.createElement("option");
    option.value = code;
    option.textContent = label("report_period", code);
    return option;
  }));
  select.value = kinds.includes(chosen) ? chosen : "month";
}
