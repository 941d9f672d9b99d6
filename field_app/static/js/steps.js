// The inspector's steps on site, and what each needs before the inspector leaves: which server action it is,
// which photos, which fields. The server checks again (the workflow's guards); this says it up front.
import { getConfig, label, t, word } from "./i18n.js";

/** Field steps in workflow order; "photos" adds evidence without changing the case. */
export const STEPS = {
  verify: { kind: "panorama", minPhotos: 0, needs: () => word("选择核查结论；认定违法时须确定建房时段；可附现场照片。",
    "a verdict; an illegal verdict needs the period of construction; site photos optional.") },
  record_demolition: { kind: "after_demolition", minPhotos: 1, needs: () => word("至少 1 张拆除现场照片。",
    "at least 1 photo of the demolition site.") },
  restore: { kind: "after_demolition", minPhotos: 1, needs: () => word("至少 1 张拆除复耕后的照片。",
    "at least 1 photo of the land restored to cultivation.") },
  reinspect: { kind: "after_demolition", minPhotos: 1,
    needs: () => word(`至少 1 张在记录拆除之后、在房屋原址（${getConfig().evidence.max_distance_m} 米内）拍摄的照片（照片须带位置和拍摄时间）。`,
      `at least 1 photo taken at the house (within ${getConfig().evidence.max_distance_m} m) after the demolition was recorded, with its position and capture time.`) },
  photos: { kind: "panorama", minPhotos: 1, needs: () => word("只补充照片，不改变案件状态。",
    "photos only; the case's state does not change.") },
};

/** The steps an inspector can take on this case now (from the server's allowed actions), photos always. */
export function stepsFor(caseProps) {
  const allowed = new Set(caseProps.allowed_actions || []);
  return [...Object.keys(STEPS).filter((s) => s !== "photos" && allowed.has(s)), "photos"];
}

export function stepLabel(step) { return step === "photos" ? t("photo", "补充照片") : label("action", step); }

/**
 * What to queue for a step: the transitions (in order) and any problem that stops it being sent.
 * A different period is never set inside `verify` (except establishing an unknown one as an increment): it
 * is a request with a reason and evidence, which the county decides.
 */
export function plan(step, caseProps, form, photoCount) {
  const spec = STEPS[step];
  if (photoCount < spec.minPhotos) { return { problem: `${stepLabel(step)}${word("：", ": ")}${spec.needs()}` }; }
  if (step === "photos") { return { transitions: [] }; }
  const note = form.get("note") || undefined;
  if (step !== "verify") { return { transitions: [{ action: step, payload: { note } }] }; }
  const verdict = form.get("verdict");
  if (!verdict) { return { problem: word("请选择核查结论。", "Choose a verdict.") }; }
  const payload = { verdict, field_rules: form.getAll("field_rules").map(Number), note };
  if (verdict === "legal") {
    if (!form.get("legal_reason")) { return { problem: word("认定无问题须选择依据。", "A legal verdict needs its ground.") }; }
    payload.legal_reason = form.get("legal_reason");
  }
  const current = caseProps.period;
  const period = form.get("period") || current;
  const transitions = [];
  if (period !== current) {
    if (current === "unknown" && period === "after_cutoff") {
      payload.period = period;  // establishing an unknown period as an increment: zero tolerance, no request
    } else {
      const reason = (form.get("period_reason") || "").trim();
      if (!reason) { return { problem: word("变更时段须说明依据（证据显示什么）。",
        "A different period needs its reason (what the evidence shows).") }; }
      if (photoCount < 1) { return { problem: word("变更时段须附证据照片（合同、票据或现场照片）。",
        "A different period needs evidence photos (a contract, receipts or the site).") }; }
      if (verdict === "illegal" && current === "unknown") {
        return { problem: word("时段未定前不能认定违法：请选“存疑”并申请变更时段，由县级决定。",
          "No illegal verdict before the period is known: choose Uncertain and request the period; the county decides.") };
      }
      transitions.push({ action: "request_period", payload: { period, reason, evidence: [] }, evidence: true });
    }
  } else if (verdict === "illegal" && current === "unknown") {
    return { problem: word("认定违法须确定时段（2020年7月3日前或起）。",
      "An illegal verdict needs the period (before 2020-07-03, or from it on).") };
  }
  transitions.push({ action: "verify", payload });
  return { transitions };
}
