"""Case work: scope, transitions, comments, progress reports, deadlines and history.

Services own their transaction (`factory.begin()`): a refused or conflicting request writes nothing.
Township scope is applied in every query here, so no route can forget it: a township officer or inspector
asking for another township's case gets "not found", exactly as for a case that does not exist.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from api.audit import append_event
from api.clock import as_utc, as_utc_or_none, from_frame, utcnow
from api.deadlines import COUNTY_TZ, DeadlinePolicy, Deadlines, deadlines_due, evaluate, overdue_from
from api.errors import Conflict, Forbidden, NotFound
from api.models import Case, CaseEvent, Comment, Photo, ProgressReport, User
from api.repository import in_chunks
from api.workflow import (
    INCREMENT_PERIODS,
    CaseState,
    Role,
    Status,
    TransitionRefused,
    Verdict,
    allowed_actions,
    decide,
)
from gis.evidence import passes_distance_check
from gis.rules import FIELD_ONLY_PROHIBITIONS, Disposition, Period, Prohibition, format_rules, parse_rules

TOWNSHIP_SCOPED = frozenset({Role.INSPECTOR.value, Role.TOWNSHIP_OFFICER.value})
#: Case fields an audit event records before → after.
AUDITED = ("status", "assignee_id", "verdict", "legal_reason", "decision", "field_rules", "period",
           "disposition", "remaining_m2", "resume_status", "requested_period", "file_number")


def scope(user: User) -> list[ColumnElement[bool]]:
    """WHERE clauses limiting cases to what `user` may see."""
    if user.role in TOWNSHIP_SCOPED:
        return [Case.township_code == user.township_code]
    return []


def load_case(session: Session, user: User, case_id: int) -> Case:
    """The case, if it exists and is in the user's scope; NotFound otherwise (no existence leak)."""
    stmt = select(Case).where(Case.id == case_id, *scope(user))
    case = session.execute(stmt).scalar_one_or_none()
    if case is None:
        raise NotFound(f"no case {case_id}")
    return case


def _reinspection_evidence(session: Session, case: Case) -> tuple[int, str]:
    """Photos that show the demolished site: *taken* (by their own clock) after the demolition was recorded,
    at the house (a position within the distance limit). Returns their number and, when there is none,
    why each photo uploaded since does not count."""
    demolished_at = session.execute(
        select(func.max(CaseEvent.at)).where(CaseEvent.case_id == case.id, CaseEvent.action == "record_demolition")
    ).scalar()
    if demolished_at is None:
        return 0, "no demolition has been recorded"
    since = as_utc(demolished_at)
    good = 0
    taken_before = no_time = far = 0
    for taken_at, checks in session.execute(select(Photo.taken_at, Photo.checks).where(Photo.case_id == case.id)):
        if taken_at is None:
            no_time += 1
            continue
        if as_utc(taken_at) < since:
            taken_before += 1
            continue
        if not passes_distance_check(json.loads(checks) if checks else []):
            far += 1
            continue
        good += 1
    when = since.astimezone(COUNTY_TZ).strftime("%Y-%m-%d %H:%M")
    reason = (f"re-inspection needs a photo taken at the house after the demolition was recorded ({when} "
              f"Asia/Shanghai): {taken_before} taken before it, {no_time} without a capture time, {far} without a "
              "position or too far from the house")
    return good, reason


def old_part_m2(case: Case) -> float:
    """An extension's part built before the cutoff that lies on farmland or unapproved cultivated land (m²)."""
    return max(float(case.occupied_m2 or 0.0) - float(case.unapproved_after_cutoff_m2 or 0.0), 0.0)


def remaining_at_start(period: Any, occupied_m2: Any, new_part_m2: Any) -> Any:
    """The remaining unrectified area (剩余未整改面积) a case starts with — when a scan or a lead opens it, a scan
    reopens it, or the county changes its period: an extension's new part (its unapproved part after the
    cutoff) until that is demolished, else all it occupies. Scalars or arrays (m²)."""
    extension = np.asarray(period, dtype=object) == Period.EXTENDED_AFTER_CUTOFF.value
    return np.where(extension, np.nan_to_num(np.asarray(new_part_m2, dtype=float)),
                    np.asarray(occupied_m2, dtype=float))


def remaining_of(case: Case) -> float:
    """`remaining_at_start` of one stored case."""
    return float(remaining_at_start(case.period, case.occupied_m2 or 0.0, case.unapproved_after_cutoff_m2 or 0.0))


