"""Writing cases: transitions, comments and progress reports, each audited.

Services own their transaction (`factory.begin()`): a refused or conflicting request writes nothing. Every
write loads its case through `api.cases.scope`, so it acts only on cases in the caller's township.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from api.accounts.roles import ROLE_NAMES, Role
from api.cases.audit import append_event
from api.cases.deadlines import COUNTY_TZ
from api.cases.measures import old_part_m2, remaining_of
from api.cases.milestones import demolitions_recorded
from api.cases.resends import ResendKey, batch_case_key, first_send, first_send_committed, remember, resend_key
from api.cases.scope import load_case
from api.cases.workflow import (
    INCREMENT_PERIODS,
    PROGRESS_REPORTERS,
    STATUS_NAMES,
    CaseState,
    Status,
    TransitionRefused,
    Verdict,
    decide,
    event_note,
    may_report,
    reported_area_refusal,
)
from api.clock import as_utc, utcnow
from api.db.models import Case, ClientRequest, Comment, Finding, Photo, ProgressReport, User
from api.errors import Conflict, Forbidden, Message, NotFound
from api.stewardship.workflow import GROWTH_AT_STOCK
from gis.evidence import is_undecodable, passes_distance_check
from gis.rules import FIELD_ONLY_PROHIBITIONS, Disposition, Period, Prohibition, format_rules, parse_rules

Filed = TypeVar("Filed", Comment, ProgressReport)

#: Case fields an audit event records before → after.
AUDITED = ("status", "assignee_id", "verdict", "legal_reason", "decision", "field_rules", "period",
           "disposition", "remaining_m2", "resume_status", "requested_period", "file_number", "upper_review")


def _reinspection_evidence(session: Session, case: Case) -> tuple[int, Message | None]:
    """Photos that show the demolished site: *taken* (by their own clock) after the demolition was recorded,
    at the house (a position within the distance limit), their pixels decoded and whole. Returns their number
    and, when there is none, why each photo uploaded since does not count."""
    since = demolitions_recorded(session, [case.id]).get(case.id)
    if since is None:
        return 0, Message("尚未记录拆除", "no demolition has been recorded")
    good = 0
    taken_before = no_time = far = unseen = 0
    for taken_at, checks, pixels_checked_at in session.execute(
            select(Photo.taken_at, Photo.checks, Photo.pixels_checked_at).where(Photo.case_id == case.id)):
        flags = json.loads(checks) if checks else []
        if taken_at is None:
            no_time += 1
        elif as_utc(taken_at) < since:
            taken_before += 1
        elif not passes_distance_check(flags):
            far += 1
        elif pixels_checked_at is None or is_undecodable(flags):  # a picture not yet seen, or that shows nothing
            unseen += 1
        else:
            good += 1
    when = since.astimezone(COUNTY_TZ).strftime("%Y-%m-%d %H:%M")
    zh_unseen = f"，{unseen} 张图像尚未检查完或已损坏" if unseen else ""
    en_unseen = f", {unseen} whose picture is not checked yet or is damaged" if unseen else ""
    reason = Message(f"复核须有记录拆除（{when}，北京时间）之后在房屋现场拍摄的照片：{taken_before} 张拍摄于此前，"
                     f"{no_time} 张没有拍摄时间，{far} 张没有位置或离房屋太远{zh_unseen}",
                     f"re-inspection needs a photo taken at the house after the demolition was recorded ({when} "
                     f"Asia/Shanghai): {taken_before} taken before it, {no_time} without a capture time, {far} "
                     f"without a position or too far from the house{en_unseen}")
    return good, reason


#: States before any demolition or rectification: a change of period resets the remaining area to what the
#: new period says (an earlier progress report's figure was about the old one).
NOTHING_RECTIFIED_YET = (Status.NEW, Status.ASSIGNED, Status.VERIFIED)


def state_of(session: Session, case: Case) -> CaseState:
    """The workflow's view of a case."""
    photos, why = _reinspection_evidence(session, case) if case.status == Status.RESTORED else (0, None)
    return CaseState(status=case.status, period=case.period, verdict=case.verdict,
                     remaining_m2=float(case.remaining_m2 or 0.0), photos_after_demolition=photos,
                     resume_status=case.resume_status, reinspection_refusal=why,
                     on_permanent_farmland=Prohibition.PERMANENT_FARMLAND in parse_rules(case.rules),
                     farmland_m2=float(case.farmland_m2 or 0.0), decision=case.decision,
                     requested_period=case.requested_period, filed=case.filed_at is not None,
                     returned=case.returned_at is not None,
                     unchecked_growth=session.execute(select(Finding.id).where(
                         Finding.case_id == case.id, Finding.outcome == GROWTH_AT_STOCK,
                         Finding.handled_at.is_(None)).limit(1)).first() is not None,
                     old_part_m2=(old_part_m2(case) if case.period == Period.EXTENDED_AFTER_CUTOFF
                                  and case.decision is None else 0.0),
                     upper_passed=case.upper_review)


