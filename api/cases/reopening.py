"""A recorded demolition contradicted — by a survey imported after it (`api.ingest.scan`) or by imagery taken
after it (`api.ingest.imagery`): the one way a case is reopened (拆除不到位 / 假拆除).

The case goes back to the township (`reopened`) on a new 137 clock from now, with the remaining area it started
with and no stock decision; closing it again needs the whole path once more.

What a recorded demolition removed (`whole_house_demolished`): the house — or of an extension its new part only,
unless its old part was classified `demolish` too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from api.cases.measures import remaining_of
from api.clock import as_utc
from api.db.models import Case
from gis.rules import Period

#: States in which a demolition has been recorded: a house still standing contradicts them.
DEMOLITION_RECORDED = ("demolished", "restored", "reinspected", "submitted", "closed")


def whole_house_demolished(period: str, decision: str | None) -> bool:
    """Whether a case's recorded demolition took its whole house: any case but an extension, and an extension
    whose old part was classified `demolish` (its new part went first). An extension's old part standing is no
    contradiction of a demolition of its new part alone."""
    return period != Period.EXTENDED_AFTER_CUTOFF or decision == "demolish"


def reopen(case: Case, now: dt.datetime) -> dict[str, Any]:
    """Put the case back with the township; returns what it was (the audit event's `before`)."""
    before = {"status": case.status, "remaining_m2": case.remaining_m2, "decision": case.decision,
              "closed_at": as_utc(case.closed_at).isoformat() if case.closed_at else None}
    case.status = "reopened"
    case.decision = None  # the whole path once more: a stock house (or an extension's old part) is classified again
    case.remaining_m2 = remaining_of(case)
    case.assigned_at, case.studied_at, case.finished_at = now, None, None
    case.returned_at = case.closed_at = None
    case.resume_status = None
    case.upper_review = None  # closed again later, it is reviewed above the county again, from the city
    return before
