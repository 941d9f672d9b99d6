// Numbers and times as users read them: m² and 亩 (computed by the server), Asia/Shanghai times.

const LOCAL = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit",
  day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false });

export function num(value, digits = 1) {
  return value === null || value === undefined || Number.isNaN(Number(value)) ? "—" : Number(value).toFixed(digits);
}

/** An ISO instant as "2026/11/05 14:30 (UTC+8)": Asia/Shanghai, the zone shown. */
export function localTime(iso) {
  if (!iso) { return "—"; }
  return `${LOCAL.format(new Date(iso))} (UTC+8)`;
}

/** A percentage as the server computes it (0–100: `api.reports.monthly`'s 按期办理率 (%)), e.g. 50 → "50%". */
export function percent(value) {
  return value === null || value === undefined ? "—" : `${Number(value).toFixed(0)}%`;
}

/** The current month in Asia/Shanghai, as YYYY-MM. */
export function thisMonth() {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit" })
    .formatToParts(new Date());
  return `${parts.find((p) => p.type === "year").value}-${parts.find((p) => p.type === "month").value}`;
}

/** The report period a month and a span name (api/reports/monthly.py: PERIOD_PATTERN): the month itself, its
 * quarter (YYYY-Qn, 季核) or its year (YYYY, 年度评估). */
export function periodOf(month, span) {
  const [year, mon] = month.split("-");
  return span === "year" ? year : span === "quarter" ? `${year}-Q${Math.ceil(Number(mon) / 3)}` : month;
}
