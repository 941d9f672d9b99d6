"""What each field chief answers for, and whether they did their rounds.

`inbox`: per post of a chief — the area's open cases and their overdue 137 deadlines, its open abandoned-land
records and overdue remedies, its patrol findings left to a person (`TO_HANDLE`), and the chief's patrols this
month against what their level owes.
`month_duty`: per chief and month — patrols required vs done, grid cells of their area covered by any patrol,
km walked; and per township — abandoned land found, remedied and outstanding (m², 亩, share of the township's
cultivated land), overdue remedies, findings. What the monthly export and the scoreboard print.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.cases.deadlines import COUNTY_TZ, DeadlinePolicy
from api.cases.filters import CaseFilter
from api.cases.queries import CaseQuery, list_cases
from api.clock import as_utc, utcnow
from api.db.areas import TOWNSHIP_LEVEL, VILLAGE_LEVEL
from api.db.models import AbandonedRecord, AdminArea, Case, Chief, Finding, Grid, LandParcel, Patrol, User
from api.reports.monthly import begun_months, month_bounds, period_bounds
from api.stewardship.abandoned import FINDING_AREA, land_scope
from api.stewardship.chiefs import COUNTY_LEVEL, GRID_LEVEL, LEVEL_NAMES, Area, find_area, in_area, posts_of
from api.stewardship.patrols import patrolled_grid_ids
from api.stewardship.queries import to_handle_clauses
from api.stewardship.workflow import OPEN_LAND, LandStatus
from gis.rules import CULTIVATED_CODES, MU_M2


def _month_of(now: dt.datetime) -> str:
    return f"{now.astimezone(COUNTY_TZ):%Y-%m}"


def _case_filter(area: Area) -> CaseFilter:
    return CaseFilter(township=area.code if area.level == TOWNSHIP_LEVEL else None,
                      village=area.code if area.level == VILLAGE_LEVEL else None,
                      grid=area.code if area.level == GRID_LEVEL else None)


def _land_clauses(area: Area) -> list[Any]:
    return in_area({TOWNSHIP_LEVEL: AbandonedRecord.township_code, VILLAGE_LEVEL: AbandonedRecord.village_code,
                    GRID_LEVEL: AbandonedRecord.grid_code}, area)


def inbox(session: Session, user: User, policy: DeadlinePolicy, duty: dict[str, int],
          now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Per post of `user`: what lies in the area (see the module docstring)."""
    now = now or utcnow()
    start, end = month_bounds(_month_of(now))
    done = session.execute(select(func.count()).where(Patrol.user_id == user.id, Patrol.started_at >= start,
                                                      Patrol.started_at < end)).scalar_one()
    posts = []
    for area in posts_of(session, user, now):
        where = _case_filter(area)
        open_cases = session.execute(select(func.count()).where(*where.clauses(session), Case.status != "closed")
                                     ).scalar_one()
        overdue, _ = list_cases(session, user, CaseQuery(where=CaseFilter(**{**where.__dict__, "overdue": True})),
                                policy, limit=0, offset=0, now=now)
        land = [*_land_clauses(area), *land_scope(user), AbandonedRecord.status.in_(sorted(OPEN_LAND))]
        records = list(session.execute(select(AbandonedRecord.code, AbandonedRecord.status,
                                              AbandonedRecord.remedy_deadline, AbandonedRecord.area_m2)
                                       .where(*land).order_by(AbandonedRecord.code)).all())
        findings = session.execute(select(func.count()).select_from(Finding).where(
            *to_handle_clauses(), *in_area(FINDING_AREA, area))).scalar_one()
        today = now.astimezone(COUNTY_TZ).date()
        posts.append({
            "level": area.level, "level_name": LEVEL_NAMES[area.level], "area_code": area.code,
            "area_name": area.name, "open_cases": int(open_cases), "overdue_cases": int(overdue),
            "open_abandoned": len(records),
            "overdue_remedies": sum(1 for r in records if r.status == LandStatus.REMEDY_DECIDED
                                    and r.remedy_deadline is not None and today > r.remedy_deadline),
            "abandoned": [{"code": r.code, "status": r.status, "area_m2": round(r.area_m2, 1),
                           "remedy_deadline": r.remedy_deadline.isoformat() if r.remedy_deadline else None}
                          for r in records[:50]],
            "findings_to_handle": int(findings),
            "patrols_required": duty.get(area.level, 0), "patrols_done": int(done)})
    return posts


