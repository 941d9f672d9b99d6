"""Reading cases, always in the caller's scope: the filtered list (with 137 deadlines) and one case in full."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from api.cases.deadlines import DeadlinePolicy
from api.cases.filters import CaseFilter
from api.cases.history import lead_codes_at
from api.cases.measures import old_part_m2
from api.cases.milestones import MILESTONE_COLUMNS, deadline_fields, deadlines_of, milestones
from api.cases.scope import load_case, scope
from api.cases.service import state_of
from api.cases.workflow import (
    UPPER_LEVELS,
    Status,
    allowed_actions,
    awaited_level,
    may_report,
    upper_review_words,
)
from api.clock import as_utc, utcnow
from api.db.models import Case, CaseEvent, CaseLead, Comment, Photo, ProgressReport, User
from api.db.repository import bbox_clause, centre_lat_lon, read_frame
from api.errors import InvalidQuery, NotFound
from gis.rules import MU_M2, Period


def _awaiting_clauses(level: str) -> list[ColumnElement[bool]]:
    """Closed cases whose review above the county waits for `level`: the city's, where no level passed them yet;
    the province's, where the city did (`api.cases.workflow.awaited_level`)."""
    levels = [lv.value for lv in UPPER_LEVELS]
    if level not in levels:
        raise InvalidQuery(f"awaiting must be one of {', '.join(levels)}, not {level!r}")
    before = next(p for p in (None, *levels) if awaited_level(p) == level)
    passed = Case.upper_review.is_(None) if before is None else Case.upper_review == before
    return [Case.status == Status.CLOSED, passed]


#: The case columns of the list and of one case (besides id and geometry).
CASE_COLUMNS = ["code", "house_id", "township_code", "village_code", "footprint_m2", "farmland_m2", "cultivated_m2",
                "unapproved_cultivated_m2", "retro_approval", "after_cutoff_m2", "farmland_after_cutoff_m2",
                "unapproved_after_cutoff_m2", "occupied_m2", "period", "disposition", "rules", "field_rules",
                "date_conflict", "status", "still_violating", "verdict", "decision", "remaining_m2", "assignee_id",
                "origin", "lead_code", "file_number", "requested_period", "version", "upper_review"]
#: Deadline columns every listed case carries (computed, not stored).
DEADLINE_COLUMNS = ("next_deadline", "next_deadline_kind", "overdue", "on_time")
#: Columns a list may be sorted by (stored ones: the database sorts, whatever the size of the county).
SORTABLE = ("code", "township_code", "village_code", "status", "period", "disposition", "footprint_m2",
            "farmland_m2", "remaining_m2", "created_at", "assignee_id")
#: What `CaseQuery.assignee` may say besides a username.
ASSIGNEE_ME, ASSIGNEE_NONE = "me", "none"


@dataclass(frozen=True)
class CaseQuery:
    """What a case list asks for beyond the shared filters: only mine, a code, a search text, a box."""

    where: CaseFilter = field(default_factory=CaseFilter)
    #: "me", "none" (unassigned) or an inspector's username.
    assignee: str | None = None
    code: str | None = None
    search: str | None = None
    box: tuple[float, float, float, float] | None = None  # county CRS (m)
    #: A SORTABLE column, "-" in front for descending; ties broken by code.
    sort: str = "code"
    #: Closed cases awaiting this review level above the county (`ReviewLevel`: city, province).
    awaiting: str | None = None


def list_cases(session: Session, user: User, query: CaseQuery, policy: DeadlinePolicy, *, limit: int,
               offset: int, now: dt.datetime | None = None) -> tuple[int, gpd.GeoDataFrame]:
    """Cases in the user's scope matching every filter, ordered by code: (how many match, the page
    [offset, offset + limit)), each with its 137 deadline columns and its areas in 亩."""
    now = now or utcnow()
    where = [*scope(user), *query.where.clauses(session)]
    if query.assignee == ASSIGNEE_ME:
        where.append(Case.assignee_id == user.id)
    elif query.assignee == ASSIGNEE_NONE:
        where.append(Case.assignee_id.is_(None))
    elif query.assignee:
        where.append(Case.assignee_id.in_(select(User.id).where(User.username == query.assignee)))
    if query.code:
        where.append(Case.code == query.code)
    if query.search and query.search.strip():
        where.append(_search_clause(query.search.strip()))
    if query.box:
        where.append(bbox_clause(session, Case, query.box))
    if query.awaiting:
        where.extend(_awaiting_clauses(query.awaiting))
    columns = [*CASE_COLUMNS, *MILESTONE_COLUMNS]
    order = _order(query.sort)
    if query.where.overdue is not None:
        frame = _with_deadlines(session, read_frame(session, Case, columns, where=where, order_by=order), policy, now)
        frame = frame[frame["overdue"] == query.where.overdue]
        total = len(frame)
        frame = frame.iloc[offset:offset + limit]
    else:
        count = select(func.count()).select_from(Case)
        for clause in where:
            count = count.where(clause)
        total = session.execute(count).scalar_one()
        frame = read_frame(session, Case, columns, where=where, order_by=order, limit=limit, offset=offset)
        frame = _with_deadlines(session, frame, policy, now)
    frame = with_mu(frame.drop(columns=MILESTONE_COLUMNS))
    frame["assignee"] = _usernames(session, frame["assignee_id"])
    return total, frame


def _order(sort: str) -> list[Any]:
    """ORDER BY of a SORTABLE column (descending with a leading "-"), then the code for a stable order."""
    name = sort.lstrip("-")
    if name not in SORTABLE:
        raise InvalidQuery(f"sort must be one of {', '.join(SORTABLE)} (with - for descending), not {sort!r}")
    column = getattr(Case, name)
    return [column.desc() if sort.startswith("-") else column.asc(), Case.code.asc()]


