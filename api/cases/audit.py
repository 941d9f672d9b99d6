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
from collections.abc import Sequence
from dataclasses import dataclass, fields
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from api.clock import as_utc, utcnow
from api.db.models import AuditHead, Base, CaseEvent, FindingEvent, LandEvent

if TYPE_CHECKING:  # pandas is loaded by the bulk writers that call for it, not by every `redline` command
    import pandas as pd

#: The actors of events no person took: the scan, an imagery comparison, a leads import (a person's actor is
#: their username). Their names, as the history shows them.
SCAN_ACTOR, IMAGERY_ACTOR, LEADS_ACTOR = "scan", "imagery", "leads"
SYSTEM_ACTOR_NAMES: dict[str, str] = {SCAN_ACTOR: "系统扫描", IMAGERY_ACTOR: "影像比对", LEADS_ACTOR: "卫片图斑导入"}
SYSTEM_ACTOR_NAMES_EN: dict[str, str] = {SCAN_ACTOR: "the scan", IMAGERY_ACTOR: "imagery comparison",
                                         LEADS_ACTOR: "lead import"}

GENESIS = "0" * 64
#: Events read and checked at a time by `verify_chain`.
VERIFY_PAGE = 10_000
#: From this many events on, `append_events` inserts them in bulk (`insert_rows`) rather than by executemany.
BULK_EVENTS = 1000


@dataclass(frozen=True)
class Chain:
    """One hash chain: its event table, the column naming what an event is about, and its `audit_head` row."""

    name: str
    model: type[Base]
    subject: str
    head_id: int


#: Case events (every case's history), land events (abandoned-land records) and finding events (a patrol finding
#: handled, reopened): three chains, one mechanism.
CASE_CHAIN = Chain("cases", CaseEvent, "case_id", 1)
LAND_CHAIN = Chain("land", LandEvent, "record_id", 2)
FINDING_CHAIN = Chain("findings", FindingEvent, "finding_id", 3)
#: Every chain, with the name `redline audit verify` reports it under.
CHAINS: dict[str, Chain] = {"audit chain": CASE_CHAIN, "land audit chain": LAND_CHAIN,
                            "finding audit chain": FINDING_CHAIN}


