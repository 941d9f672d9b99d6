"""The case workflow: every state, every action, who may take it and when — in one module.

Increment path (after the cutoff, zero tolerance):
    new → assigned → verified → notice_served → demolishing → demolished → restored (拆除复耕)
        → reinspected (a photo taken at the house after the demolition) → submitted → closed
Stock path (before the cutoff, 分类处置):
    new → assigned → verified → classified (confiscate / fine_keep / legalise) → rectified → submitted → closed
    classified (demolish) → notice_served → … → reinspected → submitted → closed   (the same steps and evidence
        as an increment: a stock demolition is recorded, restored and re-inspected, and counted as such)
Extension (an old house with a new part): the new part goes the increment path; after its re-inspection
    the old part is classified (reinspected → classified → rectified → submitted).
Legal verdict (无问题):  verified → submitted → closed. Never for a house on permanent basic farmland.
Review: the township submits; the county reviewer passes (closing the case, only when the remaining
unrectified area is 0) or returns it with a reason (退回整改) to the state it was submitted from; the finish
clock then runs again from the return.
County sign-offs, in any open state: `file` (立案, with its number); `decide_period` on an inspector's or
township's `request_period` (a change of period — the only way out of, or across, the zero-tolerance path —
needs a reason and evidence, and waits for the county: until then the case keeps its period and deadlines).
An approved change into zero tolerance voids a decision to keep the house (classified or rectified): the case
goes back to `verified`, to be demolished.
Reopened: a scan that still finds a house whose demolition was recorded, after the houses were surveyed
again, puts its case in `reopened` (event `reappeared`), back with the township on a new 137 clock.
Above the county (审核层级 county → city → province): a case the county closed (销号) is reviewed by the city,
then the province, in their own systems; the county records each level's word (`upper_pass`, `upper_return`),
one level after the other. A return (退回整改) puts the case back where it was submitted from, unfinished, on a
new finish clock, as the county's own return does; the review is over when the province has passed it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from api.accounts.roles import COUNTY_ROLES, FIELD_ROLES, ROLE_NAMES, TOWNSHIP_DECIDERS, Role
from api.errors import Message
from gis.rules import FIELD_ONLY_PROHIBITIONS, PERIOD_NAMES, Period


class Status(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    VERIFIED = "verified"
    NOTICE_SERVED = "notice_served"
    DEMOLISHING = "demolishing"
    DEMOLISHED = "demolished"
    RESTORED = "restored"
    REINSPECTED = "reinspected"
    CLASSIFIED = "classified"
    RECTIFIED = "rectified"
    SUBMITTED = "submitted"
    CLOSED = "closed"
    REOPENED = "reopened"  # a recorded demolition that a later survey contradicts (sham demolition)


class ReviewLevel(StrEnum):
    """The review levels above the county (the county's own is `pass_review` / `return`)."""

    CITY = "city"
    PROVINCE = "province"


#: The levels above the county in the order they review a case the county closed: each after the one before.
UPPER_LEVELS: tuple[ReviewLevel, ...] = (ReviewLevel.CITY, ReviewLevel.PROVINCE)
REVIEW_LEVEL_NAMES: dict[str, str] = {"city": "市级", "province": "省级"}


#: The highest level above the county that passed a case: a `ReviewLevel`, or none yet — None, or NaN as a frame
#: of cases (a snapshot, a list) carries a missing value.
PassedLevel = str | float | None


def awaited_level(upper_passed: PassedLevel) -> ReviewLevel | None:
    """The level whose word a closed case waits for, given the highest level that passed it since the county
    did (none: the city; the city: the province); None once the province passed it (the review is over)."""
    passed = [level.value for level in UPPER_LEVELS]
    index = passed.index(upper_passed) + 1 if isinstance(upper_passed, str) and upper_passed in passed else 0
    return UPPER_LEVELS[index] if index < len(UPPER_LEVELS) else None


def upper_review_words(status: str, upper_passed: PassedLevel) -> Message | None:
    """Where a case stands above the county, in both languages (the map's panel shows the user's, the exports'
    上级审核 the Chinese): None until the county closed it."""
    if status != Status.CLOSED:
        return None
    upper_passed = upper_passed if isinstance(upper_passed, str) else None
    awaited = awaited_level(upper_passed)
    if awaited is None:
        last = UPPER_LEVELS[-1]
        return Message(f"{REVIEW_LEVEL_NAMES[last]}审核通过，审核结束", f"passed by the {last.value}: review over")
    waiting = Message(f"待{REVIEW_LEVEL_NAMES[awaited]}审核", f"awaiting the {awaited.value}")
    if not upper_passed:
        return waiting
    return Message(f"{REVIEW_LEVEL_NAMES[upper_passed]}已通过，{waiting.zh}",
                   f"passed by the {upper_passed}, {waiting.en}")


def upper_review_text(status: str, upper_passed: PassedLevel) -> str:
    """Where a case stands above the county, in Chinese (the exports' 上级审核): empty until the county closed it."""
    words = upper_review_words(status, upper_passed)
    return words.zh if words else ""


#: Chinese names of the states (for users; the code beside them).
STATUS_NAMES: dict[str, str] = {
    "new": "新发现", "assigned": "已指派", "verified": "已核查", "notice_served": "已送达通知", "demolishing": "拆除中",
    "demolished": "已拆除", "restored": "已复耕", "reinspected": "已复核", "classified": "已分类处置",
    "rectified": "已整改", "submitted": "待县级审核", "closed": "已销号", "reopened": "已重新打开（疑似假拆）"}


class Verdict(StrEnum):
    ILLEGAL = "illegal"  # 有问题
    UNCERTAIN = "uncertain"  # 存疑
    LEGAL = "legal"  # 无问题


VERDICT_NAMES: dict[str, str] = {"illegal": "有问题", "uncertain": "存疑", "legal": "无问题"}
#: Where a case came from (`Case.origin`): what opened it.
CASE_ORIGIN_NAMES: dict[str, str] = {"scan": "房屋普查比对", "lead": "卫片图斑", "growth": "存量房屋扩建",
                                     "imagery": "影像比对", "patrol": "巡田发现"}

LEGAL_REASONS = frozenset({"approved_homestead", "rural_road", "facility_farmland", "other"})
#: Legal reasons that declare a *house* lawful — never on permanent basic farmland. The others say the
#: footprint is no house at all (a rural road) or a farming facility the rules allow on farmland
#: (设施农业用地, 自然资规〔2019〕4号): those remain possible there.
HOUSE_REASONS = frozenset({"approved_homestead", "other"})
STOCK_DECISIONS = frozenset({"demolish", "confiscate", "fine_keep", "legalise"})
DECISION_NAMES: dict[str, str] = {"demolish": "拆除", "confiscate": "没收", "fine_keep": "罚款保留",
                                  "legalise": "补办手续"}
LEGAL_REASON_NAMES: dict[str, str] = {"approved_homestead": "已批宅基地", "rural_road": "农村道路",
                                      "facility_farmland": "设施农业用地", "other": "其他"}
#: Stock decisions that leave the house standing: never on permanent basic farmland, and void once the house is
#: found to be an increment. Confiscation (没收) is one: it takes the building, not the house off the land, and
#: 土地管理法 第77条 allows it only where the building conforms to the land-use plan, which on permanent basic
#: farmland (第35条) it never does.
KEEPS_THE_HOUSE = frozenset({"confiscate", "fine_keep", "legalise"})
INCREMENT_PERIODS = frozenset({Period.AFTER_CUTOFF.value, Period.EXTENDED_AFTER_CUTOFF.value})
#: Periods in which no decision keeps the house: built wholly from the cutoff on (an extension's old part is stock).
NEVER_KEPT_PERIODS = frozenset({Period.AFTER_CUTOFF.value})
#: States from which a township may submit for review.
SUBMITTABLE = frozenset({Status.REINSPECTED, Status.RECTIFIED, Status.VERIFIED})


class TransitionRefused(Exception):
    """An action that the case's state, the data or the user's role does not allow (HTTP 409)."""

    def __init__(self, message: Message) -> None:
        super().__init__(str(message))
        self.message = message


@dataclass(frozen=True)
class CaseState:
    """What the rules need to know about a case to decide an action."""

    status: str
    period: str
    verdict: str | None
    remaining_m2: float
    photos_after_demolition: int = 0
    resume_status: str | None = None
    #: Why no photo counts for re-inspection (shown when it is refused).
    reinspection_refusal: Message | None = None
    #: The house lies on permanent basic farmland (八不准 1 at the last scan), and by how much.
    on_permanent_farmland: bool = False
    farmland_m2: float = 0.0
    #: The stock decision (classify), if any.
    decision: str | None = None
    #: A change of period asked for and not yet decided by the county.
    requested_period: str | None = None
    #: Filed (立案) already.
    filed: bool = False
    #: An extension's old part on farmland or unapproved cultivated land (m², `measures.old_part_m2`) not yet
    #: classified: what is classified once the new part is demolished, whatever a progress report says remains
    #: (0 once decided: an old part classified `demolish` is demolished in turn, and nothing is left after it).
    old_part_m2: float = 0.0
    #: The county has returned the case (退回整改) at least once: its decision may be taken again.
    returned: bool = False
    #: New construction reported on patrol at the house of this stock case and not yet checked (a finding
    #: `stock_case` unhandled): the case is not passed with a wing standing unseen.
    unchecked_growth: bool = False
    #: The highest review level above the county that passed the case since the county closed it (`ReviewLevel`).
    upper_passed: str | None = None


@dataclass(frozen=True)
class Action:
    """An action: the states it starts from, the roles that may take it, its guard and its target."""

    name: str
    sources: frozenset[Status]
    roles: frozenset[Role]
    target: Callable[[CaseState, dict[str, Any]], Status]
    guard: Callable[[CaseState, dict[str, Any]], Message | None] = lambda _c, _p: None
    #: Whether the action is on offer at all (a decision needs something to decide; filing, a case unfiled).
    available: Callable[[CaseState], bool] = lambda _c: True


def _is_increment(case: CaseState) -> bool:
    return case.period in INCREMENT_PERIODS


def _guard_verify(case: CaseState, payload: dict[str, Any]) -> Message | None:
    verdict = payload.get("verdict")
    if verdict not in {v.value for v in Verdict}:
        return Message(f"核查结论须为：{'、'.join(f'{n} {c}' for c, n in VERDICT_NAMES.items())}",
                       f"verdict must be one of {', '.join(v.value for v in Verdict)}")
    if verdict == Verdict.LEGAL and payload.get("legal_reason") not in LEGAL_REASONS:
        return Message(f"结论为无问题时须写明依据（legal_reason）：{'、'.join(LEGAL_REASON_NAMES.values())}",
                       f"a legal verdict needs legal_reason: one of {', '.join(sorted(LEGAL_REASONS))}")
    if verdict == Verdict.LEGAL and case.on_permanent_farmland and payload.get("legal_reason") in HOUSE_REASONS:
        return _farmland_refusal(case)
    period = payload.get("period", case.period)
    if period not in {p.value for p in Period}:
        return Message(f"未知的时段 {period!r}", f"unknown period {period!r}")
    if period != case.period and not (case.period == Period.UNKNOWN and period == Period.AFTER_CUTOFF):
        return Message(f"本案时段为「{_period(case.period)}」：改为「{_period(period)}」须申请变更时段"
                       "（附理由和证据），由县级审核决定；决定之前案件保持原时段",
                       f"the period is {case.period}: changing it to {period} is a request (request_period, with a "
                       "reason and evidence) that a county reviewer decides; the case keeps its period until then")
    if verdict == Verdict.ILLEGAL and period == Period.UNKNOWN:
        return Message("结论为有问题时须在现场确定时段（2020年7月3日前 / 后）",
                       "an illegal verdict needs the period established on site (period: before_cutoff / after_cutoff)")
    bad = set(payload.get("field_rules", [])) - FIELD_ONLY_PROHIBITIONS
    if bad:
        return Message(f"巡查员只能补充八不准第 3、5、7 项（收到 {sorted(bad)}）",
                       f"inspectors add only 八不准 codes 3, 5, 7 (got {sorted(bad)})")
    return None


def _period(code: str) -> str:
    return PERIOD_NAMES.get(code, code)


def _guard_illegal_increment(case: CaseState, _payload: dict[str, Any]) -> Message | None:
    if case.verdict != Verdict.ILLEGAL:
        return Message("只有核查为有问题的案件才进入拆除", "only a case verified illegal goes to demolition")
    if not _is_increment(case):
        return Message("只有增量（2020年7月3日及以后建设）不经分类直接拆除；存量须先分类处置",
                       "only an increment (built from 2020-07-03 on) is demolished without classification; "
                       "classify stock")
    return None


def _guard_notice(case: CaseState, payload: dict[str, Any]) -> Message | None:
    if case.status == Status.CLASSIFIED:
        if case.decision != "demolish":
            decided = DECISION_NAMES.get(case.decision or "", case.decision)
            return Message(f"拆除通知须以拆除决定为前提；本案分类处置为「{decided}」",
                           f"a notice to demolish follows a demolition decision; this case was classified "
                           f"{case.decision}")
        return None
    return _guard_illegal_increment(case, payload)


def _guard_rectify(case: CaseState, _payload: dict[str, Any]) -> Message | None:
    if case.decision == "demolish":
        return Message("拆除决定与增量一样须经送达通知、拆除、复耕和复核（拆除复耕）：请送达拆除通知",
                       "a demolition decision goes through notice, demolition, restoration and re-inspection "
                       "(拆除复耕), like an increment: serve_notice")
    return None


def void_keep_decision(case: CaseState) -> Message | None:
    """Why the case's stock decision to keep the house standing is void, or None: on permanent basic farmland (土地
    管理法 第35条、第77条; confiscation was accepted there until stop 35), or on a house built from the cutoff on
    (zero tolerance; a change of period into it kept the decision until stop 35). Such a case is neither submitted
    nor passed; the township classifies it again, and only demolition is accepted."""
    if case.decision not in KEEPS_THE_HOUSE:
        return None
    if case.on_permanent_farmland:
        return _farmland_refusal(case)
    if case.period in NEVER_KEPT_PERIODS:
        return _increment_refusal()
    return None


def _may_classify(case: CaseState) -> bool:
    """Classify is on offer before a decision, and once more only where the decision taken is void or the county
    returned the case (a return may say the decision itself is wrong: before, a returned `rectified` case could
    only be submitted again as it was). Re-inspected, an extension's old part is classified once: after its own
    demolition (classified `demolish`) there is nothing left to decide (before, the old part was asked for again
    after every demolition, and the case never closed)."""
    if case.status == Status.REINSPECTED:
        return case.decision is None
    return (case.status not in (Status.CLASSIFIED, Status.RECTIFIED) or case.returned
            or void_keep_decision(case) is not None)


def _guard_illegal_stock(case: CaseState, payload: dict[str, Any]) -> Message | None:
    if not _may_classify(case):
        decided = DECISION_NAMES.get(case.decision or "", case.decision)
        return Message(f"本案已分类处置为「{decided}」", f"the case is classified already ({case.decision})")
    if case.verdict != Verdict.ILLEGAL:
        return Message("只有核查为有问题的案件才分类处置", "only a case verified illegal is classified")
    if case.status == Status.REINSPECTED and case.period != Period.EXTENDED_AFTER_CUTOFF:
        return Message("只有扩建房屋的旧有部分在新建部分拆除后分类处置",
                       "only an extension's old part is classified after its new part was demolished")
    if _is_increment(case) and case.status == Status.VERIFIED:
        return Message("增量零容忍，不分类处置：请送达拆除通知（扩建房屋的旧有部分在新建部分拆除并复核后分类处置）",
                       "an increment is not classified: zero tolerance, serve the demolition notice (an extension's "
                       "old part is classified once its new part is demolished and re-inspected)")
    if payload.get("decision") not in STOCK_DECISIONS:
        return Message(f"处置决定须为：{'、'.join(f'{n} {c}' for c, n in DECISION_NAMES.items())}",
                       f"decision must be one of {', '.join(sorted(STOCK_DECISIONS))}")
    if payload.get("decision") in KEEPS_THE_HOUSE and case.on_permanent_farmland:
        return _farmland_refusal(case)
    if payload.get("decision") in KEEPS_THE_HOUSE and case.period in NEVER_KEPT_PERIODS:
        return _increment_refusal()
    return None


def _increment_refusal() -> Message:
    return Message("房屋为2020年7月3日及以后新建的增量，零容忍，任何人不得补办手续、罚款保留或没收保留，只能拆除复耕",
                   "the house was built from 2020-07-03 on: an increment, zero tolerance — no one may legalise, keep "
                   "for a fine or confiscate and keep it: it is demolished and the land restored")


def _farmland_refusal(case: CaseState) -> Message:
    return Message(f"房屋占用永久基本农田 {case.farmland_m2:.2f} m²，任何人不得补办手续、罚款保留或没收保留，"
                   "只能拆除复耕（土地管理法 第35条、第77条）",
                   f"the house occupies {case.farmland_m2:.2f} m² of permanent basic farmland (永久基本农田), which "
                   "no one may legalise, keep for a fine or confiscate and keep: it is demolished and the land "
                   "restored (土地管理法 第35条, 第77条)")


def _guard_reinspect(case: CaseState, _payload: dict[str, Any]) -> Message | None:
    if case.photos_after_demolition < 1:
        return case.reinspection_refusal or Message("复核须有拆除后在房屋现场拍摄的照片",
                                                    "re-inspection needs a photo taken at the house after demolition")
    return None


def _void_keep_refusal(case: CaseState, why: Message) -> Message:
    decided = DECISION_NAMES.get(case.decision or "", case.decision)
    return Message(f"本案分类处置为「{decided}」，但{why.zh}：请重新分类处置为拆除",
                   f"the case was classified {case.decision}, but {why.en}: classify it again (demolish)")


def _guard_submit(case: CaseState, _payload: dict[str, Any]) -> Message | None:
    if why := void_keep_decision(case):
        return _void_keep_refusal(case, why)
    if case.status == Status.VERIFIED and case.verdict != Verdict.LEGAL:
        return Message("已核查的案件只有结论为无问题时才直接提交审核",
                       "a verified case is submitted directly only with a legal verdict")
    if case.requested_period is not None:
        return Message(f"变更时段为「{_period(case.requested_period)}」的申请尚待县级决定",
                       f"a change of period to {case.requested_period} awaits the county's decision")
    if case.status == Status.REINSPECTED and case.period == Period.EXTENDED_AFTER_CUTOFF and case.old_part_m2 > 0:
        return Message(f"新建部分已拆除；旧有部分（{case.old_part_m2:.2f} m²）接下来分类处置，再整改到位",
                       f"the new part is demolished; the old part ({case.old_part_m2:.2f} m²) is classified next "
                       "(classify), then rectified")
    return None


def _guard_file(case: CaseState, payload: dict[str, Any]) -> Message | None:
    if case.filed:
        return Message("本案已立案", "the case is filed (立案) already")
    if not str(payload.get("file_number", "")).strip():
        return Message("立案须填写立案号（file_number）", "filing (立案) needs the file number (立案号): file_number")
    return None


def _guard_request_period(case: CaseState, payload: dict[str, Any]) -> Message | None:
    period = payload.get("period")
    if period not in {p.value for p in Period} or period == Period.UNKNOWN:
        known = [p.value for p in Period if p != Period.UNKNOWN]
        return Message(f"时段须为：{'、'.join(f'{_period(c)} {c}' for c in known)}",
                       f"period must be one of {', '.join(known)}")
    if period == case.period:
        return Message(f"本案时段已是「{_period(period)}」", f"the case's period is {period} already")
    if case.requested_period is not None:
        return Message(f"变更为「{_period(case.requested_period)}」的申请已在等待县级决定",
                       f"a change to {case.requested_period} awaits the county's decision already")
    if not str(payload.get("reason", "")).strip():
        return Message("变更时段须写明理由（例如注明日期的合同或完税凭证及其所证明的内容）",
                       "a change of period needs a reason (e.g. a dated contract or tax receipt, what it shows)")
    if not payload.get("evidence"):
        return Message("变更时段须附证据：本案的照片或拍摄的证明材料",
                       "a change of period needs evidence: the ids of photos or photographed documents on this case")
    return None


def _guard_decide_period(case: CaseState, payload: dict[str, Any]) -> Message | None:
    if case.requested_period is None:
        return Message("没有待决定的时段变更申请", "no change of period awaits a decision")
    if not isinstance(payload.get("approve"), bool):
        return Message("请选择同意或不同意（approve: true / false）", "decide with approve: true or false")
    if not str(payload.get("reason", "")).strip():
        return Message("对时段变更的决定须写明理由", "a decision on a change of period needs a reason")
    return None


def _guard_pass(case: CaseState, _payload: dict[str, Any]) -> Message | None:
    if why := void_keep_decision(case):
        return _void_keep_refusal(case, why)
    if case.unchecked_growth:
        return Message("巡田发现本案房屋处有新建，尚未核查：请先在「待处理的巡田发现」中核查处理"
                       "（属截止日后新增的，申请变更时段）",
                       "new construction was reported on patrol at this house and is not checked yet: handle that "
                       "finding first (a part built from the cutoff on is a change of period)")
    if case.remaining_m2 > 0:
        return Message(f"剩余未整改面积 {case.remaining_m2:.2f} m²；为 0 时才能销号",
                       f"remaining unrectified area is {case.remaining_m2:.2f} m²; a case closes only at 0")
    return None


def _guard_return(_case: CaseState, payload: dict[str, Any]) -> Message | None:
    if not str(payload.get("reason", "")).strip():
        return Message("退回整改须写明理由", "a returned case needs a reason (退回整改)")
    return None


def _guard_upper(case: CaseState, payload: dict[str, Any], *, needs_reason: bool) -> Message | None:
    awaited = awaited_level(case.upper_passed)
    if awaited is None:
        return Message("本案已经省级审核通过，审核已结束", "the province passed the case: its review is over")
    level = payload.get("level")
    if level != awaited.value:
        said = REVIEW_LEVEL_NAMES.get(str(level), str(level))
        return Message(f"本案待{REVIEW_LEVEL_NAMES[awaited]}审核（收到「{said}」）：各级依次审核，先市级后省级",
                       f"the case awaits the {awaited.value}'s review (got {level!r}): the levels review in turn, "
                       "the city before the province")
    if not str(payload.get("document", "")).strip():
        return Message(f"记录{REVIEW_LEVEL_NAMES[awaited]}审核意见须填写其文号（document）",
                       f"recording the {awaited.value}'s word needs the number of its document (文号): document")
    if needs_reason and not str(payload.get("reason", "")).strip():
        return Message(f"{REVIEW_LEVEL_NAMES[awaited]}退回整改须写明理由",
                       f"a return by the {awaited.value} needs its reason (退回整改)")
    return None


def _guard_upper_pass(case: CaseState, payload: dict[str, Any]) -> Message | None:
    return _guard_upper(case, payload, needs_reason=False)


def _guard_upper_return(case: CaseState, payload: dict[str, Any]) -> Message | None:
    return _guard_upper(case, payload, needs_reason=True)


def voids_the_decision(case: CaseState, payload: dict[str, Any]) -> bool:
    """Whether deciding the case's change of period voids its stock decision: an approved change into the
    zero-tolerance path of a house classified (or rectified) to be kept. Kept, it would be rectified, submitted
    and closed as an increment left standing."""
    return (payload.get("approve") is True and case.requested_period in INCREMENT_PERIODS
            and case.status in (Status.CLASSIFIED, Status.RECTIFIED) and case.decision in KEEPS_THE_HOUSE)


def _after_period_decision(case: CaseState, payload: dict[str, Any]) -> Status:
    """Where a decided change of period leaves the case: where it was, or — its keep decision void — back at
    `verified`, from where an increment goes on only by the demolition notice."""
    return Status.VERIFIED if voids_the_decision(case, payload) else Status(case.status)


#: Who files staged progress reports (137: every 7 days until the case is finished): the township's people.
PROGRESS_REPORTERS = FIELD_ROLES
#: States without progress reports: nobody holds a new case yet, and a closed one is finished.
NOT_REPORTED = frozenset({Status.NEW, Status.CLOSED})


def may_report(case: CaseState, role: str) -> bool:
    """Whether `role` may file a progress report on the case now (the desk offers the form only then)."""
    return role in {r.value for r in PROGRESS_REPORTERS} and case.status not in NOT_REPORTED


def _rectifying(case: CaseState) -> bool:
    """Rectification is under way: a demolition started and not yet re-inspected, or a stock decision keeping the
    house being carried out (confiscation, the fine, the approval after the fact)."""
    return (case.status in (Status.DEMOLISHING, Status.DEMOLISHED)
            or (case.status == Status.CLASSIFIED and case.decision in KEEPS_THE_HOUSE))


def reported_area_refusal(case: CaseState, remaining_m2: float | None) -> Message | None:
    """Why a progress report may not restate the remaining unrectified area (剩余未整改面积) as `remaining_m2`, or
    None. The area is what the monthly report publishes per township: a staged report may say that less is left
    only while a demolition or a rectification is under way (the part already pulled down, restored, or
    settled), and never that nothing is — 0 is reached by the path's own steps (拆除复耕 and its re-inspection
    by photo, 整改到位, a verdict of 无问题), each audited. Before, a report filed on a verified house still
    standing could set its remaining area, and a township's published total, to 0. Saying more is left than
    the case says is always taken (a site measured larger), as is the same figure again."""
    if remaining_m2 is None or remaining_m2 >= case.remaining_m2:
        return None
    status = STATUS_NAMES.get(case.status, case.status)
    if remaining_m2 <= 0:
        return Message(f"进展报告不能把剩余未整改面积报为 0（现为 {case.remaining_m2:.2f} m²）："
                       "为 0 须经拆除复耕并复核、整改到位或核查为无问题，由这些处置步骤记录",
                       f"a progress report cannot put the remaining unrectified area at 0 (it is "
                       f"{case.remaining_m2:.2f} m²): it reaches 0 by the path's steps — restored and re-inspected, "
                       "rectified, or verified legal")
    if not _rectifying(case):
        return Message(f"案件「{status}」时尚无拆除或整改在进行：进展报告不能调低剩余未整改面积（现为 "
                       f"{case.remaining_m2:.2f} m²，报 {remaining_m2:.2f} m²）；拆除开始后或按分类处置整改时再报",
                       f"nothing is being demolished or rectified while the case is {case.status}: a progress "
                       f"report cannot lower the remaining unrectified area ({case.remaining_m2:.2f} m² now, "
                       f"{remaining_m2:.2f} m² reported); report it once the demolition starts, or while a stock "
                       "decision is carried out")
    return None


def _fixed(status: Status) -> Callable[[CaseState, dict[str, Any]], Status]:
    return lambda _c, _p: status


def _unchanged(case: CaseState, _payload: dict[str, Any]) -> Status:
    return Status(case.status)


OPEN = frozenset(Status) - {Status.CLOSED}


ACTIONS: dict[str, Action] = {a.name: a for a in (
    Action("assign", frozenset({Status.NEW, Status.ASSIGNED, Status.REOPENED}), frozenset(Role) - {Role.INSPECTOR},
           _fixed(Status.ASSIGNED)),
    Action("verify", frozenset({Status.ASSIGNED, Status.VERIFIED}), FIELD_ROLES, _fixed(Status.VERIFIED),
           _guard_verify),
    Action("serve_notice", frozenset({Status.VERIFIED, Status.CLASSIFIED}), TOWNSHIP_DECIDERS,
           _fixed(Status.NOTICE_SERVED), _guard_notice),
    Action("start_demolition", frozenset({Status.NOTICE_SERVED}), TOWNSHIP_DECIDERS, _fixed(Status.DEMOLISHING)),
    Action("record_demolition", frozenset({Status.DEMOLISHING}), FIELD_ROLES, _fixed(Status.DEMOLISHED)),
    Action("restore", frozenset({Status.DEMOLISHED}), FIELD_ROLES, _fixed(Status.RESTORED)),
    Action("reinspect", frozenset({Status.RESTORED}), FIELD_ROLES, _fixed(Status.REINSPECTED), _guard_reinspect),
    Action("classify", frozenset({Status.VERIFIED, Status.REINSPECTED, Status.CLASSIFIED, Status.RECTIFIED}),
           TOWNSHIP_DECIDERS, _fixed(Status.CLASSIFIED), _guard_illegal_stock, _may_classify),
    Action("rectify", frozenset({Status.CLASSIFIED}), TOWNSHIP_DECIDERS, _fixed(Status.RECTIFIED), _guard_rectify),
    Action("submit", SUBMITTABLE, TOWNSHIP_DECIDERS, _fixed(Status.SUBMITTED), _guard_submit),
    Action("pass_review", frozenset({Status.SUBMITTED}), COUNTY_ROLES, _fixed(Status.CLOSED), _guard_pass),
    Action("return", frozenset({Status.SUBMITTED}), COUNTY_ROLES,
           lambda c, _p: Status(c.resume_status or Status.ASSIGNED), _guard_return),
    # The city's and the province's word on a case the county closed, recorded by the county: a pass leaves it
    # closed, a return puts it back where the township submitted it from.
    Action("upper_pass", frozenset({Status.CLOSED}), COUNTY_ROLES, _unchanged, _guard_upper_pass,
           lambda c: awaited_level(c.upper_passed) is not None),
    Action("upper_return", frozenset({Status.CLOSED}), COUNTY_ROLES,
           lambda c, _p: Status(c.resume_status or Status.ASSIGNED), _guard_upper_return,
           lambda c: awaited_level(c.upper_passed) is not None),
    Action("file", OPEN, COUNTY_ROLES, _unchanged, _guard_file, lambda c: not c.filed),
    Action("request_period", OPEN - {Status.SUBMITTED}, FIELD_ROLES, _unchanged, _guard_request_period,
           lambda c: c.requested_period is None),
    Action("decide_period", OPEN, COUNTY_ROLES, _after_period_decision, _guard_decide_period,
           lambda c: c.requested_period is not None),
)}


#: Chinese names of the actions (buttons, history).
ACTION_NAMES: dict[str, str] = {
    "assign": "指派", "verify": "现场核查", "serve_notice": "送达拆除通知", "start_demolition": "开始拆除",
    "record_demolition": "记录拆除", "restore": "拆除复耕", "reinspect": "复核", "classify": "分类处置",
    "rectify": "整改到位", "submit": "提交审核", "pass_review": "审核通过（销号）", "return": "退回整改",
    "file": "立案", "request_period": "申请变更时段", "decide_period": "决定时段变更",
    "upper_pass": "上级审核通过", "upper_return": "上级退回整改",
    "comment": "评论", "progress_report": "进展报告", "create": "发现（建案）", "rescan": "复测面积",
    "no_longer_violating": "复测不再违法", "reappeared": "复查发现房屋仍在（重新打开）",
    "patrol_finding": "巡田发现新增建房", "lead_attached": "关联卫片图斑", "house_attached": "关联测绘房屋",
    "imagery_seen": "影像显示本案建筑", "demolition_confirmed": "影像确认拆除"}
assert set(ACTIONS) <= set(ACTION_NAMES), "every action needs its Chinese name"


def event_note(action_name: str, payload: dict[str, Any]) -> str | None:
    """The note an action's audit event keeps: its reason (or note); a review above the county names its level and
    the number of the level's document ("市级（永自然资审〔2026〕15号）：…"), which the history and the dossier show:
    the county records the city's and the province's word, and the document is what it records it from."""
    note = payload.get("reason") or payload.get("note")
    if action_name in ("upper_pass", "upper_return"):
        level = REVIEW_LEVEL_NAMES.get(str(payload.get("level")), str(payload.get("level")))
        document = str(payload.get("document") or "").strip()
        said = f"{level}（{document}）" if document else level
        return f"{said}：{note}" if note else said
    return str(note) if note else None


def decide(action_name: str, case: CaseState, role: str, payload: dict[str, Any]) -> Status:
    """Return the state `action_name` leads to, or raise TransitionRefused with the reason."""
    action = ACTIONS.get(action_name)
    if action is None:
        raise TransitionRefused(Message(f"未知的操作 {action_name!r}",
                                        f"unknown action {action_name!r}; one of {', '.join(ACTIONS)}"))
    if role not in {r.value for r in action.roles}:
        raise TransitionRefused(Message(f"{ROLE_NAMES.get(role, role)}无权「{ACTION_NAMES[action_name]}」",  # type: ignore[call-overload]
                                        f"{role}s may not {action_name}"))
    if case.status not in {s.value for s in action.sources}:
        allowed = allowed_actions(case, role)
        allowed_zh = "、".join(ACTION_NAMES[a] for a in allowed) or "无"
        status_zh = STATUS_NAMES.get(case.status, case.status)
        raise TransitionRefused(Message(
            f"案件「{status_zh}」时不能「{ACTION_NAMES[action_name]}」（现在可以：{allowed_zh}）",
            f"cannot {action_name} a case that is {case.status} (allowed now: {', '.join(allowed) or 'none'})"))
    reason = action.guard(case, payload)
    if reason:
        raise TransitionRefused(reason)
    return action.target(case, payload)


def allowed_actions(case: CaseState, role: str) -> list[str]:
    """The actions this role may take on the case now (for the UI and for error messages)."""
    names = []
    for action in ACTIONS.values():
        if (case.status in {s.value for s in action.sources} and role in {r.value for r in action.roles}
                and action.available(case)):
            names.append(action.name)
    return names