def _snapshot(case: Case) -> dict[str, Any]:
    return {name: getattr(case, name) for name in AUDITED}


def _assignee(session: Session, user: User, case: Case, username: str | None) -> int | None:
    if not username:
        return case.assignee_id
    inspector = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if inspector is None or inspector.role != Role.INSPECTOR:
        raise Conflict(Message(f"{username!r} 不是巡查员", f"{username!r} is not an inspector"))
    if inspector.township_code != case.township_code:
        raise Conflict(Message(f"巡查员 {username!r} 属于其他乡镇",
                               f"inspector {username!r} works in another township"))
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
        if case.status in (Status.CLASSIFIED, Status.RECTIFIED):  # a void decision taken again: nothing of the
            # house was rectified by it, so what remains is what stands, and the case is unfinished
            case.remaining_m2 = old_part_m2(case) if case.period == Period.EXTENDED_AFTER_CUTOFF else remaining_of(case)
            case.finished_at = None
        case.decision = payload["decision"]
    elif action == "restore":
        # What is left is what this demolition did not cover: an extension's old part, to be classified — unless
        # this was the old part's own demolition (classified `demolish`): then nothing is left.
        case.remaining_m2 = (old_part_m2(case) if case.period == Period.EXTENDED_AFTER_CUTOFF
                             and case.decision != "demolish" else 0.0)
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
            raise Conflict(Message(f"证据 {missing} 不是本案的照片或材料",
                                   f"evidence {missing} is not a photo or document of this case"))
        case.requested_period = payload["period"]
        case.period_request = json.dumps({"period": payload["period"], "reason": payload["reason"],
                                          "evidence": evidence, "by": user.username, "at": now.isoformat()},
                                         ensure_ascii=False)
    elif action == "decide_period":
        void = target == Status.VERIFIED and case.status != Status.VERIFIED  # a decision to keep the house
        if void:  # back on the path's start: unfinished, nothing rectified
            case.decision = None
            case.finished_at = None
        if payload["approve"] and case.requested_period is not None:
            case.period = case.requested_period
            case.disposition = (Disposition.DEMOLISH if case.period in INCREMENT_PERIODS
                                else Disposition.CLASSIFY).value
            if void or case.period == Period.EXTENDED_AFTER_CUTOFF or case.status in NOTHING_RECTIFIED_YET:
                case.remaining_m2 = remaining_of(case)
        case.requested_period = None
        case.period_request = None
    elif action == "submit":
        case.resume_status = case.status
        if case.finished_at is None:
            case.finished_at = now
    elif action in ("return", "upper_return"):
        # A new round: the case is unfinished again and its finish clock (3 days) restarts from now; a return from
        # the city or the province also undoes the county's closing, and the review above starts again later.
        case.finished_at = None
        case.returned_at = now
        if action == "upper_return":
            case.closed_at = case.upper_review = None
    elif action == "pass_review":
        case.closed_at = now
        case.upper_review = None  # a new round above the county: the city first
    elif action == "upper_pass":
        case.upper_review = payload["level"]
    case.status = target.value


def transition(factory: sessionmaker[Session], user: User, case_id: int, action: str, payload: dict[str, Any],
               *, expected_version: int | None = None, now: dt.datetime | None = None,
               client_uuid: str | None = None) -> Case:
    """Take `action` on a case as `user`; refuse (409) when not allowed or when the case changed meanwhile.

    With `client_uuid` (the field app's queued step), a resend of a step already taken answers with the case
    as it stands instead of being refused as a step no longer allowed (`api.cases.resends`)."""
    now = now or utcnow()
    key = resend_key(client_uuid, "transition", case_id,
                     {"action": action, "payload": payload, "version": expected_version})
    try:
        with factory.begin() as session:
            case = load_case(session, user, case_id)
            if first_send(session, user, key) is not None:
                session.expunge(case)
                return case
            if expected_version is not None and case.version != expected_version:
                raise Conflict(Message(f"案件 {case_id} 在您打开后已被修改（现为第 {case.version} 版，您看到的是第 "
                                       f"{expected_version} 版）：请刷新后重试",
                                       f"case {case_id} changed since you loaded it (version {case.version}, "
                                       f"you had {expected_version}); reload and try again"))
            try:
                target = decide(action, state_of(session, case), user.role, payload)
            except TransitionRefused as exc:
                raise Conflict(exc.message) from exc
            before = _snapshot(case)
            _apply(session, user, case, action, payload, target, now)
            session.flush()
            note = event_note(action, payload)
            append_event(session, case_id=case.id, actor=user.username, action=action, before=before,
                         after=_snapshot(case), note=note, at=now)
            remember(session, user, key, now)
            session.flush()
            session.expunge(case)
            return case
    except (StaleDataError, IntegrityError) as exc:
        _raced(factory, user, key, case_id, exc)
        with factory() as session:
            case = load_case(session, user, case_id)
            session.expunge(case)
            return case


