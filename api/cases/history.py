"""Cases as they stood at a past moment, rebuilt from the audit trail alone.

Every change to a case is an event whose `after` holds the new values (scans record `create` and
`rescan` events with the measures). Replaying the events up to a moment gives the case as it was then,
so a monthly report re-run next year gives the same numbers even after the cases moved on.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import pandas as pd
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from api.clock import as_utc
from api.db.models import Case, CaseEvent
from api.db.repository import in_chunks, read_frame
from gis.rules import Period

#: Fields a snapshot carries (replayed from events; a field no event mentions keeps the stored value).
SNAPSHOT_FIELDS = ["status", "period", "disposition", "rules", "field_rules", "verdict", "decision", "file_number",
                   "footprint_m2", "farmland_m2", "cultivated_m2", "after_cutoff_m2", "unapproved_after_cutoff_m2",
                   "occupied_m2", "remaining_m2", "still_violating", "upper_review"]
STATIC_FIELDS = ["code", "township_code", "village_code", "created_at", "origin", "lead_code"]
#: First time of each action, as milestone columns (of the current round: a `return` clears `finished_at`
#: and sets `returned_at`, from which the finish clock runs again).
MILESTONES = {"assign": "assigned_at", "verify": "studied_at", "submit": "finished_at", "pass_review": "closed_at",
              "rectify": "rectified_at", "file": "filed_at",
              "record_demolition": "demolished_at", "restore": "restored_at",
              "demolition_confirmed": "confirmed_at"}


def snapshot(session: Session, at: dt.datetime, where: Sequence[ColumnElement[bool]] = ()) -> gpd.GeoDataFrame:
    """Every case created before `at` as it stood at `at` (county CRS geometry, milestone times, reports)."""
    at = as_utc(at)
    cases = read_frame(session, Case, [*STATIC_FIELDS, *SNAPSHOT_FIELDS], where=list(where), order_by="code")
    if cases.empty:
        for col in [*MILESTONES.values(), "returned_at", "reopened_at", "old_part_restored_at", "reports"]:
            cases[col] = pd.Series(dtype=object)
        return cases
    cases["created_at"] = [as_utc(v.to_pydatetime() if hasattr(v, "to_pydatetime") else v)
                           for v in cases["created_at"]]
    cases = cases[cases["created_at"] < at].copy()
    ids = cases["id"].astype(int).tolist()
    state: dict[int, dict[str, Any]] = {i: {} for i in ids}
    firsts: dict[int, dict[str, dt.datetime]] = {i: {} for i in ids}
    reports: dict[int, list[dt.datetime]] = {i: [] for i in ids}
    for chunk in in_chunks(ids, 5000):
        stmt = (select(CaseEvent.case_id, CaseEvent.at, CaseEvent.action, CaseEvent.after)
                .where(CaseEvent.case_id.in_(chunk)).order_by(CaseEvent.id))
        for case_id, when, action, after in session.execute(stmt):
            when = as_utc(when)
            if when >= at:
                continue
            state[case_id].update({k: v for k, v in json.loads(after).items() if k in SNAPSHOT_FIELDS})
            if action in ("return", "upper_return"):  # a new round: unfinished again, the clock restarts here
                firsts[case_id].pop("finished_at", None)
                firsts[case_id]["returned_at"] = when
                if action == "upper_return":  # the city or the province undid the county's closing
                    firsts[case_id].pop("closed_at", None)
            if action == "reappeared":  # reopened by a scan: a new 137 clock from this moment
                for cleared in ("studied_at", "finished_at", "returned_at", "closed_at"):
                    firsts[case_id].pop(cleared, None)
                firsts[case_id]["assigned_at"] = when
                firsts[case_id].setdefault("reopened_at", when)
            milestone = MILESTONES.get(action)
            if milestone and milestone not in firsts[case_id]:
                firsts[case_id][milestone] = when
            elif (action == "restore" and state[case_id].get("decision") == "demolish"
                  and state[case_id].get("period") == Period.EXTENDED_AFTER_CUTOFF):
                # An extension's second restoration: its old part's, classified `demolish` after the wing went.
                firsts[case_id].setdefault("old_part_restored_at", when)
            if action == "progress_report":
                reports[case_id].append(when)
    for field in SNAPSHOT_FIELDS:
        replayed = [state[i].get(field, _MISSING) for i in ids]
        current = cases[field].tolist()
        cases[field] = [c if r is _MISSING else r for r, c in zip(replayed, current, strict=True)]
    # Object columns: pandas would turn None into NaT, which is not None to the deadline code.
    for column in [*MILESTONES.values(), "returned_at", "reopened_at", "old_part_restored_at"]:
        cases[column] = pd.Series([firsts[i].get(column) for i in ids], index=cases.index, dtype=object)
    cases["reports"] = pd.Series([reports[i] for i in ids], index=cases.index, dtype=object)
    return cases


class _Missing:
    pass


_MISSING = _Missing()


def lead_arrivals(session: Session, cases: pd.DataFrame,
                  at: dt.datetime | None) -> list[list[tuple[str, dt.datetime | None]]]:
    """Per case of `cases` (`id`, `origin`, `lead_code`, `created_at`: a `snapshot`, or one case), the satellite
    leads (卫片图斑) it answered at `at`, first to last, each with the time it reached the county: a lead case's own
    code when the case was opened, then each lead attached to it before `at` (`lead_attached` events: a house
    case's first lead, a later batch's on the same building). From the audit trail, so a past month's export lists
    what was known then (`at` None: every lead, now); `case_leads` is the index that finds a case by a code."""
    until = as_utc(at) if at is not None else None
    ids = cases["id"].astype(int).tolist()
    arrivals: dict[int, list[tuple[str, dt.datetime | None]]] = {i: [] for i in ids}
    opened = cases["created_at"] if "created_at" in cases else pd.Series([None] * len(cases), index=cases.index)
    for case_id, origin, own, created in zip(ids, cases["origin"], cases["lead_code"], opened, strict=True):
        if origin == "lead" and isinstance(own, str):
            when = created.to_pydatetime() if hasattr(created, "to_pydatetime") else created
            arrivals[case_id].append((own, as_utc(when) if when is not None and when == when else None))
    for chunk in in_chunks(ids, 5000):
        for case_id, when, after in session.execute(
                select(CaseEvent.case_id, CaseEvent.at, CaseEvent.after)
                .where(CaseEvent.case_id.in_(chunk), CaseEvent.action == "lead_attached").order_by(CaseEvent.id)):
            attached = json.loads(after)
            code = attached.get("lead_code") or attached.get("further_lead_code")
            if ((until is None or as_utc(when) < until) and code
                    and code not in {c for c, _ in arrivals[case_id]}):
                arrivals[case_id].append((code, as_utc(when)))
    return [arrivals[i] for i in ids]


def lead_codes_at(session: Session, cases: pd.DataFrame, at: dt.datetime | None) -> list[list[str]]:
    """Per case, the codes of `lead_arrivals`: what the county reports each 卫片图斑 with."""
    return [[code for code, _ in leads] for leads in lead_arrivals(session, cases, at)]
