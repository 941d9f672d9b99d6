"""The audit chain's texts: built column by column for bulk writers, byte for byte what `json.dumps` wrote
(the chain's format since its first event, so chains already stored keep verifying)."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest
from shapely import box
from sqlalchemy import select

from api.cases.audit import (
    CASE_CHAIN,
    LAND_CHAIN,
    EventColumns,
    append_events,
    canonical_texts,
    json_text,
    json_texts,
    verify_chain,
)
from api.db import models
from api.db.repository import insert_rows, records, table_of, to_db_geometry
from tests.conftest import Database

AWKWARD = ["状态", 'quote " and \\ backslash', "tab\tnew\nline\x01\x1f", "emoji 🏠 and \u2028", ""]


def _reference_canonical(event_id: int, subject_id: int, at: dt.datetime, actor: str, action: str, before: str,
                         after: str, note: str | None, subject: str) -> bytes:
    """The canonical form as the chain's first implementation wrote it, per event."""
    payload = {"id": event_id, subject: subject_id, "at": at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
               "actor": actor, "action": action, "before": before, "after": after, "note": note}
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


@pytest.mark.parametrize("chain", [CASE_CHAIN, LAND_CHAIN], ids=lambda c: c.name)
def testcanonical_texts_are_what_json_dumps_wrote(chain):
    at = dt.datetime(2026, 12, 3, 15, 18, 0, 5, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    n = len(AWKWARD)
    subjects, actors, actions = list(range(7, 7 + n)), AWKWARD, AWKWARD[::-1]
    befores = [json_text({"status": s}) for s in AWKWARD]
    afters = [json_text({}) for _ in AWKWARD]
    notes = [None, *AWKWARD[1:]]
    ours = canonical_texts(chain, range(1000, 1000 + n), subjects, [at] * n, actors, actions, befores, afters, notes)
    assert ours == [_reference_canonical(1000 + i, subjects[i], at, actors[i], actions[i], befores[i], afters[i],
                                         notes[i], chain.subject) for i in range(n)]


def test_json_texts_are_what_json_text_writes_of_each_record():
    frame = pd.DataFrame({
        "status": ["new", "closed", None, "新", AWKWARD[1], AWKWARD[2], "new", "closed"],
        "footprint_m2": [0.1 + 0.2, 1e-07, math.nan, math.inf, -math.inf, 12.0, 5e-324, 123456.78901234567],
        "still_violating": [True, False, True, True, False, True, False, True],
        "date_conflict": pd.array([True, None, False, True, None, False, True, False], dtype="boolean"),
        "floors": [1, 2, 3, 4, 5, 6, 7, 8],
        "floors_with_gaps": pd.array([1, None, 3, 4, None, 6, 7, 8], dtype="Int64"),
        "at": pd.Timestamp("2026-12-03 07:18", tz="UTC"),
        "day": [dt.date(2020, 7, 3), None, *[dt.date(2021, 1, i) for i in range(1, 7)]],
    })
    assert json_texts(frame) == [json_text(r) for r in records(frame)]
    assert json_texts(frame.iloc[:0]) == []


def test_bulk_and_single_appends_make_one_chain_that_verifies(db: Database):
    now = dt.datetime.now(dt.UTC)
    with db.factory.begin() as session:
        insert_rows(session, table_of(models.Case), pd.DataFrame({
            "code": ["RL-0", "RL-1", "RL-2"], "footprint_m2": 100.0, "farmland_m2": 100.0, "cultivated_m2": 0.0,
            "period": "after_cutoff", "disposition": "demolish", "rules": "1", "created_at": now, "scanned_at": now,
            "geom": to_db_geometry(np.array([box(0, 0, 10, 10)] * 3), session)}))
        case_ids = list(session.execute(select(models.Case.id).order_by(models.Case.code)).scalars())
    after = pd.DataFrame({"status": ["new"] * 3, "farmland_m2": [1.5, np.nan, 2.0], "still_violating": True})
    with db.factory.begin() as session:
        bulk = EventColumns(case_ids, ["scan"] * 3, ["create"] * 3, ["{}"] * 3, json_texts(after), [None] * 3)
        append_events(session, bulk + EventColumns.of([{"case_id": case_ids[0], "actor": "张三", "action": "assign",
                                                         "before": {}, "after": {"assignee": "李四"}}]))
        append_events(session, [{"case_id": case_ids[1], "actor": "王五", "action": "comment", "before": {},
                                 "after": {"text": AWKWARD[2]}, "note": AWKWARD[1]}])
    with db.factory() as session:
        assert verify_chain(session).ok and verify_chain(session).events == 5
        events = session.execute(select(models.CaseEvent).order_by(models.CaseEvent.id)).scalars().all()
        assert [e.action for e in events] == ["create"] * 3 + ["assign", "comment"]
        assert json.loads(events[1].after) == {"status": "new", "farmland_m2": None, "still_violating": True}
        assert events[4].note == AWKWARD[1] and json.loads(events[4].after) == {"text": AWKWARD[2]}
    with db.factory.begin() as session:  # an edit to a bulk-written event is caught
        session.get(models.CaseEvent, 2).after = json_text({"status": "closed"})
    with db.factory() as session:
        report = verify_chain(session)
        assert not report.ok and report.broken_event_id == 2
