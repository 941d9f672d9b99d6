"""The abandoned-land workflow (抛荒/撂荒), beside the house workflow: every state, every action, who may take it.

    reported → remedy_decided → closed      (the township decides a remedy and its deadline; an inspector's
                                              re-inspection with a photo of the crop, taken on the parcel after
                                              the decision, closes it)
    reported / remedy_decided → dismissed   (the county only, with a reason: e.g. approved fallow 轮作休耕)

A remedy may be decided again while the record is open (a transfer falls through, the contractor replants
after all); each decision restarts its deadline. Remedies: the contractor replants (复耕复种), the land is
transferred (流转) to a grower or cooperative, or farmed as a managed service (托管) — the last two name who.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from api.accounts.roles import COUNTY_ROLES, FIELD_ROLES, ROLE_NAMES, TOWNSHIP_DECIDERS, Role
from api.cases.workflow import TransitionRefused
from api.errors import Message


class LandStatus(StrEnum):
    REPORTED = "reported"
    REMEDY_DECIDED = "remedy_decided"
    CLOSED = "closed"
    DISMISSED = "dismissed"


LAND_STATUS_NAMES: dict[str, str] = {"reported": "已登记", "remedy_decided": "整治中", "closed": "已复耕（销号）",
                                     "dismissed": "已核销（非抛荒）"}
OPEN_LAND = frozenset({LandStatus.REPORTED.value, LandStatus.REMEDY_DECIDED.value})
#: Why land lies abandoned (what the record and the monthly sheet say).
CAUSE_NAMES: dict[str, str] = {"no_labour": "缺少劳力", "irrigation": "灌溉条件差", "low_return": "种粮收益低",
                               "dispute": "土地纠纷", "other": "其他"}
REMEDY_NAMES: dict[str, str] = {"replant": "复耕复种", "transfer": "流转", "managed": "托管"}
#: Remedies that hand the land to someone else: the decision names who (grower, cooperative, service).
NAMED_REMEDIES = frozenset({"transfer", "managed"})
LAND_ACTION_NAMES: dict[str, str] = {"report": "登记抛荒", "decide_remedy": "决定整治方式", "reinspect": "复查见苗",
                                     "dismiss": "核销", "seen_again": "再次发现"}
#: A report of abandoned land is the open record it shares at least this much of (of the smaller of the two) on
#: the same parcel: the same land seen again, not new land — counted once in the month's outstanding area.
SAME_LAND_SHARE = 0.5
FINDING_KINDS: dict[str, str] = {"new_construction": "新增建房", "abandoned": "耕地抛荒", "non_grain": "耕地非粮化",
                                 "damaged": "耕地破坏", "other": "其他"}
#: The outcome of new construction found at the house of an open case that counts none after the cutoff (stock, or
#: a period not yet established): checked by the county before the case is passed
#: (`api.cases.workflow.CaseState.unchecked_growth`).
GROWTH_AT_STOCK = "stock_case"
#: What became of a finding (shown to the patroller and the township).
OUTCOME_NAMES: dict[str, str] = {"case_opened": "已立为案件", "existing_case": "已有案件", "not_violating": "未占耕地",
                                 "awaiting_footprint": "待影像或测绘确认房屋轮廓", "abandoned_record": "已登记抛荒",
                                 "not_on_cultivated": "不在耕地上", "noted": "已记录，待乡镇处理",
                                 "closed_case": "已销号案件的房屋处又见建房，待核查",
                                 "stock_case": "存量（或时段待定）案件的房屋处又见新建，待县级核查是否为新增"}
#: Outcomes that leave the finding to a person: noted for the township; a new building no footprint shows yet; a
#: building at the house of a case already closed (demolished, kept or found legal — rebuilding is news). They are
#: listed to the township and the area's chiefs (`api.stewardship.queries.findings_to_handle`), not only to the
#: patroller who sent them.
TO_HANDLE = frozenset({"noted", "awaiting_footprint", "closed_case", "stock_case"})
#: Who handles a finding left to a person (says what was done), by its outcome: the township or the county; a
#: building at the house of a case the county closed, the county alone — the township whose demolition it puts in
#: doubt does not clear it; new construction at the house of an open stock case, the county alone too (a wing after
#: the cutoff is a change of period into zero tolerance, the county's decision). A chief reports a finding; they do
#: not handle it.
FINDING_HANDLERS: dict[str, frozenset[Role]] = {"noted": TOWNSHIP_DECIDERS | COUNTY_ROLES,
                                                "awaiting_footprint": TOWNSHIP_DECIDERS | COUNTY_ROLES,
                                                "closed_case": COUNTY_ROLES, "stock_case": COUNTY_ROLES}
assert set(FINDING_HANDLERS) == TO_HANDLE, "every finding left to a person needs its handlers"
#: What is done to a finding left to a person, as its audit events (`api.cases.audit.FINDING_CHAIN`) name it: handled
#: (says what was done; off the to-do lists), reopened (sent back by the county, with why; on them again).
#: A finding waiting for a footprint is resolved by the system when a survey or an imagery pass brings one.
HANDLED, REOPENED, FOOTPRINT_FOUND = "handled", "reopened", "footprint_found"
FINDING_ACTION_NAMES: dict[str, str] = {HANDLED: "处理完毕", REOPENED: "退回重办", FOOTPRINT_FOUND: "房屋轮廓已到"}
#: Who sends a handled finding back: the county, whose oversight a township's "handled" would otherwise escape.
FINDING_REOPENERS: frozenset[Role] = COUNTY_ROLES


def may_handle(role: str, outcome: str, handled: bool) -> bool:
    """Whether `role` may say a finding is handled: one left to a person (`TO_HANDLE`), not handled now, by its
    handlers (`FINDING_HANDLERS`) — what `api.stewardship.handling.handle_finding` allows."""
    return not handled and role in FINDING_HANDLERS.get(outcome, frozenset())


def may_reopen(role: str, outcome: str, handled: bool) -> bool:
    """Whether `role` may send a finding back: one left to a person and handled, by the county
    (`FINDING_REOPENERS`) — what `api.stewardship.handling.reopen_finding` allows."""
    return handled and outcome in TO_HANDLE and role in FINDING_REOPENERS


#: How long a handled finding stays listed (days), with what was done: a month's follow-up, the 月清 cadence. One
#: not yet handled stays listed however old it is.
FINDINGS_LISTED_DAYS = 30
#: What a re-inspection needs: a photo of this kind (the crop standing on the parcel).
CROP_PHOTO = "crop"
#: What a land photo shows: a record's parcel as seen, its crop, something else; or what a patroller found.
LAND_PHOTO_KINDS: dict[str, str] = {"seen": "抛荒现状", "crop": "复耕作物", "other": "其他", "finding": "巡田发现"}
#: The kinds a record's own photos may be, and the one kind a finding's photo is.
RECORD_PHOTO_KINDS = frozenset({"seen", "crop", "other"})
FINDING_PHOTO = "finding"


@dataclass(frozen=True)
class LandState:
    """What the rules need to know about a record to decide an action."""

    status: str
    #: Crop photos taken on the parcel after the latest remedy decision (and why none counts, if none does).
    crop_photos: int = 0
    crop_refusal: Message | None = None


@dataclass(frozen=True)
class LandAction:
    name: str
    sources: frozenset[str]
    roles: frozenset[Role]
    target: str
    guard: Callable[[LandState, dict[str, Any]], Message | None] = lambda _s, _p: None


def _guard_remedy(_state: LandState, payload: dict[str, Any]) -> Message | None:
    remedy = payload.get("remedy")
    if remedy not in REMEDY_NAMES:
        return Message(f"整治方式须为：{'、'.join(f'{n} {c}' for c, n in REMEDY_NAMES.items())}",
                       f"remedy must be one of {', '.join(REMEDY_NAMES)}")
    if remedy in NAMED_REMEDIES and not str(payload.get("remedy_detail") or "").strip():
        return Message(f"「{REMEDY_NAMES[remedy]}」须写明承接方（种粮大户、合作社或托管服务组织）",
                       f"a {remedy} names who takes the land on (remedy_detail)")
    return None


def _guard_reinspect(state: LandState, _payload: dict[str, Any]) -> Message | None:
    if state.crop_photos < 1:
        return state.crop_refusal or Message("复查须有整治决定之后在地块上拍摄的作物照片",
                                             "re-inspection needs a photo of the crop taken on the parcel after "
                                             "the remedy was decided")
    return None


def _guard_dismiss(_state: LandState, payload: dict[str, Any]) -> Message | None:
    if not str(payload.get("reason") or "").strip():
        return Message("核销须写明理由（例如经批准的轮作休耕）", "dismissing needs a reason (e.g. approved fallow)")
    return None


LAND_ACTIONS: dict[str, LandAction] = {a.name: a for a in (
    LandAction("decide_remedy", OPEN_LAND, TOWNSHIP_DECIDERS, LandStatus.REMEDY_DECIDED, _guard_remedy),
    LandAction("reinspect", frozenset({LandStatus.REMEDY_DECIDED.value}), FIELD_ROLES, LandStatus.CLOSED,
               _guard_reinspect),
    LandAction("dismiss", OPEN_LAND, COUNTY_ROLES, LandStatus.DISMISSED, _guard_dismiss),
)}
assert set(LAND_ACTIONS) <= set(LAND_ACTION_NAMES)


def decide_land(action_name: str, state: LandState, role: str, payload: dict[str, Any]) -> str:
    """The status `action_name` leads to, or TransitionRefused with the reason in both languages."""
    action = LAND_ACTIONS.get(action_name)
    if action is None:
        raise TransitionRefused(Message(f"未知的操作 {action_name!r}",
                                        f"unknown action {action_name!r}; one of {', '.join(LAND_ACTIONS)}"))
    if role not in {r.value for r in action.roles}:
        raise TransitionRefused(Message(
            f"{ROLE_NAMES.get(role, role)}无权「{LAND_ACTION_NAMES[action_name]}」",  # type: ignore[call-overload]
            f"{role}s may not {action_name}"))
    if state.status not in action.sources:
        raise TransitionRefused(Message(
            f"记录「{LAND_STATUS_NAMES.get(state.status, state.status)}」时不能「{LAND_ACTION_NAMES[action_name]}」",
            f"cannot {action_name} a record that is {state.status}"))
    reason = action.guard(state, payload)
    if reason:
        raise TransitionRefused(reason)
    return action.target


def allowed_land_actions(state: LandState, role: str) -> list[str]:
    """The actions this role may take on the record now."""
    return [a.name for a in LAND_ACTIONS.values() if role in {r.value for r in a.roles} and state.status in a.sources]