@dataclass
class EventColumns:
    """Events to append, as columns: what a bulk writer (a scan's third of a million creations) hands over
    without building a dict per event. `before` and `after` are JSON texts as `json_text` writes them."""

    subjects: list[int]
    actors: list[str]
    actions: list[str]
    befores: list[str]
    afters: list[str]
    notes: list[str | None]

    @classmethod
    def of(cls, events: list[dict[str, Any]], subject: str = "case_id") -> EventColumns:
        """Event dicts (subject id, actor, action, before and after dicts, optional note) as columns."""
        return cls([ev[subject] for ev in events], [ev["actor"] for ev in events], [ev["action"] for ev in events],
                   [json_text(ev["before"]) for ev in events], [json_text(ev["after"]) for ev in events],
                   [ev.get("note") for ev in events])

    def __add__(self, other: EventColumns) -> EventColumns:
        return EventColumns(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def __len__(self) -> int:
        return len(self.subjects)


def json_text(values: dict[str, Any]) -> str:
    """An event's `before` or `after` as stored: JSON, keys sorted, non-ASCII kept, dates and other values
    JSON has no form for as their `str`."""
    return json.dumps(values, sort_keys=True, ensure_ascii=False, default=str)


def json_texts(frame: pd.DataFrame) -> list[str]:
    """Each row of `frame` as the text `json_text` gives the row's dict (missing values as null), built column
    by column: a scan's creations are a third of a million rows, and one `json.dumps` a row was ~15 µs."""
    if frame.empty:
        return []
    return _json_objects({str(key): _json_column(frame[key]) for key in frame.columns}, ", ", ": ")


def _json_objects(values: dict[str, list[str]], item_separator: str, key_separator: str) -> list[str]:
    """Per row, the JSON object of the columns' value texts (each already JSON) under their keys, sorted — what
    `json.dumps(..., sort_keys=True, ensure_ascii=False, separators=(item_separator, key_separator))` writes."""
    keys = sorted(values)
    heads = [("{" if i == 0 else item_separator) + encode_basestring(key) + key_separator
             for i, key in enumerate(keys)]
    return ["".join(head + value for head, value in zip(heads, row, strict=True)) + "}"
            for row in zip(*(values[key] for key in keys), strict=True)]


def _json_column(values: pd.Series) -> list[str]:
    """One column's values as `json.dumps` writes each (what `api.db.repository.records` would hand it)."""
    import numpy as np
    import pandas as pd

    missing = values.isna().to_numpy(dtype=bool)
    if values.dtype.kind == "f":  # measures: many distinct values, each written as json does (float.__repr__)
        numbers = values.to_numpy(dtype=float)
        texts = np.array(list(map(float.__repr__, numbers.tolist())), dtype=object)
        odd = ~np.isfinite(numbers) & ~missing  # ±inf: json's own words for them
        texts[odd] = [json.dumps(v) for v in numbers[odd].tolist()]
        texts[missing] = "null"
        return list(texts.tolist())
    codes, uniques = pd.factorize(values, use_na_sentinel=True)  # flags, words: a few distinct values
    words = [json.dumps(v.item() if isinstance(v, np.generic) else v, ensure_ascii=False, default=str)
             for v in np.asarray(uniques, dtype=object)]
    return [words[c] if c >= 0 else "null" for c in codes.tolist()]


def canonical_texts(chain: Chain, ids: Sequence[int], subjects: Sequence[int], ats: Sequence[dt.datetime],
                     actors: Sequence[str], actions: Sequence[str], befores: Sequence[str], afters: Sequence[str],
                     notes: Sequence[str | None]) -> list[bytes]:
    """What each event's hash covers: the JSON object {id, subject, at, actor, action, before, after, note}
    with sorted keys and no spaces, as `json.dumps(..., sort_keys=True, ensure_ascii=False,
    separators=(",", ":"))` writes it (the chain's format since its first event; `tests/cases/test_audit.py`
    holds the two equal), built by concatenation because a scan hashes a third of a million events."""
    times = {at: encode_basestring(as_utc(at).isoformat(timespec="microseconds")) for at in set(ats)}
    fields_of = {"id": [str(i) for i in ids],
                 chain.subject: ["null" if s is None else str(int(s)) for s in subjects],
                 "at": [times[at] for at in ats], "actor": list(map(encode_basestring, actors)),
                 "action": list(map(encode_basestring, actions)), "before": list(map(encode_basestring, befores)),
                 "after": list(map(encode_basestring, afters)),
                 "note": ["null" if n is None else encode_basestring(n) for n in notes]}
    return [text.encode() for text in _json_objects(fields_of, ",", ":")]


def _link(prev_hash: str, content: bytes) -> str:
    return hashlib.sha256(prev_hash.encode() + content).hexdigest()


def append_event(session: Session, *, case_id: int, actor: str, action: str, before: dict[str, Any],
                 after: dict[str, Any], note: str | None = None, at: dt.datetime | None = None) -> None:
    """Append one event to the chain inside the caller's transaction."""
    append_events(session, [{"case_id": case_id, "actor": actor, "action": action, "before": before,
                             "after": after, "note": note}], at=at)


def append_events(session: Session, events: list[dict[str, Any]] | EventColumns, at: dt.datetime | None = None,
                  chain: Chain = CASE_CHAIN) -> int:
    """Append many events at once (one head lock, one bulk insert), e.g. the cases a scan creates.

    Each event dict has the chain's subject (case_id, or record_id for land), actor, action, before, after and
    optionally note; a bulk writer may hand `EventColumns` instead.
    """
    if not len(events):
        return 0
    batch = events if isinstance(events, EventColumns) else EventColumns.of(events, chain.subject)
    at = as_utc(at) if at is not None else utcnow()
    head = session.execute(select(AuditHead).where(AuditHead.id == chain.head_id).with_for_update()).scalar_one()
    ids = range(head.last_event_id + 1, head.last_event_id + 1 + len(batch))
    contents = canonical_texts(chain, ids, batch.subjects, [at] * len(batch), batch.actors, batch.actions,
                                batch.befores, batch.afters, batch.notes)
    prev, prevs, hashes = head.last_hash, [], []
    for content in contents:  # a chain: each link needs the one before
        prevs.append(prev)
        prev = _link(prev, content)
        hashes.append(prev)
    columns: dict[str, list[Any]] = {
        "id": list(ids), chain.subject: batch.subjects, "actor": batch.actors, "action": batch.actions,
        "before": batch.befores, "after": batch.afters, "note": batch.notes, "prev_hash": prevs, "hash": hashes}
    table = cast(Table, chain.model.__table__)
    if len(batch) >= BULK_EVENTS:  # a scan's thousands of events: PostgreSQL takes them by COPY
        import pandas as pd

        from api.db.repository import insert_rows

        insert_rows(session, table, pd.DataFrame(columns).assign(at=at))
    else:
        session.execute(table.insert(), [dict(zip(columns, row, strict=True), at=at)
                                         for row in zip(*columns.values(), strict=True)])
    head.last_event_id = ids[-1]
    head.last_hash = prev
    session.flush()
    return len(batch)


@dataclass(frozen=True)
class ChainReport:
    """The result of verifying the chain: ok, or the first broken link and why."""

    events: int
    ok: bool
    broken_event_id: int | None = None
    reason: str | None = None


def verify_chain(session: Session, chain: Chain = CASE_CHAIN) -> ChainReport:
    """Walk every event of `chain` in order and check each link; name the first one that does not hold.

    Read and hashed a page at a time (a province's scan alone writes a third of a million events)."""
    prev = GENESIS
    count = 0
    last_id = 0
    model: Any = chain.model
    columns = [model.id, getattr(model, chain.subject), model.at, model.actor, model.action, model.before,
               model.after, model.note, model.prev_hash, model.hash]
    pages = session.execute(select(*columns).order_by(model.id).execution_options(yield_per=VERIFY_PAGE))
    for page in pages.partitions():
        ids, subjects, ats, actors, actions, befores, afters, notes, prev_hashes, hashes = zip(*page, strict=True)
        contents = canonical_texts(chain, ids, subjects, ats, actors, actions, befores, afters, notes)
        for event_id, prev_hash, stored, content in zip(ids, prev_hashes, hashes, contents, strict=True):
            count += 1
            if event_id != last_id + 1:
                return ChainReport(count, False, event_id, f"event {last_id + 1} is missing before event {event_id}")
            if prev_hash != prev:
                return ChainReport(count, False, event_id, "prev_hash does not match the previous event's hash")
            if _link(prev, content) != stored:
                return ChainReport(count, False, event_id, "content does not match its hash (edited)")
            prev = stored
            last_id = event_id
    head = session.get(AuditHead, chain.head_id)
    if head is not None and (head.last_event_id != last_id or head.last_hash != prev):
        return ChainReport(count, False, head.last_event_id,
                           f"the newest event {head.last_event_id} is missing (chain ends at {last_id})")
    return ChainReport(count, True)
