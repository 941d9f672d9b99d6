"""Patrols (巡田) and what they find: a patroller's GPS track, sent when the phone has a network (the same
patrol again is the same record), the grid cells it covered, and findings on the way — a new building becomes a
case when a footprint shows it (else it waits for one), abandoned land becomes an abandoned-land record, the
rest is noted for the township. Positions arrive on WGS 84 and are stored in the county CRS (metres)."""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from api.accounts.roles import township_of
from api.cases.audit import FINDING_CHAIN, append_events
from api.cases.workflow import INCREMENT_PERIODS
from api.clock import as_utc, utcnow
from api.db.engine import srid_of
from api.db.models import Case, EpochFootprint, Finding, Grid, House, Patrol, PatrolGrid, User
from api.db.repository import bbox_clause, read_frame, to_db_lines
from api.errors import Conflict, InvalidQuery, Message
from api.evidence.upload import canonical_uuid
from api.ingest.imagery import open_cases
from api.ingest.layers import village_codes
from api.stewardship.abandoned import record_abandoned
from api.stewardship.grids import grid_codes
from api.stewardship.workflow import (
    FINDING_KINDS,
    FOOTPRINT_FOUND,
    GROWTH_AT_STOCK,
    OUTCOME_NAMES,
)
from gis.codes import COUNTY_TZ, WEB_CRS
from gis.compare import CompareRules, matches
from gis.coverage import CoverageRules, covered
from gis.crs import transformer
from gis.rules import RuleSet

#: How near a new building's reported position must be to a footprint to be taken as that footprint (m).
FOOTPRINT_REACH_M = 15.0
MAX_POINTS = 20_000


def patrolled_grid_ids(session: Session, start: dt.datetime, end: dt.datetime) -> set[int]:
    """The grid cells covered by a patrol started in [start, end) (UTC bounds of a county month)."""
    return set(session.execute(select(PatrolGrid.grid_id).join(Patrol, Patrol.id == PatrolGrid.patrol_id)
                               .where(Patrol.started_at >= start, Patrol.started_at < end)).scalars())


