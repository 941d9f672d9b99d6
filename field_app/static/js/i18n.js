// Words of the field app: Chinese by default, English when the inspector picks it. Labels of the server's codes
// (statuses, periods, photo kinds...) come from the server's page config (/api/config), cached for offline use.

const EN = {
  title: "Redline field check", username: "Username", password: "Password", login: "Log in", logout: "Log out",
  mycases: "My cases", bydeadline: "by deadline", bydistance: "by distance", refresh: "Refresh", queue: "To sync",
  back: "Back", step: "Work on site", verdict: "Verdict", illegal: "Illegal", uncertain: "Uncertain", legal: "Legal",
  findings: "Findings (八不准)", notes: "Notes", photo: "Photos", photokind: "Photo kind", submit: "Queue and send",
  history: "History", photos: "Photos on file", online: "online", offline: "offline", noserver: "server unreachable",
  empty: "No case is assigned to you.", queueempty: "Nothing waiting to be sent.", retry: "Retry now",
  notcached: "Offline, and this case is not stored on this phone: open it once online.",
  cached: "offline ready", period: "Period", periodreason: "Why the period differs (what the evidence shows)",
  reason: "Reason", needs: "This step needs", synced: "sent", wrongcredentials: "Wrong username or password",
  remove: "Remove", patrol: "Patrol", patrolstart: "Start a patrol", patrolend: "End the patrol",
  addfinding: "Note a finding", patrolling: "patrolling", fixes: "fixes", findingsn: "findings", finding: "Finding",
  inbox: "My areas (field chief)", opencases: "open cases", overdue: "overdue", openland: "abandoned land open",
  tohandle: "findings to handle", myfindings: "My findings (last 30 days)",
  patrols: "patrols this month", nofix: "No position yet: wait a moment",
  shorttrack: "Fewer than two fixes: walk a little before ending",
  status: "Status", disposition: "Disposition", prohibitions: "Prohibitions (八不准)", footprint: "Footprint m² / mu",
  farmland: "Permanent farmland m² / mu", remaining: "Unrectified m²", deadline: "Deadline",
  changepassword: "Change password", currentpassword: "Current password", newpassword: "New password",
  repeatpassword: "Once more", passwordmismatch: "The two new passwords differ",
  passwordchanged: "Password changed: log in with the new one",
  report: "Progress report", reporttext: "What was done",
  reportneeds: "137: a case not finished within 3 days reports its progress every 7 days. While a demolition or rectification is under way, give the area left.",
  reportremaining: "Unrectified m² left (optional)", reportsend: "Queue and send the report",
};
const ZH = {
  noserver: "服务器无响应", online: "在线", offline: "离线", empty: "暂无指派给您的案件。", queueempty: "没有待同步的内容。",
  retry: "立即重试", notcached: "离线且此案件未缓存到本机：联网后打开一次即可离线查看。", cached: "已离线缓存",
  synced: "已发送", wrongcredentials: "用户名或密码错误", remove: "移除",
};

let lang = localStorage.getItem("redline.lang") || "zh";
let config = JSON.parse(localStorage.getItem("redline.config") || "null");

export function language() { return lang; }
export function setLanguage(value) {
  lang = value;
  localStorage.setItem("redline.lang", value);
  // The same choice for the desk pages (the server renders them in the cookie's language).
  document.cookie = `redline_lang=${value}; path=/; max-age=31536000; samesite=lax`;
}
export function setConfig(value) { config = value; localStorage.setItem("redline.config", JSON.stringify(value)); }
export function getConfig() { return config || { labels: {}, evidence: { max_distance_m: 30 } }; }

/** A sentence written in both languages where it is used (a step's needs, a reason a step cannot be sent). */
export function word(zh, en) { return lang === "en" ? en : zh; }

/** A word of the app. */
export function t(key, zh) { return lang === "en" ? EN[key] || zh || key : ZH[key] || zh || EN[key] || key; }

/** A server code as the inspector reads it: its Chinese label (with the code in English mode). */
export function label(kind, code) {
  if (code === null || code === undefined || code === "") { return "—"; }
  const names = (getConfig().labels || {})[kind] || {};
  return lang === "en" ? String(code) : names[code] || String(code);
}

/** A message the server or the queue wrote in both languages ({zh, en}), or plain text, as the inspector reads it. */
export function errorText(error) {
  return typeof error === "object" && error !== null ? (lang === "en" ? error.en : error.zh) : String(error);
}

/** Every element with data-t gets its word; the Chinese in the page is the default. */
export function translate(root = document) {
  for (const el of root.querySelectorAll("[data-t]")) {
    if (!el.dataset.zh) { el.dataset.zh = el.textContent; }
    el.textContent = lang === "en" ? t(el.dataset.t, el.dataset.zh) : el.dataset.zh;
  }
}

/** An ISO instant in Asia/Shanghai, with the zone shown. */
export function localTime(iso) {
  if (!iso) { return "—"; }
  return `${new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hour12: false }).format(new Date(iso))} (UTC+8)`;
}