def state_of(session: Session, case: Case) -> CaseState:
    """The workflow's view of a case."""
    photos, why = _reinspection_evidence(session, case) if case.status == Status.RESTORED else (0, "")
    return CaseState(status=case.status, period=case.period, verdict=case.verdict,
                     remaining_m2=float(case.remaining_m2 or 0.0), photos_after_demolition=photos,
                     resume_status=case.resume_status, reinspection_refusal=why,
                     on_permanent_farmland=Prohibition.PERMANENT_FARMLAND in parse_rules(case.rules),
                     farmland_m2=float(case.farmland_m2 or 0.0), decision=case.decision,
                     requested_period=case.requested_period, filed=case.filed_at is not None)


def _snapshot(case: Case) -> dict[str, Any]:
    return {name: getattr(case, name) for name in AUDITED}


def _assignee(session: Session, user: User, case: Case, username: str | None) -> int | None:
    if not username:
        return case.assignee_id
    inspector = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if inspector is None or inspector.role != Role.INSPECTOR:
        raise Conflict(f"{username!r} is not an inspector")
    if inspector.township_code != case.township_code:
        raise Conflict(f"inspector {username!r} works in another township")
    return inspector.id


def _apply(session: Session, user: User, case: Case, action: str, payload: dict[str, Any],
           target: Status, now: dt.datetime) -> None:
    """The effects of an allowed action on the case's fields."""
    if action == "assign":
        case.assignee_id = _assignee(session, user, case, payload.get("assignee"))
        if case.assigned_at is None:
            case.assigned_at = now
    elif action == "verify":
        case.verdict = payload["verdict"]
        case.legal_reason = payload.get("legal_reason") if payload["verdict"] == Verdict.LEGAL else None
        case.period = payload.get("period", case.period)
        found = set(payload.get("field_rules", [])) & FIELD_ONLY_PROHIBITIONS
        case.field_rules = format_rules(parse_rules(case.field_rules) | found)
        if case.studied_at is None:
            case.studied_at = now
        if payload["verdict"] == Verdict.LEGAL:
            case.remaining_m2 = 0.0
    elif action == "classify":
        case.decision = payload["decision"]
    elif action == "restore":
        # What is left is what this demolition did not cover: an extension's old part, to be classified.
        case.remaining_m2 = old_part_m2(case) if case.period == Period.EXTENDED_AFTER_CUTOFF else 0.0
    elif action == "rectify":
        case.remaining_m2 = 0.0
    elif action == "file":
        case.file_number = str(payload["file_number"]).strip()
        case.filed_at = now
    elif action == "request_period":
        evidence = sorted({int(i) for i in payload["evidence"]})
        on_case = set(session.execute(select(Photo.id).where(Photo.case_id == case.id, Photo.id.in_(evidence)))
                      .scalars())
        missing = [i for i in evidence if i not in on_case]
        if missing:
            raise Conflict(f"evidence {missing} is not a photo or document of this case")
        case.requested_period = payload["period"]
        case.period_request = json.dumps({"period": payload["period"], "reason": payload["reason"],
                                          "evidence": evidence, "by": user.username, "at": now.isoformat()},
                                         ensure_ascii=False)
    elif action == "decide_period":
        if payload["approve"] and case.requested_period is not None:
            case.period = case.requested_period
            case.disposition = (Disposition.DEMOLISH if case.period in INCREMENT_PERIODS
                                else Disposition.CLASSIFY).value
            if case.period == Period.EXTENDED_AFTER_CUTOFF or case.status in (Status.NEW, Status.ASSIGNED):
                case.remaining_m2 = remaining_of(case)
        case.requested_period = None
        case.period_request = None
    elif action == "submit":
        case.resume_status = case.status
        if case.finished_at is None:
            case.finished_at = now
    elif action == "return":
        # A new round: the case is unfinished again and its finish clock (3 days) restarts from now.
        case.finished_at = None
        case.returned_at = now
    elif action == "pass_review":
        case.closed_at = now
    case.status = target.value


def transition(factory: sessionmaker[Session], user: User, case_id: int, action: str, payload: dict[str, Any],
               *, expected_version: int | None = None, now: dt.datetime | None = None) -> Case:
    """Take `action` on a case as `user`; refuse (409) when not allowed or when the case changed meanwhile."""
    now = now or utcnow()
    try:
        with factory.begin() as session:
            case = load_case(session, user, case_id)
            if expected_version is not None and case.version != expected_version:
                raise Conflict(f"case {case_id} changed since you loaded it (version {case.version}, "
                               f"you had {expected_version}); reload and try again")
            try:
                target = decide(action, state_of(session, case), user.role, payload)
            except TransitionRefused as exc:
                raise Conflict(str(exc)) from exc
            before = _snapshot(case)
            _apply(session, user, case, action, payload, target, now)
            session.flush()
            note = payload.get("reason") or payload.get("note")
            append_event(session, case_id=case.id, actor=user.username, action=action, before=before,
                         after=_snapshot(case), note=note, at=now)
            session.expunge(case)
            return case
    except StaleDataError as exc:
        raise Conflict(f"case {case_id} was changed by someone else at the same time; reload and try again") from exc