def _to_county(srid: int, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = transformer(WEB_CRS, f"EPSG:{srid}").transform(lon, lat)
    return np.asarray(x), np.asarray(y)


def record_patrol(factory: sessionmaker[Session], user: User, client_uuid: str, started_at: dt.datetime,
                  ended_at: dt.datetime, points: list[list[float]], rules: CoverageRules,
                  now: dt.datetime | None = None) -> Patrol:
    """Store a patrol and the grid cells its track covered (≥ `min_inside_m` of track inside the cell)."""
    client_uuid = canonical_uuid(client_uuid)
    now = now or utcnow()
    fixes = np.asarray([p[:2] for p in points], dtype=float) if points else np.empty((0, 2))
    if len(fixes) < 2 or len(fixes) > MAX_POINTS:
        raise InvalidQuery(Message(f"巡田轨迹须有 2 至 {MAX_POINTS} 个定位点",
                                   f"a track needs 2 to {MAX_POINTS} fixes"))
    if not np.isfinite(fixes).all() or (np.abs(fixes[:, 0]) > 180).any() or (np.abs(fixes[:, 1]) > 90).any():
        raise InvalidQuery(Message("定位点须为 [经度, 纬度]（WGS 84）", "fixes are [lon, lat] on WGS 84"))
    if as_utc(ended_at) < as_utc(started_at):
        raise InvalidQuery(Message("巡田结束时间早于开始时间", "a patrol ends before it starts"))
    with factory() as session:
        existing = session.execute(select(Patrol).where(Patrol.client_uuid == client_uuid)).scalar_one_or_none()
        if existing is not None:
            return _same_patrol(existing, user, points)
    try:
        with factory.begin() as session:
            srid = srid_of(session)
            x, y = _to_county(srid, fixes[:, 0], fixes[:, 1])
            track = shapely.linestrings(np.column_stack([x, y]))
            village = village_codes(session, np.array([shapely.line_interpolate_point(track, 0.5, normalized=True)],
                                                      dtype=object))[0]
            patrol = Patrol(client_uuid=client_uuid, user_id=user.id, started_at=as_utc(started_at),
                            ended_at=as_utc(ended_at), points=json.dumps(points), length_m=float(shapely.length(track)),
                            township_code=township_of(user.role, user.township_code)
                            or (village[:9] + "000" if village else None),
                            uploaded_at=now, geom=to_db_lines(np.array([track], dtype=object), session)[0])
            session.add(patrol)
            session.flush()
            box = tuple(float(v) for v in shapely.bounds(track))
            grids = read_frame(session, Grid, ["code"], where=[bbox_clause(session, Grid, box)])  # type: ignore[arg-type]
            pairs = covered(np.array([track], dtype=object), grids.geometry.to_numpy(), rules)
            for cell, inside in zip(pairs["cell"], pairs["inside_m"], strict=True):
                session.add(PatrolGrid(patrol_id=patrol.id, grid_id=int(grids["id"].iloc[cell]),
                                       inside_m=float(inside)))
            session.flush()
            session.expunge(patrol)
            return patrol
    except IntegrityError:
        with factory() as session:
            first = session.execute(select(Patrol).where(Patrol.client_uuid == client_uuid)).scalar_one()
            return _same_patrol(first, user, points)


def _same_patrol(existing: Patrol, user: User, points: list[list[float]]) -> Patrol:
    if existing.user_id != user.id or json.loads(existing.points) != json.loads(json.dumps(points)):
        raise Conflict(Message("此巡田编号已用于另一次巡田", "this patrol's client_uuid was used for another patrol"))
    return existing


def record_finding(factory: sessionmaker[Session], user: User, client_uuid: str, kind: str, lat: float, lon: float,
                   at: dt.datetime, rules: RuleSet, *, note: str | None = None, patrol_uuid: str | None = None,
                   cause: str = "other", now: dt.datetime | None = None,
                   compare_rules: CompareRules | None = None) -> Finding:
    """Store a finding and what it becomes (see the module docstring); the same UUID again returns it.
    `compare_rules`: when an imagery footprint is a stored house (the comparison's `match_share`)."""
    client_uuid = canonical_uuid(client_uuid)
    now = now or utcnow()
    if kind not in FINDING_KINDS:
        raise InvalidQuery(Message(f"发现类型须为：{'、'.join(f'{n} {c}' for c, n in FINDING_KINDS.items())}",
                                   f"kind must be one of {', '.join(FINDING_KINDS)}"))
    with factory() as session:
        existing = session.execute(select(Finding).where(Finding.client_uuid == client_uuid)).scalar_one_or_none()
    if existing is not None:
        return _same_finding(existing, user, kind)
    try:
        with factory.begin() as session:
            srid = srid_of(session)
            x, y = _to_county(srid, np.array([lon]), np.array([lat]))
            point = shapely.points(x[0], y[0])
            village = village_codes(session, np.array([point], dtype=object))[0]
            township = village[:9] + "000" if village else None
            bound = township_of(user.role, user.township_code)
            if bound is not None and township != bound:
                raise InvalidQuery(Message("该位置不在您的乡镇内", "this position is outside your township"))
            patrol_id = None
            if patrol_uuid:
                patrol_key = canonical_uuid(patrol_uuid, "patrol_uuid")
                patrol_id = session.execute(select(Patrol.id).where(Patrol.client_uuid == patrol_key,
                                                                    Patrol.user_id == user.id)).scalar_one_or_none()
            finding = Finding(client_uuid=client_uuid, patrol_id=patrol_id, user_id=user.id, kind=kind, note=note,
                              at=as_utc(at), lat=lat, lon=lon, township_code=township, village_code=village,
                              grid_code=grid_codes(session, np.array([point], dtype=object))[0], outcome="noted",
                              uploaded_at=now)
            session.add(finding)
            session.flush()
            if kind == "abandoned":
                _abandoned(session, finding, point, user, cause, now)
            elif kind == "new_construction":
                _new_construction(session, finding, point, rules, compare_rules or CompareRules(), user.username,
                                  now)
            session.flush()
            session.expunge(finding)
            return finding
    except IntegrityError:  # the same UUID committed concurrently: that one, if it is the same finding
        with factory() as session:
            first = session.execute(select(Finding).where(Finding.client_uuid == client_uuid)).scalar_one()
        return _same_finding(first, user, kind)


def _same_finding(existing: Finding, user: User, kind: str) -> Finding:
    if existing.user_id != user.id or existing.kind != kind:
        raise Conflict(Message("此发现编号已用于另一条发现", "this finding's client_uuid was used for another"))
    return existing


def _abandoned(session: Session, finding: Finding, point: shapely.Geometry, user: User, cause: str,
               now: dt.datetime) -> None:
    try:
        record = record_abandoned(session, user.username, point, cause=cause,
                                  seen_on=finding.at.astimezone(COUNTY_TZ).date(),  # the county's day
                                  origin="patrol", note=finding.note, now=now)
    except InvalidQuery:
        finding.outcome = "not_on_cultivated"
        return
    finding.outcome, finding.abandoned_id = "abandoned_record", record.id


def _new_construction(session: Session, finding: Finding, point: shapely.Geometry, rules: RuleSet,
                      compare_rules: CompareRules, actor: str, now: dt.datetime) -> None:
    """The building the patroller points at: the footprint nearest the position, within reach — a stored house
    or, nearer, a footprint of the latest imagery that is no stored house (a building the survey does not have:
    typically the new one; a footprint is a stored house when they overlap as an imagery comparison matches them,
    `match_share`). The building's case, if it has one (`_case_of_building`), hears of the finding (an event in
    its history, closed or not: a closed case's house being built on again is news, and such a finding is listed to
    the township and the chiefs to check, outcome `closed_case`; before, it was an event on a closed case nobody
    looks at). So is new construction at an open case that counts none after the cutoff (`stock_case`): a wing
    going up by an old house, which the case would otherwise keep with it; its case is not passed while the
    finding is unhandled. A building without a case is measured with the engine, a case when it violates. Without
    a footprint the finding waits (`follow_waiting_findings` looks again when a survey or a pass brings one): no
    case is opened on a guessed outline. The period is left for the inspector to establish on site."""
    window: Any = tuple(float(v) for v in shapely.bounds(shapely.buffer(point, FOOTPRINT_REACH_M)))
    houses = read_frame(session, House, where=[bbox_clause(session, House, window)])
    house_geoms = houses.geometry.to_numpy()
    house_distance = shapely.distance(house_geoms, point)
    prints = read_frame(session, EpochFootprint, ["epoch_id"], where=[bbox_clause(session, EpochFootprint, window)])
    prints = prints[prints["epoch_id"] == prints["epoch_id"].max()] if len(prints) else prints
    print_geoms = prints.geometry.to_numpy()
    surveyed, _ = matches(print_geoms, house_geoms, compare_rules.match_share)
    unsurveyed = np.setdiff1d(np.arange(len(print_geoms)), surveyed)
    print_distance = shapely.distance(print_geoms[unsurveyed], point)
    nearest_house = float(house_distance.min()) if len(houses) else np.inf
    nearest_print = float(print_distance.min()) if len(unsurveyed) else np.inf
    if min(nearest_house, nearest_print) > FOOTPRINT_REACH_M:
        finding.outcome = "awaiting_footprint"
        return
    house_id = None
    if nearest_print < nearest_house:
        footprint = print_geoms[unsurveyed[int(np.argmin(print_distance))]]
    else:
        house = houses.iloc[int(np.argmin(house_distance))]
        footprint, house_id = house.geometry, int(house["id"])
    case = _case_of_building(session, footprint, house_id, compare_rules.match_share)
    if case is not None:  # a closed case's house built on again, or a stock house growing: listed to check
        finding.outcome = ("closed_case" if case.status == "closed" else
                           "existing_case" if case.period in INCREMENT_PERIODS else GROWTH_AT_STOCK)
        finding.case_id = int(case.id)
        note = f"巡田发现新增建房 (new construction found on patrol)：{finding.note or ''}"
        append_events(session, [{"case_id": finding.case_id, "actor": actor, "action": "patrol_finding",
                                 "before": {}, "after": {"finding": finding.client_uuid}, "note": note}], at=now)
        return
    events: list[dict[str, Any]] = []
    opened = open_cases(session, rules, pd.DataFrame({"township": [finding.township_code],
                                                      "suffix": [f"P{finding.id:06d}"], "parent_house": [None]}),
                        np.array([footprint], dtype=object), None, now, events,
                        f"巡田发现新增建房 (new construction found on patrol by {_patroller(session, finding)})",
                        origin="patrol",
                        batch=f"patrol {finding.at:%Y-%m-%d}", detail={"finding": finding.client_uuid},
                        actor=actor)
    append_events(session, events, at=now)
    if opened:
        finding.outcome, finding.case_id = "case_opened", next(iter(opened.values()))
    else:
        finding.outcome = "not_violating"


def _patroller(session: Session, finding: Finding) -> str:
    """Who found it (a case a survey or a pass opens for a waiting finding is still the patroller's finding)."""
    user = session.get(User, finding.user_id)
    return user.username if user is not None else str(finding.user_id)


def _case_of_building(session: Session, footprint: shapely.Geometry, house_id: int | None, share: float) -> Any:
    """The case of the building `footprint` outlines (id, status, period), or None: the stored house's own case,
    and any case whose outline is the building (they overlap by `share` of the smaller, as an imagery comparison
    matches footprints) — one a patrol, a satellite lead or an imagery pass opened before the survey had the
    building. Before, only the house's own case counted: the same new building reported twice opened two cases.
    An open case before a closed one (a house rebuilt after its case closed has a new case, where the news is
    worked); of open ones the house's own (a stock house's case hears of new construction there, for the county to
    check, though a wing's case lies on the same outline); then the newest."""
    window: Any = tuple(float(v) for v in shapely.bounds(footprint))
    cases = read_frame(session, Case, ["status", "period", "house_id"], where=[bbox_clause(session, Case, window)])
    _, at = matches(np.array([footprint], dtype=object), cases.geometry.to_numpy(), share)
    mine = cases.index[cases["house_id"] == house_id] if house_id is not None else cases.index[:0]
    found = cases.loc[cases.index[at].union(mine)]
    if found.empty:
        return None
    best = found.assign(open=found["status"] != "closed", own=found.index.isin(mine)).sort_values(
        ["open", "own", "id"]).iloc[-1]
    return SimpleNamespace(id=int(best["id"]), status=str(best["status"]), period=str(best["period"]))


def follow_waiting_findings(factory: sessionmaker[Session], rules: RuleSet, compare_rules: CompareRules, actor: str,
                            now: dt.datetime | None = None) -> int:
    """Look again at every new-construction finding still waiting for a footprint (`awaiting_footprint`, not yet
    handled), now that a survey (`redline scan`) or an imagery pass (`redline compare`) may have brought one, and
    resolve it as `record_finding` would: the building's case hears of it, or a case opens, or it is off farmland.
    Before, it waited until a township officer remembered it. Each finding that moves says so in its own chain (the
    finding audit chain), by `actor`; returns how many moved. Its own transaction, after the scan's or the
    comparison's: a run cut between the two is followed by the next. Waiting findings are few (a patrol's
    handful): one look each, against the stored layers around it."""
    now = now or utcnow()
    with factory.begin() as session:
        waiting = session.execute(select(Finding).where(
            Finding.kind == "new_construction", Finding.outcome == "awaiting_footprint",
            Finding.handled_at.is_(None)).order_by(Finding.id).with_for_update()).scalars().all()
        if not waiting:
            return 0
        x, y = _to_county(srid_of(session), np.array([f.lon for f in waiting]), np.array([f.lat for f in waiting]))
        moved = []
        for finding, point in zip(waiting, shapely.points(x, y), strict=True):
            _new_construction(session, finding, point, rules, compare_rules, actor, now)
            if finding.outcome != "awaiting_footprint":
                moved.append({"finding_id": finding.id, "actor": actor, "action": FOOTPRINT_FOUND,
                              "before": {"outcome": "awaiting_footprint"},
                              "after": {"outcome": finding.outcome, "case_id": finding.case_id},
                              "note": f"房屋轮廓已到：{OUTCOME_NAMES[finding.outcome]} (a footprint arrived: "
                                      f"{finding.outcome})"})
        session.flush()
        append_events(session, moved, at=now, chain=FINDING_CHAIN)
        return len(moved)
