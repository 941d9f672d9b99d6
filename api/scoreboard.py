"""The township scoreboard (通报表扬/通报批评): per township and month, how enforcement is going.

Month boundaries are in Asia/Shanghai. Deadline figures are evaluated at the end of the month (or now,
for the running month).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.cases import deadlines_of, reports_by_case
from api.clock import as_utc, utcnow
from api.deadlines import COUNTY_TZ
from api.errors import InvalidQuery
from api.models import AdminArea, Case, CaseEvent, User
from api.settings import Settings
from api.workflow import INCREMENT_PERIODS, Status


def month_bounds(month: str) -> tuple[dt.datetime, dt.datetime]:
    """Start and end (exclusive) of 'YYYY-MM' in county time, as aware datetimes."""
    try:
        year, mon = (int(p) for p in month.split("-"))
        start = dt.datetime(year, mon, 1, tzinfo=COUNTY_TZ)
    except ValueError as exc:
        raise InvalidQuery(f"month must be YYYY-MM, got {month!r}") from exc
    end = dt.datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=COUNTY_TZ)
    return start, end


@dataclass
class Row:
    township_code: str
    township_name: str
    new_increments: int = 0
    closed: int = 0
    demolished_m2: float = 0.0
    remaining_m2: float = 0.0
    assigned: int = 0
    on_time: int = 0
    overdue: int = 0

    def as_dict(self, settings: Settings) -> dict[str, Any]:
        rate = self.on_time / self.assigned if self.assigned else None
        commend = rate is not None and rate >= settings.commend_on_time_rate and self.overdue == 0
        criticise = (rate is not None and rate < settings.criticise_below) or self.overdue >= settings.criticise_overdue
        return {"township_code": self.township_code, "township_name": self.township_name,
                "new_increments": self.new_increments, "closed": self.closed,
                "demolished_m2": round(self.demolished_m2, 2), "remaining_m2": round(self.remaining_m2, 2),
                "assigned": self.assigned, "on_time_rate": None if rate is None else round(rate, 4),
                "overdue": self.overdue, "commend": commend, "criticise": criticise}


def scoreboard(session: Session, user: User, month: str, settings: Settings) -> list[dict[str, Any]]:
    """One row per township (only the user's own for township roles), ranked by on-time rate."""
    start, end = month_bounds(month)
    at = min(end, utcnow())
    townships = session.execute(select(AdminArea.code, AdminArea.name).where(AdminArea.level == "township")).all()
    rows = {code: Row(code, name) for code, name in townships}
    cases = list(session.execute(select(Case)).scalars())
    if user.role in ("inspector", "township_officer"):
        rows = {k: v for k, v in rows.items() if k == user.township_code}
    demolished_at = dict(session.execute(
        select(CaseEvent.case_id, CaseEvent.at).where(CaseEvent.action == "record_demolition")).all())
    reports = reports_by_case(session, [c.id for c in cases])
    policy = settings.deadline_policy
    for case in cases:
        row = rows.get(case.township_code or "")
        if row is None:
            continue
        created = as_utc(case.created_at)
        if start <= created < end and case.period in INCREMENT_PERIODS:
            row.new_increments += 1
        if case.closed_at is not None and start <= as_utc(case.closed_at) < end:
            row.closed += 1
        when = demolished_at.get(case.id)
        if when is not None and start <= as_utc(when) < end:
            row.demolished_m2 += case.footprint_m2
        if case.status != Status.CLOSED and created < end:
            row.remaining_m2 += case.remaining_m2 or 0.0
        if case.assigned_at is not None and as_utc(case.assigned_at) < at:
            d = deadlines_of(case, [r for r in reports[case.id] if r < at], policy, at)
            row.assigned += 1
            row.on_time += int(bool(d and d.on_time))
            row.overdue += int(bool(d and d.overdue and case.status != Status.CLOSED))
    ranked = sorted(rows.values(), key=lambda r: (-(r.on_time / r.assigned if r.assigned else 1.0), r.overdue,
                                                  r.township_code))
    return [r.as_dict(settings) for r in ranked]