def add_comment(factory: sessionmaker[Session], user: User, case_id: int, text: str) -> Comment:
    """Comment on a case (audited)."""
    if not text.strip():
        raise Conflict("an empty comment")
    now = utcnow()
    with factory.begin() as session:
        case = load_case(session, user, case_id)
        comment = Comment(case_id=case.id, author_id=user.id, at=now, text=text)
        session.add(comment)
        append_event(session, case_id=case.id, actor=user.username, action="comment", before={}, after={},
                     note=text, at=now)
        session.flush()
        session.expunge(comment)
        return comment


def add_progress_report(factory: sessionmaker[Session], user: User, case_id: int, text: str,
                        remaining_m2: float | None = None, now: dt.datetime | None = None) -> ProgressReport:
    """File a staged progress report; it may update the remaining unrectified area (audited)."""
    if user.role not in (Role.TOWNSHIP_OFFICER, Role.INSPECTOR, Role.ADMIN):
        raise Forbidden(f"a {user.role} does not file progress reports")
    if remaining_m2 is not None and remaining_m2 < 0:
        raise Conflict("remaining_m2 cannot be negative")
    now = now or utcnow()
    try:
        with factory.begin() as session:
            case = load_case(session, user, case_id)
            if case.status in (Status.NEW, Status.CLOSED):
                raise Conflict(f"no progress reports on a {case.status} case")
            before = _snapshot(case)
            report = ProgressReport(case_id=case.id, author_id=user.id, at=now, text=text,
                                    remaining_m2=remaining_m2)
            session.add(report)
            case.last_report_at = now
            if remaining_m2 is not None:
                case.remaining_m2 = remaining_m2
            session.flush()
            append_event(session, case_id=case.id, actor=user.username, action="progress_report", before=before,
                         after=_snapshot(case), note=text, at=now)
            session.expunge(report)
            return report
    except StaleDataError as exc:
        raise Conflict(f"case {case_id} was changed by someone else at the same time") from exc


def deadlines_of(policy: DeadlinePolicy, now: dt.datetime, *, assigned_at: dt.datetime | None,
                 studied_at: dt.datetime | None, finished_at: dt.datetime | None,
                 reports: list[dt.datetime], returned_at: dt.datetime | None = None) -> Deadlines | None:
    """A case's 137 deadlines at `now` from its milestone times (None before it is assigned)."""
    if assigned_at is None:
        return None
    return evaluate(policy, assigned_at=as_utc(assigned_at), now=now, studied_at=as_utc_or_none(studied_at),
                    finished_at=as_utc_or_none(finished_at), reports=reports,
                    returned_at=as_utc_or_none(returned_at))


def overdue_since(policy: DeadlinePolicy, now: dt.datetime, *, assigned_at: dt.datetime | None,
                  studied_at: dt.datetime | None, finished_at: dt.datetime | None,
                  reports: list[dt.datetime], returned_at: dt.datetime | None = None) -> dt.datetime | None:
    """From when the case is overdue unless something changes (`api.deadlines.overdue_from`); None before
    it is assigned. Takes the same milestones as `deadlines_of`."""
    if assigned_at is None:
        return None
    return overdue_from(policy, assigned_at=as_utc(assigned_at), now=now, studied_at=as_utc_or_none(studied_at),
                        finished_at=as_utc_or_none(finished_at), reports=reports,
                        returned_at=as_utc_or_none(returned_at))


def deadlines_due_of(policy: DeadlinePolicy, start: dt.datetime, end: dt.datetime, *,
                     assigned_at: dt.datetime | None, studied_at: dt.datetime | None,
                     finished_at: dt.datetime | None, reports: list[dt.datetime],
                     returned_at: dt.datetime | None = None) -> tuple[int, int]:
    """The case's deadlines that fell due in [start, end) and how many were met (`api.deadlines.deadlines_due`),
    from the same milestones as `deadlines_of`; (0, 0) before it is assigned."""
    if assigned_at is None:
        return 0, 0
    return deadlines_due(policy, assigned_at=as_utc(assigned_at), start=start, end=end,
                         studied_at=as_utc_or_none(studied_at), finished_at=as_utc_or_none(finished_at),
                         reports=reports, returned_at=as_utc_or_none(returned_at))


#: The case columns the 137 deadlines are computed from (with the progress reports).
MILESTONE_COLUMNS = ["assigned_at", "studied_at", "finished_at", "returned_at"]