def _usernames(session: Session, ids: Any) -> list[str | None]:
    """The usernames of the assignees of listed cases (None where unassigned)."""
    wanted = sorted({int(i) for i in ids if i == i and i is not None})
    names = dict(session.execute(select(User.id, User.username).where(User.id.in_(wanted))).all()) if wanted else {}
    return [None if i is None or i != i else names.get(int(i)) for i in ids]


def _search_clause(text: str) -> ColumnElement[bool]:
    """Cases whose code is `text`, begins with it, or ends with `-text` (the house id), or that answer the
    satellite lead (卫片图斑) `text` — their own or a later batch's (`CaseLead`): a county answering its list of
    图斑 finds each one's case. LIKE wildcards typed by the user match themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    code = Case.code
    return or_(code == text, code.like(escaped + "%", escape="\\"), code.like("%-" + escaped, escape="\\"),
               Case.lead_code == text, Case.id.in_(select(CaseLead.case_id).where(CaseLead.lead_code == text)))


def _with_deadlines(session: Session, frame: gpd.GeoDataFrame, policy: DeadlinePolicy,
                    now: dt.datetime) -> gpd.GeoDataFrame:
    """Add the DEADLINE_COLUMNS (computed at `now`, not stored)."""
    rows = [deadline_fields(deadlines_of(policy, now, **m)) for m in milestones(session, frame)]
    for key in DEADLINE_COLUMNS:
        frame[key] = [r[key] for r in rows]
    return frame


def with_mu(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The case's farmland and footprint areas in 亩 as well as m² (3 decimals)."""
    frame["farmland_mu"] = (frame["farmland_m2"] / MU_M2).round(3)
    frame["footprint_mu"] = (frame["footprint_m2"] / MU_M2).round(3)
    return frame


def case_row(session: Session, case_id: int) -> gpd.GeoDataFrame:
    """One case's CASE_COLUMNS and footprint (the caller has checked scope through `case_detail`)."""
    frame = read_frame(session, Case, CASE_COLUMNS, where=[Case.id == case_id])
    if frame.empty:
        raise NotFound(f"no case {case_id}")
    return with_mu(frame)


@dataclass(frozen=True)
class CaseDetail:
    """One case with everything a reviewer needs."""

    properties: dict[str, Any]
    history: list[dict[str, Any]]
    comments: list[dict[str, Any]]
    reports: list[dict[str, Any]]
    photos: list[Photo]
    allowed_actions: list[str]


def lead_codes(session: Session, case: Case) -> list[str]:
    """Every satellite lead (卫片图斑) the case answers now, first to last (`api.cases.history.lead_codes_at`)."""
    one = pd.DataFrame({"id": [case.id], "origin": [case.origin], "lead_code": [case.lead_code]})
    return lead_codes_at(session, one, None)[0]


def case_detail(session: Session, user: User, case_id: int, policy: DeadlinePolicy) -> CaseDetail:
    """The case's fields, deadlines, allowed actions and history (in the user's scope)."""
    case = load_case(session, user, case_id)
    # Reports and comments with their authors, by username (the code) and by the name users know them by.
    reported = session.execute(select(ProgressReport, User.username, User.display_name)
                               .join(User, User.id == ProgressReport.author_id)
                               .where(ProgressReport.case_id == case.id).order_by(ProgressReport.at)).all()
    reports = [r for r, _, _ in reported]
    now = utcnow()
    d = deadlines_of(policy, now, assigned_at=case.assigned_at, studied_at=case.studied_at,
                     finished_at=case.finished_at, reports=[as_utc(r.at) for r in reports],
                     returned_at=case.returned_at)
    events = session.execute(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)).scalars()
    comments = session.execute(select(Comment, User.username, User.display_name)
                               .join(User, User.id == Comment.author_id)
                               .where(Comment.case_id == case.id).order_by(Comment.id)).all()
    state = state_of(session, case)
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
                    "parent_case_id": case.parent_case_id, "lead_codes": lead_codes(session, case),
                    # The desk offers the progress report form (137: every 7 days) only where one is taken.
                    "may_report": may_report(state, user.role),
                    # Above the county: the highest level that passed the closed case, and the one it waits for.
                    "upper_review": case.upper_review,
                    "awaiting_review": (level.value if case.status == Status.CLOSED
                                        and (level := awaited_level(case.upper_review)) else None),
                    "upper_review_words": (words._asdict() if (words := upper_review_words(
                        case.status, case.upper_review)) else None)},
        history=[{"id": e.id, "at": as_utc(e.at).isoformat(), "actor": e.actor, "action": e.action,
                  "before": json.loads(e.before), "after": json.loads(e.after), "note": e.note} for e in events],
        comments=[{"id": c.id, "at": as_utc(c.at).isoformat(), "author": username, "author_name": name or username,
                   "text": c.text} for c, username, name in comments],
        reports=[{"id": r.id, "at": as_utc(r.at).isoformat(), "author": username, "author_name": name or username,
                  "text": r.text, "remaining_m2": r.remaining_m2} for r, username, name in reported],
        photos=list(session.execute(select(Photo).where(Photo.case_id == case.id).order_by(Photo.id)).scalars()),
        allowed_actions=allowed_actions(state, user.role),
    )


def centre_of_cases(session: Session, user: User) -> tuple[float, float] | None:
    """The centroid of the cases the user may see as (lat, lon) on WGS 84; None when there are none."""
    return centre_lat_lon(session, Case.geom, scope(user))