def _raced(factory: sessionmaker[Session], user: User, key: ResendKey | None, case_id: int,
           clash: StaleDataError | IntegrityError) -> ClientRequest:
    """After a write clashed with a concurrent transaction: the first send of the same submission, when that is
    what committed meanwhile (a resend racing its first send: answered with it). Otherwise the clash stands — a
    case changed by someone else at the same time is 409; any other integrity error is raised as it is."""
    done = first_send_committed(factory, user, key)
    if done is not None:
        return done
    if isinstance(clash, IntegrityError):
        raise clash
    raise Conflict(Message(f"案件 {case_id} 同时被他人修改：请刷新后重试",
                           f"case {case_id} was changed by someone else at the same time; reload and try again")
                   ) from clash


def assign_many(factory: sessionmaker[Session], user: User, case_ids: list[int], assignee: str | None,
                *, now: dt.datetime | None = None, client_uuid: str | None = None) -> list[dict[str, Any]]:
    """`assign` each case in its own transaction (audited one by one); a refusal is reported, not raised, so
    the rest still go through. Results in the order asked: {id, ok, status | error}.

    `client_uuid`, the batch's key: each case's step gets its own (`batch_case_key`), so a resent batch assigns no
    case twice (`transition`'s resend rule, case by case)."""
    results: list[dict[str, Any]] = []
    payload = {"assignee": assignee} if assignee else {}
    for case_id in dict.fromkeys(case_ids):
        try:
            case = transition(factory, user, case_id, "assign", payload, now=now,
                              client_uuid=batch_case_key(client_uuid, case_id))
        except (Conflict, NotFound) as exc:
            results.append({"id": case_id, "ok": False, "error": str(exc), "error_zh": exc.message.zh,
                            "error_en": exc.message.en})
        else:
            results.append({"id": case_id, "ok": True, "status": case.status, "version": case.version})
    return results


def add_comment(factory: sessionmaker[Session], user: User, case_id: int, text: str,
                client_uuid: str | None = None) -> Comment:
    """Comment on a case (audited); a resend with the same `client_uuid` answers with the first comment."""
    if not text.strip():
        raise Conflict(Message("评论不能为空", "an empty comment"))
    key = resend_key(client_uuid, "comment", case_id, {"text": text})
    now = utcnow()
    try:
        with factory.begin() as session:
            case = load_case(session, user, case_id)
            if (done := first_send(session, user, key)) is not None:
                return _detached(session, Comment, done.record_id)
            comment = Comment(case_id=case.id, author_id=user.id, at=now, text=text)
            session.add(comment)
            append_event(session, case_id=case.id, actor=user.username, action="comment", before={}, after={},
                         note=text, at=now)
            session.flush()
            remember(session, user, key, now, record_id=comment.id)
            session.flush()
            session.expunge(comment)
            return comment
    except IntegrityError as exc:
        done = _raced(factory, user, key, case_id, exc)
        with factory() as session:
            return _detached(session, Comment, done.record_id)


def _detached(session: Session, model: type[Filed], record_id: int | None) -> Filed:
    """The report or comment a first send filed, as the resend's answer."""
    record = session.get(model, record_id)
    assert record is not None, (model, record_id)  # written with its key, in one transaction
    session.expunge(record)
    return record


def add_progress_report(factory: sessionmaker[Session], user: User, case_id: int, text: str,
                        remaining_m2: float | None = None, now: dt.datetime | None = None,
                        client_uuid: str | None = None) -> ProgressReport:
    """File a staged progress report; it may update the remaining unrectified area (audited). A resend with
    the same `client_uuid` answers with the first report."""
    if user.role not in PROGRESS_REPORTERS:
        raise Forbidden(Message(f"{ROLE_NAMES.get(Role(user.role), user.role)}不提交进展报告",
                                f"a {user.role} does not file progress reports"))
    if remaining_m2 is not None and remaining_m2 < 0:
        raise Conflict(Message("剩余未整改面积不能为负数", "remaining_m2 cannot be negative"))
    key = resend_key(client_uuid, "progress_report", case_id, {"text": text, "remaining_m2": remaining_m2})
    now = now or utcnow()
    try:
        with factory.begin() as session:
            case = load_case(session, user, case_id)
            if (done := first_send(session, user, key)) is not None:
                return _detached(session, ProgressReport, done.record_id)
            state = state_of(session, case)
            if not may_report(state, user.role):
                raise Conflict(Message(f"案件「{STATUS_NAMES.get(case.status, case.status)}」时不能提交进展报告",
                                       f"no progress reports on a {case.status} case"))
            if why := reported_area_refusal(state, remaining_m2):
                raise Conflict(why)
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
            remember(session, user, key, now, record_id=report.id)
            session.flush()
            session.expunge(report)
            return report
    except (StaleDataError, IntegrityError) as exc:
        done = _raced(factory, user, key, case_id, exc)
        with factory() as session:
            return _detached(session, ProgressReport, done.record_id)