def milestones(session: Session, frame: Any) -> list[dict[str, Any]]:
    """Per row of a case frame (`id` and the MILESTONE_COLUMNS, as pandas reads them): the keyword arguments
    of `deadlines_of` and `overdue_since`, progress reports included."""
    reports = reports_by_case(session, [int(i) for i in frame["id"]])
    returned = frame["returned_at"] if "returned_at" in frame else [None] * len(frame)
    return [{"assigned_at": from_frame(a), "studied_at": from_frame(s), "finished_at": from_frame(f),
             "returned_at": from_frame(r), "reports": reports[int(i)]}
            for i, a, s, f, r in zip(frame["id"], frame["assigned_at"], frame["studied_at"], frame["finished_at"],
                                     returned, strict=True)]


def reports_by_case(session: Session, case_ids: list[int]) -> dict[int, list[dt.datetime]]:
    """Progress report times per case."""
    out: dict[int, list[dt.datetime]] = {i: [] for i in case_ids}
    if not case_ids:
        return out
    for chunk in in_chunks(case_ids):
        for cid, at in session.execute(select(ProgressReport.case_id, ProgressReport.at)
                                       .where(ProgressReport.case_id.in_(chunk))):
            out[cid].append(as_utc(at))
    return out


def deadline_fields(d: Deadlines | None) -> dict[str, Any]:
    """Deadline columns for an API row."""
    if d is None:
        return {"next_deadline": None, "next_deadline_kind": None, "overdue": False, "on_time": True}
    return {"next_deadline": d.next_deadline.isoformat() if d.next_deadline else None,
            "next_deadline_kind": d.next_deadline_kind, "overdue": d.overdue, "on_time": d.on_time}


@dataclass(frozen=True)
class CaseDetail:
    """One case with everything a reviewer needs."""

    properties: dict[str, Any]
    history: list[dict[str, Any]]
    comments: list[dict[str, Any]]
    reports: list[dict[str, Any]]
    photos: list[dict[str, Any]]
    allowed_actions: list[str]


def photo_out(photo: Photo) -> dict[str, Any]:
    """See `api.photos.photo_out` (imported late: photos depend on this module)."""
    from api.photos import photo_out as out

    return out(photo)


def case_detail(session: Session, user: User, case_id: int, policy: DeadlinePolicy) -> CaseDetail:
    """The case's fields, deadlines, allowed actions and history (in the user's scope)."""
    case = load_case(session, user, case_id)
    reports = list(session.execute(select(ProgressReport).where(ProgressReport.case_id == case.id)
                                   .order_by(ProgressReport.at)).scalars())
    now = utcnow()
    d = deadlines_of(policy, now, assigned_at=case.assigned_at, studied_at=case.studied_at,
                     finished_at=case.finished_at, reports=[as_utc(r.at) for r in reports],
                     returned_at=case.returned_at)
    events = session.execute(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)).scalars()
    comments = session.execute(select(Comment, User.username).join(User, User.id == Comment.author_id)
                               .where(Comment.case_id == case.id).order_by(Comment.id)).all()
    return CaseDetail(
        properties={"id": case.id, "code": case.code, "status": case.status, "version": case.version,
                    "verdict": case.verdict, "decision": case.decision, "field_rules": case.field_rules,
                    "remaining_m2": case.remaining_m2, **deadline_fields(d),
                    # An extension's two parts: the new one (increment: demolished) and the old one (stock:
                    # classified once the new part is gone).
                    "new_part_m2": (float(case.unapproved_after_cutoff_m2 or 0.0)
                                    if case.period == Period.EXTENDED_AFTER_CUTOFF else None),
                    "old_part_m2": old_part_m2(case) if case.period == Period.EXTENDED_AFTER_CUTOFF else None,
                    "filed_at": as_utc(case.filed_at).isoformat() if case.filed_at else None,
                    "period_request": json.loads(case.period_request) if case.period_request else None,
                    "parent_case_id": case.parent_case_id},
        history=[{"id": e.id, "at": as_utc(e.at).isoformat(), "actor": e.actor, "action": e.action,
                  "before": json.loads(e.before), "after": json.loads(e.after), "note": e.note} for e in events],
        comments=[{"id": c.id, "at": as_utc(c.at).isoformat(), "author": name, "text": c.text}
                  for c, name in comments],
        reports=[{"id": r.id, "at": as_utc(r.at).isoformat(), "text": r.text, "remaining_m2": r.remaining_m2}
                 for r in reports],
        photos=[photo_out(p) for p in session.execute(select(Photo).where(Photo.case_id == case.id)
                                                      .order_by(Photo.id)).scalars()],
        allowed_actions=allowed_actions(state_of(session, case), user.role),
    )
