"""What is done about a patrol finding left to a person (`TO_HANDLE`): the township or the county says it was
handled, and the county may send a handled one back (reopen), saying why.

A township's "handled" takes a finding off every to-do list and count; with no way back, its word was final and
the county that found the site unchanged could only report it again on patrol. Each handling and reopening is an
event in the finding audit chain (`api.cases.audit.FINDING_CHAIN`); the `findings.handled_*` columns say only
where the finding stands now.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.accounts.roles import ROLE_NAMES, Role
from api.cases.audit import FINDING_CHAIN, append_events
from api.clock import as_utc, utcnow
from api.db.models import Finding, FindingEvent, User
from api.errors import Conflict, Forbidden, InvalidQuery, Message, NotFound
from api.evidence.upload import canonical_uuid
from api.stewardship.abandoned import finding_scope
from api.stewardship.workflow import (
    FINDING_ACTION_NAMES,
    FINDING_HANDLERS,
    FINDING_REOPENERS,
    HANDLED,
    OUTCOME_NAMES,
    REOPENED,
    TO_HANDLE,
)


def _finding_to_act_on(session: Session, user: User, client_uuid: str, now: dt.datetime) -> Finding:
    """The finding in the user's scope that is left to a person (404 outside the scope; 409 if it became a case or
    an abandoned-land record: it is worked there)."""
    finding = session.execute(select(Finding).where(Finding.client_uuid == client_uuid,
                                                    *finding_scope(session, user, now))).scalar_one_or_none()
    if finding is None:
        raise NotFound(f"no finding {client_uuid}")
    if finding.outcome not in TO_HANDLE:
        raise Conflict(Message(f"此发现{OUTCOME_NAMES[finding.outcome]}，在案件或抛荒记录中办理",
                               f"this finding became {finding.outcome}: it is worked on that case or record"))
    return finding


def _required_note(note: str | None, what_zh: str, what_en: str) -> str:
    text = (note or "").strip()
    if not text:
        raise InvalidQuery(Message(f"请填写{what_zh}", f"note: {what_en}"))
    return text


def _record(session: Session, finding: Finding, user: User, action: str, before: dict[str, Any], note: str,
            now: dt.datetime) -> None:
    append_events(session, [{"finding_id": finding.id, "actor": user.username, "action": action, "before": before,
                             "after": {"handled_by": finding.handled_by}, "note": note}], at=now,
                  chain=FINDING_CHAIN)


def handle_finding(factory: sessionmaker[Session], user: User, client_uuid: str, note: str,
                   now: dt.datetime | None = None) -> Finding:
    """Record that a finding left to a person was handled — by whom, when, what was done — so it leaves the to-do
    lists and counts (it stays listed as handled for a while). The township or the county handles it
    (`FINDING_HANDLERS`: a closed case's house built on again, or new construction at a stock case's house, the
    county alone). Once while it stands handled: a second hand, or two at the same instant, is refused with the
    first one's name; after the county reopens it, it is handled again."""
    client_uuid = canonical_uuid(client_uuid, "finding_uuid")
    now = now or utcnow()
    with factory.begin() as session:
        finding = _finding_to_act_on(session, user, client_uuid, now)
        handlers = FINDING_HANDLERS[finding.outcome]
        if user.role not in handlers:
            county_only = Role.TOWNSHIP_OFFICER not in handlers
            raise Forbidden(Message(
                f"{ROLE_NAMES.get(Role(user.role), user.role)}无权处理此巡田发现：" + ("由县级核查处理" if county_only
                                                                             else "由乡镇或县级处理"),
                "this finding is handled by the county" if county_only
                else "a finding is handled by the township or the county"))
        text = _required_note(note, "处理说明（做了什么）", "say what was done")
        done = session.execute(update(Finding).where(Finding.id == finding.id, Finding.handled_at.is_(None))
                               .values(handled_at=now, handled_by=user.username, handled_note=text))
        session.refresh(finding)
        if cast(CursorResult[Any], done).rowcount != 1:
            raise Conflict(Message(f"已由 {finding.handled_by} 处理", f"already handled by {finding.handled_by}"))
        _record(session, finding, user, HANDLED, {}, text, now)
        return finding


def reopen_finding(factory: sessionmaker[Session], user: User, client_uuid: str, note: str,
                   now: dt.datetime | None = None) -> Finding:
    """Send a handled finding back (the county alone, `FINDING_REOPENERS`, saying why): it is listed and counted
    again until handled again — however long ago it was handled. The handling it undoes stays in the finding's
    chain. A finding not handled (or reopened at the same instant by another) is refused (409)."""
    client_uuid = canonical_uuid(client_uuid, "finding_uuid")
    now = now or utcnow()
    with factory.begin() as session:
        finding = _finding_to_act_on(session, user, client_uuid, now)
        if user.role not in FINDING_REOPENERS:
            role = ROLE_NAMES.get(Role(user.role), user.role)
            raise Forbidden(Message(f"{role}无权退回：已处理的巡田发现由县级退回重办",
                                    "a handled finding is sent back by the county"))
        text = _required_note(note, "退回原因", "say why it is sent back")
        seen = finding.handled_at
        if seen is None:
            raise Conflict(Message("尚未处理，无需退回", "not handled: nothing to send back"))
        before = {"handled_at": as_utc(seen).isoformat(), "handled_by": finding.handled_by}
        done = session.execute(update(Finding).where(Finding.id == finding.id, Finding.handled_at == seen)
                               .values(handled_at=None, handled_by=None, handled_note=None))
        session.refresh(finding)
        if cast(CursorResult[Any], done).rowcount != 1:
            raise Conflict(Message("尚未处理，或已被他人退回", "not handled, or sent back by another at the same time"))
        _record(session, finding, user, REOPENED, before, text, now)
        return finding


def finding_handlings(session: Session, finding_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Each finding's handlings and reopenings, oldest first: what, its Chinese name, who, when, the note."""
    out: dict[int, list[dict[str, Any]]] = {}
    if not finding_ids:
        return out
    rows = session.execute(select(FindingEvent.finding_id, FindingEvent.action, FindingEvent.actor, FindingEvent.at,
                                  FindingEvent.note).where(FindingEvent.finding_id.in_(finding_ids))
                           .order_by(FindingEvent.id)).all()
    for r in rows:
        out.setdefault(int(r.finding_id), []).append({"action": r.action, "action_name": FINDING_ACTION_NAMES[r.action],
                                                      "by": r.actor, "at": as_utc(r.at).isoformat(), "note": r.note})
    return out


def handling(at: dt.datetime | None, by: str | None, note: str | None) -> dict[str, Any]:
    """A finding's handling as the API answers it (all None while nobody has handled it)."""
    return {"handled_at": as_utc(at).isoformat() if at else None, "handled_by": by, "handled_note": note}


def finding_state(finding: Finding) -> dict[str, Any]:
    """Where a finding stands after it was handled or reopened, as the API answers it."""
    return {"id": finding.id, "client_uuid": finding.client_uuid, "outcome": finding.outcome,
            **handling(finding.handled_at, finding.handled_by, finding.handled_note)}
