"""A case's 137 deadlines from its milestone times (assigned, studied, finished, returned, progress reports).

`api.cases.deadlines` holds the rule itself (pure dates); this module reads the milestones of stored cases
and hands them to it, for one case or for a frame of them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.cases.deadlines import DeadlinePolicy, Deadlines, deadlines_due, evaluate, overdue_from
from api.clock import as_utc, as_utc_or_none, from_frame
from api.db.models import CaseEvent, ProgressReport
from api.db.repository import in_chunks


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
    """From when the case is overdue unless something changes (`api.cases.deadlines.overdue_from`); None before
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
    """The case's deadlines that fell due in [start, end) and how many were met (`api.cases.deadlines.deadlines_due`),
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


def demolitions_recorded(session: Session, case_ids: list[int]) -> dict[int, dt.datetime]:
    """When each case's demolition was last recorded (`record_demolition`), for the cases that have one."""
    return last_taken(session, case_ids, "record_demolition")


def demolitions_started(session: Session, case_ids: list[int]) -> dict[int, dt.datetime]:
    """When each case's demolition last started (`start_demolition`), for the cases that have one."""
    return last_taken(session, case_ids, "start_demolition")


def last_taken(session: Session, case_ids: list[int], action: str) -> dict[int, dt.datetime]:
    """When `action` was last taken on each case, for the cases that have it."""
    out: dict[int, dt.datetime] = {}
    for chunk in in_chunks(case_ids):
        for cid, last in session.execute(select(CaseEvent.case_id, func.max(CaseEvent.at)).where(
                CaseEvent.case_id.in_(chunk), CaseEvent.action == action).group_by(CaseEvent.case_id)):
            out[int(cid)] = as_utc(last)
    return out


#: The overdue instant of a case that cannot become overdue (ns since the epoch).
NEVER = int(np.iinfo(np.int64).max)


def overdue_instants(session: Session, policy: DeadlinePolicy, frame: pd.DataFrame,
                     now: dt.datetime) -> np.ndarray:
    """Per case of `frame` (id and the milestone columns), from when it is overdue (ns since the epoch);
    never for unassigned cases."""
    out = np.full(len(frame), NEVER, dtype=np.int64)
    assigned = np.flatnonzero(frame["assigned_at"].notna().to_numpy())
    for k, m in zip(assigned, milestones(session, frame.iloc[assigned]), strict=True):
        since = overdue_since(policy, as_utc(now), **m)
        if since is not None:
            out[k] = int(since.timestamp() * 1e9)
    return out
