"""The tamper-evident audit trail: append-only events, hash-chained across the whole database.

Each event's hash covers the previous event's hash and the event's own canonical JSON (id, case, time,
actor, action, before, after, note). Editing an event breaks its own hash; deleting one breaks the next
event's `prev_hash`; deleting the newest is caught by the `audit_head` row, which every append updates
under a row lock (so concurrent appends serialise instead of forking the chain).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from api.clock import as_utc, utcnow
from api.db.models import AuditHead, Base, CaseEvent, LandEvent

GENESIS = "0" * 64
#: From this many events on, `append_events` inserts them in bulk (`insert_rows`) rather than by executemany.
BULK_EVENTS = 1000


@dataclass(frozen=True)
class Chain:
    """One hash chain: its event table, the column naming what an event is about, and its `audit_head` row."""

    name: str
    model: type[Base]
    subject: str
    head_id: int


#: Case events (every case's history) and land events (abandoned-land records): two chains, one mechanism.
CASE_CHAIN = Chain("cases", CaseEvent, "case_id", 1)
LAND_CHAIN = Chain("land", LandEvent, "record_id", 2)


def _canonical(event_id: int, subject_id: int, at: dt.datetime, actor: str, action: str, before: str, after: str,
               note: str | None, subject: str = "case_id") -> bytes:
    at_utc = as_utc(at)
    payload = {"id": event_id, subject: subject_id, "at": at_utc.isoformat(timespec="microseconds"),
               "actor": actor, "action": action, "before": before, "after": after, "note": note}
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _link(prev_hash: str, content: bytes) -> str:
    return hashlib.sha256(prev_hash.encode() + content).hexdigest()


def _json(values: dict[str, Any]) -> str:
    return json.dumps(values, sort_keys=True, ensure_ascii=False, default=str)


def append_event(session: Session, *, case_id: int, actor: str, action: str, before: dict[str, Any],
                 after: dict[str, Any], note: str | None = None, at: dt.datetime | None = None) -> None:
    """Append one event to the chain inside the caller's transaction."""
    append_events(session, [{"case_id": case_id, "actor": actor, "action": action, "before": before,
                             "after": after, "note": note}], at=at)


def append_events(session: Session, events: list[dict[str, Any]], at: dt.datetime | None = None,
                  chain: Chain = CASE_CHAIN) -> int:
    """Append many events at once (one head lock, one bulk insert), e.g. the cases a scan creates.

    Each event dict has the chain's subject (case_id, or record_id for land), actor, action, before, after and
    optionally note.
    """
    if not events:
        return 0
    at = as_utc(at) if at is not None else utcnow()
    head = session.execute(select(AuditHead).where(AuditHead.id == chain.head_id).with_for_update()).scalar_one()
    prev, event_id = head.last_hash, head.last_event_id
    rows = []
    for ev in events:
        event_id += 1
        before_text, after_text = _json(ev["before"]), _json(ev["after"])
        note = ev.get("note")
        digest = _link(prev, _canonical(event_id, ev[chain.subject], at, ev["actor"], ev["action"], before_text,
                                        after_text, note, chain.subject))
        rows.append({"id": event_id, chain.subject: ev[chain.subject], "at": at, "actor": ev["actor"],
                     "action": ev["action"], "before": before_text, "after": after_text, "note": note,
                     "prev_hash": prev, "hash": digest})
        prev = digest
    table = cast(Table, chain.model.__table__)
    if len(rows) >= BULK_EVENTS:  # a scan's thousands of events: PostgreSQL takes them by COPY
        import pandas as pd

        from api.db.repository import insert_rows

        insert_rows(session, table, pd.DataFrame(rows))
    else:
        session.execute(table.insert(), rows)
    head.last_event_id = event_id
    head.last_hash = prev
    session.flush()
    return len(rows)


@dataclass(frozen=True)
class ChainReport:
    """The result of verifying the chain: ok, or the first broken link and why."""

    events: int
    ok: bool
    broken_event_id: int | None = None
    reason: str | None = None


def verify_chain(session: Session, chain: Chain = CASE_CHAIN) -> ChainReport:
    """Walk every event of `chain` in order and check each link; name the first one that does not hold."""
    prev = GENESIS
    count = 0
    last_id = 0
    model: Any = chain.model
    for event in session.execute(select(model).order_by(model.id)).scalars():
        count += 1
        if event.id != last_id + 1:
            return ChainReport(count, False, event.id, f"event {last_id + 1} is missing before event {event.id}")
        if event.prev_hash != prev:
            return ChainReport(count, False, event.id, "prev_hash does not match the previous event's hash")
        content = _canonical(event.id, getattr(event, chain.subject), event.at, event.actor, event.action,
                             event.before, event.after, event.note, chain.subject)
        if _link(prev, content) != event.hash:
            return ChainReport(count, False, event.id, "content does not match its hash (edited)")
        prev = event.hash
        last_id = event.id
    head = session.get(AuditHead, chain.head_id)
    if head is not None and (head.last_event_id != last_id or head.last_hash != prev):
        return ChainReport(count, False, head.last_event_id,
                           f"the newest event {head.last_event_id} is missing (chain ends at {last_id})")
    return ChainReport(count, True)