def month_duty(session: Session, month: str, duty: dict[str, int]) -> pd.DataFrame:
    """One row per chief post held during `month`: who, level, area, patrols required and done, grid cells of
    the area and how many any patrol covered, km the chief walked.

    `month` may be a quarter or a year (`api.reports.monthly.PERIOD_PATTERN`): patrols and cells covered over the
    whole period, and patrols required once per month of it (begun so far) in which the post was held."""
    start, end = period_bounds(month)
    months = [month_bounds(m) for m in begun_months(month)]
    posts = session.execute(select(Chief, User.username, User.display_name).join(User, User.id == Chief.user_id)
                            .where(Chief.assigned_at < end, (Chief.ended_at.is_(None)) | (Chief.ended_at > start))
                            .order_by(Chief.level, Chief.area_code)).all()
    walked = dict(session.execute(select(Patrol.user_id, func.count()).where(
        Patrol.started_at >= start, Patrol.started_at < end).group_by(Patrol.user_id)).all())
    km = dict(session.execute(select(Patrol.user_id, func.sum(Patrol.length_m)).where(
        Patrol.started_at >= start, Patrol.started_at < end).group_by(Patrol.user_id)).all())
    covered = patrolled_grid_ids(session, start, end)
    grids = pd.DataFrame(session.execute(select(Grid.id, Grid.code, Grid.village_code, Grid.township_code)).all(),
                         columns=["id", "code", "village_code", "township_code"])
    rows = []
    for chief, username, display in posts:
        area = find_area(session, chief.level, chief.area_code)
        mine = grids if area.level == COUNTY_LEVEL else grids[grids[{TOWNSHIP_LEVEL: "township_code",
                                                                      VILLAGE_LEVEL: "village_code",
                                                                      GRID_LEVEL: "code"}[area.level]] == area.code]
        rows.append({"chief": display or username, "username": username, "level": LEVEL_NAMES[area.level],
                     "area_code": area.code, "area_name": area.name, "township_code": area.township_code,
                     "patrols_required": duty.get(area.level, 0) * _months_held(chief, months),
                     "patrols_done": int(walked.get(chief.user_id, 0)), "grids": len(mine),
                     "grids_covered": int(mine["id"].isin(covered).sum()),
                     "km_walked": round(float(km.get(chief.user_id) or 0.0) / 1000, 2)})
    return pd.DataFrame(rows, columns=["chief", "username", "level", "area_code", "area_name", "township_code",
                                       "patrols_required", "patrols_done", "grids", "grids_covered", "km_walked"])


def _months_held(chief: Chief, months: list[tuple[dt.datetime, dt.datetime]]) -> int:
    """In how many of `months` (start, end) the post was held for some time."""
    return sum(1 for start, end in months if as_utc(chief.assigned_at) < end
               and (chief.ended_at is None or as_utc(chief.ended_at) > start))


def township_land(session: Session, month: str, now: dt.datetime | None = None) -> pd.DataFrame:
    """Per township, as of the month's end: abandoned land found in the month, remedied (closed) in the month,
    outstanding (open) — m² and 亩 — outstanding as a share of the township's cultivated land, overdue
    remedies, patrol findings in the month. `month` may be a quarter or a year: found, remedied and findings
    over the period, the rest as of its end."""
    start, end = period_bounds(month)
    as_of = min(end, now or utcnow())
    last_day = (as_of - dt.timedelta(microseconds=1)).astimezone(COUNTY_TZ).date()
    towns = pd.DataFrame(session.execute(select(AdminArea.code, AdminArea.name)
                                         .where(AdminArea.level == TOWNSHIP_LEVEL)
                                         .order_by(AdminArea.code)).all(), columns=["township_code", "township_name"])
    records = pd.DataFrame(session.execute(select(
        AbandonedRecord.township_code, AbandonedRecord.area_m2, AbandonedRecord.created_at, AbandonedRecord.closed_at,
        AbandonedRecord.status, AbandonedRecord.remedy_deadline)).all(),
        columns=["township_code", "area_m2", "created_at", "closed_at", "status", "remedy_deadline"])
    # The township's cultivated land, planar in the county CRS like the abandoned areas it is compared with.
    town_of_parcel = func.substr(LandParcel.zldwdm, 1, 9)
    cultivated: dict[str, float] = dict(session.execute(  # type: ignore[arg-type]
        select(town_of_parcel, func.sum(LandParcel.area_m2)).where(LandParcel.dlbm.in_(sorted(CULTIVATED_CODES)))
        .group_by(town_of_parcel)).all())
    findings = dict(session.execute(select(Finding.township_code, func.count()).where(
        Finding.at >= start, Finding.at < end).group_by(Finding.township_code)).all())
    out = []
    for code, name in zip(towns["township_code"], towns["township_name"], strict=True):
        mine = records[records["township_code"] == code]
        created = pd.to_datetime(mine["created_at"], utc=True)
        closed = pd.to_datetime(mine["closed_at"], utc=True)
        found = mine[(created >= start) & (created < as_of)]["area_m2"].sum()
        remedied = mine[(closed >= start) & (closed < as_of) & (mine["status"] == LandStatus.CLOSED)]["area_m2"].sum()
        open_now = (created < as_of) & (closed.isna() | (closed >= as_of))
        outstanding = mine[open_now]["area_m2"].sum()
        overdue = int((open_now & mine["remedy_deadline"].notna()
                       & mine["remedy_deadline"].map(lambda d: d is not None and d < last_day)).sum())
        land = float(cultivated.get(code[:9]) or 0.0)
        out.append({"township_code": code, "township_name": name, "abandoned_found_m2": round(float(found), 2),
                    "abandoned_remedied_m2": round(float(remedied), 2),
                    "abandoned_outstanding_m2": round(float(outstanding), 2),
                    "abandoned_outstanding_mu": round(float(outstanding) / MU_M2, 3),
                    "outstanding_share": round(float(outstanding) / land, 6) if land else None,
                    "overdue_remedies": overdue, "findings": int(findings.get(code, 0))})
    return pd.DataFrame(out)
