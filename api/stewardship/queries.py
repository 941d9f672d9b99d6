"""Reads for the map and the desk: grid cells with this month's coverage, patrol tracks, abandoned-land records,
chiefs — in the user's scope, in the county CRS (the HTTP edge makes GeoJSON of them)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import geopandas as gpd
import pandas as pd
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from api.accounts.roles import township_of
from api.cases.deadlines import COUNTY_TZ
from api.clock import as_utc, from_frame, utcnow
from api.db.areas import TOWNSHIP_LEVEL, VILLAGE_LEVEL, imported_townships
from api.db.models import AbandonedRecord, AdminArea, Case, Chief, Finding, Grid, LandPhoto, Patrol, User
from api.db.repository import bbox_clause, read_frame
from api.ingest.farmland_totals import current_totals
from api.reports.monthly import month_bounds, period_bounds
from api.stewardship.abandoned import finding_scope, land_scope, load_record, record_out, remedy_overdue
from api.stewardship.chiefs import COUNTY_LEVEL, GRID_LEVEL, LEVEL_NAMES, LEVELS, county_code, find_area
from api.stewardship.handling import finding_handlings, handling
from api.stewardship.patrols import patrolled_grid_ids
from api.stewardship.workflow import (
    FINDINGS_LISTED_DAYS,
    LAND_STATUS_NAMES,
    OUTCOME_NAMES,
    TO_HANDLE,
    may_handle,
    may_reopen,
)
from gis.rules import MU_M2

Box = tuple[float, float, float, float]


def _this_month(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    return month_bounds(f"{now.astimezone(COUNTY_TZ):%Y-%m}")


def grid_layer(session: Session, user: User, box: Box | None, now: dt.datetime | None = None) -> gpd.GeoDataFrame:
    """Grid cells (in the user's township for township roles) with `patrolled`: covered by a patrol this month."""
    start, end = _this_month(now or utcnow())
    township = township_of(user.role, user.township_code)
    where: list[Any] = [Grid.township_code == township] if township else []
    if box:
        where.append(bbox_clause(session, Grid, box))
    cells = read_frame(session, Grid, ["code", "name", "village_code", "township_code"], where=where)
    done = patrolled_grid_ids(session, start, end)
    cells["patrolled"] = cells["id"].isin(done)
    return cells


def patrol_layer(session: Session, user: User, month: str) -> gpd.GeoDataFrame:
    """The month's patrol tracks the user may see: an inspector their own, township roles their township's."""
    start, end = month_bounds(month)
    where: list[Any] = [Patrol.started_at >= start, Patrol.started_at < end]
    township = township_of(user.role, user.township_code)
    if user.role == "inspector":
        where.append(Patrol.user_id == user.id)
    elif township:
        where.append(Patrol.township_code == township)
    tracks = read_frame(session, Patrol, ["client_uuid", "user_id", "started_at", "ended_at", "length_m"],
                        where=where, order_by="started_at")
    names = dict(session.execute(select(User.id, User.username)).all())
    tracks["patroller"] = tracks["user_id"].map(names)
    for column in ("started_at", "ended_at"):  # instants, as UTC (SQLite's come back naive)
        tracks[column] = [None if (t := from_frame(v)) is None else as_utc(t).isoformat() for v in tracks[column]]
    return tracks.drop(columns=["user_id"])


def record_layer(session: Session, user: User, status: str | None = None, now: dt.datetime | None = None
                 ) -> gpd.GeoDataFrame:
    """Abandoned-land records in the user's scope (optionally of one status), with labels and `overdue`."""
    now = now or utcnow()
    where = [*land_scope(user), *([AbandonedRecord.status == status] if status else [])]
    frame = read_frame(session, AbandonedRecord, ["code", "status", "cause", "area_m2", "remedy",
                                                  "remedy_deadline", "township_code", "village_code", "grid_code",
                                                  "seen_on", "version"], where=where, order_by="code")
    frame["overdue"] = [remedy_overdue(st, d if d == d else None, now)
                        for st, d in zip(frame["status"], frame["remedy_deadline"], strict=True)]
    frame["status_name"] = frame["status"].map(LAND_STATUS_NAMES)
    for col in ("remedy_deadline", "seen_on"):
        frame[col] = [d.isoformat() if d is not None and d == d else None for d in frame[col]]
    return frame


def month_land(session: Session, month: str, township: str | None = None
               ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """For the printable report (county CRS): the grid cells with `patrolled` (covered by a patrol started in
    `month`), the abandoned-land records standing at the month's end (`open`: not closed or dismissed by then)
    and the month's patrol tracks — the county's, or one township's. `month` may be a quarter or a year."""
    start, end = period_bounds(month)
    cells = read_frame(session, Grid, ["code"], where=[Grid.township_code == township] if township else [])
    done = patrolled_grid_ids(session, start, end)
    cells["patrolled"] = cells["id"].isin(done)
    records = read_frame(session, AbandonedRecord, ["code", "status", "closed_at"], where=[
        AbandonedRecord.created_at < end, *([AbandonedRecord.township_code == township] if township else [])])
    closed = pd.to_datetime(records["closed_at"], utc=True)
    records["open"] = (closed.isna() | (closed >= end)).to_numpy()
    tracks = read_frame(session, Patrol, ["length_m"], where=[
        Patrol.started_at >= start, Patrol.started_at < end,
        *([Patrol.township_code == township] if township else [])])
    return cells, records, tracks


def record_detail(session: Session, user: User, record_id: int) -> tuple[dict[str, Any], gpd.GeoDataFrame]:
    """One record (fields, allowed actions, history, photos) and its geometry."""
    record = load_record(session, user, record_id)
    return record_out(session, record, user), read_frame(session, AbandonedRecord, ["code"],
                                                         where=[AbandonedRecord.id == record_id])


def chief_list(session: Session, user: User) -> list[dict[str, Any]]:
    """The chiefs in post, and the posts of the county and of each township that nobody holds (`vacant`, with no
    username): the 田长制 names a chief for each, and a post left empty (its chief's account disabled, say) must
    show, not vanish from the list. Villages and grid cells are named as the county reaches them: theirs are listed
    as vacant once someone held them and nobody does now (before, such a post vanished from the list, and the
    village's farmland answered to nobody unseen). Township roles see their township's."""
    rows = session.execute(select(Chief, User.username, User.display_name).join(User, User.id == Chief.user_id)
                           .where(Chief.ended_at.is_(None)).order_by(Chief.level, Chief.area_code)).all()
    township = township_of(user.role, user.township_code)
    out = []
    for chief, username, display in rows:
        area = find_area(session, chief.level, chief.area_code)
        if township and area.township_code != township:
            continue
        out.append({"level": chief.level, "level_name": LEVEL_NAMES[chief.level], "area_code": area.code,
                    "area_name": area.name, "username": username, "display_name": display,
                    "since": as_utc(chief.assigned_at).isoformat(), "vacant": False})
    held = {(c["level"], c["area_code"]) for c in out}
    towns = [t for t in imported_townships(session) if township in (None, t)]
    posts = ([find_area(session, COUNTY_LEVEL, county_code(session))] if towns and township is None else []) + [
        find_area(session, TOWNSHIP_LEVEL, t) for t in towns]
    once_held = session.execute(select(Chief.level, Chief.area_code).distinct().where(
        Chief.level.in_([VILLAGE_LEVEL, GRID_LEVEL]), Chief.ended_at.is_not(None))).all()
    left = [find_area(session, level, code) for level, code in once_held if (level, code) not in held]
    posts += [a for a in left if township in (None, a.township_code)]
    out += [{"level": a.level, "level_name": LEVEL_NAMES[a.level], "area_code": a.code, "area_name": a.name,
             "username": None, "display_name": None, "since": None, "vacant": True}
            for a in posts if (a.level, a.code) not in held]
    return sorted(out, key=lambda c: (LEVELS.index(c["level"]), c["area_code"]))


def chief_coverage(session: Session, user: User) -> list[dict[str, Any]]:
    """How far the village chiefs reach, per township: the villages with permanent farmland (by where each
    polygon's interior point falls, as the township totals count it), those with a village chief in post, and the
    farmland (m², 亩) of the villages without one, each named with its area — the patches no named chief answers
    for yet. Township roles see their township's."""
    township = township_of(user.role, user.township_code)
    where = [AdminArea.level == VILLAGE_LEVEL, *([AdminArea.township_code == township] if township else [])]
    villages = read_frame(session, AdminArea, ["code", "name", "township_code"], where=where, order_by="code")
    towns = dict(session.execute(select(AdminArea.code, AdminArea.name).where(
        AdminArea.level == TOWNSHIP_LEVEL, *([AdminArea.code == township] if township else []))).all())
    held = set(session.execute(select(Chief.area_code).where(Chief.level == VILLAGE_LEVEL,
                                                             Chief.ended_at.is_(None))).scalars())
    villages = villages.assign(farmland_m2=current_totals(session, villages).to_numpy())
    villages = villages[villages["farmland_m2"] > 0]
    out = []
    for code in sorted(towns):
        mine = villages[villages["township_code"] == code]
        bare = mine[~mine["code"].isin(held)]
        uncovered = float(bare["farmland_m2"].sum())
        out.append({"township_code": code, "township_name": towns[code], "villages_with_farmland": len(mine),
                    "villages_with_chief": len(mine) - len(bare),
                    "farmland_m2": round(float(mine["farmland_m2"].sum()), 2), "uncovered_m2": round(uncovered, 2),
                    "uncovered_mu": round(uncovered / MU_M2, 4),
                    "uncovered": [{"code": c, "name": n, "farmland_m2": round(float(a), 2)}
                                  for c, n, a in zip(bare["code"], bare["name"], bare["farmland_m2"], strict=True)]})
    return out


def to_handle_clauses() -> list[Any]:
    """WHERE clauses for the findings still left to a person (`TO_HANDLE`) that nobody has handled yet, however
    old: before, they dropped off after 30 days whether or not anyone had acted."""
    return [Finding.outcome.in_(sorted(TO_HANDLE)), Finding.handled_at.is_(None)]


def listed_clauses(now: dt.datetime) -> list[Any]:
    """WHERE clauses for the findings listed: those to handle, and those handled in the last
    `FINDINGS_LISTED_DAYS` days (with what was done)."""
    return [Finding.outcome.in_(sorted(TO_HANDLE)),
            or_(Finding.handled_at.is_(None), Finding.handled_at >= now - dt.timedelta(days=FINDINGS_LISTED_DAYS))]


def findings_to_handle(session: Session, user: User, now: dt.datetime | None = None, limit: int = 500
                       ) -> list[dict[str, Any]]:
    """The patrol findings in the user's scope (`finding_scope`) that are left to a person, newest first: what
    was found, where, by whom, what became of it (the case it points at, for a closed case's house built on
    again) and its photos. Before, the field app alone was told, and the outcome "待乡镇处理" reached no one."""
    now = now or utcnow()
    return _findings(session, user, [*listed_clauses(now), *finding_scope(session, user, now)], limit)


def my_findings(session: Session, user: User, now: dt.datetime | None = None, limit: int = 500
                ) -> list[dict[str, Any]]:
    """The user's own findings of the last `FINDINGS_LISTED_DAYS` days (by when found), whatever became of each,
    newest first: the phone was told an outcome once, when it sent the finding, and never what followed (a
    building the survey then brought, a handling, the county sending it back)."""
    now = now or utcnow()
    return _findings(session, user, [Finding.user_id == user.id,
                                     Finding.at >= now - dt.timedelta(days=FINDINGS_LISTED_DAYS)], limit)


def _findings(session: Session, user: User, where: list[Any], limit: int) -> list[dict[str, Any]]:
    """Findings as the API lists them: what, where, by whom, what became of it, its photos and handlings, and
    what `user` may do about it."""
    rows = session.execute(
        select(Finding.id, Finding.client_uuid, Finding.kind, Finding.note, Finding.at, Finding.outcome,
               Finding.township_code, Finding.village_code, Finding.grid_code, Finding.lat, Finding.lon,
               Finding.case_id, Case.code, User.username, User.display_name, Finding.handled_at,
               Finding.handled_by, Finding.handled_note)
        .join(User, User.id == Finding.user_id).outerjoin(Case, Case.id == Finding.case_id)
        .where(*where).order_by(Finding.at.desc(), Finding.id.desc()).limit(limit)).all()
    photos: dict[int, list[int]] = {}
    if rows:
        for finding_id, photo_id in session.execute(select(LandPhoto.finding_id, LandPhoto.id).where(
                LandPhoto.finding_id.in_([r.id for r in rows])).order_by(LandPhoto.id)).all():
            photos.setdefault(int(finding_id or 0), []).append(int(photo_id))
    handlings = finding_handlings(session, [r.id for r in rows])
    return [{"id": r.id, "client_uuid": r.client_uuid, "kind": r.kind, "note": r.note,
             "at": as_utc(r.at).isoformat(),  # SQLite gives the stored UTC back naive: a browser read it as local
             "outcome": r.outcome, "outcome_name": OUTCOME_NAMES[r.outcome], "township_code": r.township_code,
             "village_code": r.village_code, "grid_code": r.grid_code, "lat": r.lat, "lon": r.lon,
             "case_id": r.case_id, "case_code": r.code, "by": r.display_name or r.username,
             "photos": photos.get(r.id, []), **handling(r.handled_at, r.handled_by, r.handled_note),
             "handlings": handlings.get(r.id, []),
             "may_handle": may_handle(user.role, r.outcome, r.handled_at is not None),
             "may_reopen": may_reopen(user.role, r.outcome, r.handled_at is not None)} for r in rows]
