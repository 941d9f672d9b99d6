"""What a new imagery pass does to the cases (`redline compare`): demolitions confirmed, sham demolitions
reopened, growth and new buildings opened as cases — each an event in the audit chain.

Rules (the comparison itself is `gis.compare`):
- a case whose demolition is under way or recorded (demolishing onwards) and whose house is `gone` on the later
  pass — for an extension, or a case without a house of its own, whose part the pass no longer shows — gets
  "demolition confirmed by imagery of DATE" (once per pass), only by a pass imaged after the demolition
  started: an older pass without the house shows it not yet built;
- a case whose demolition was *recorded before the later pass was imaged* and whose house still stands on it is
  reopened (`reappeared`, as a survey does): imagery taken before the record proves nothing, and a case closed
  without a demolition (legal, fined and kept, legalised) is never reopened by imagery. What must stand: an
  extension's new part (its old part stays); for a case without a house of its own (a wing or a new building
  found by imagery, a scan or a patrol), its own footprint (an extension's: its new part) — at least
  `min_area`, counted more than `tolerance_m` inside its outline;
- a house that `grew` gets a case for the new part, measured by the engine against farmland and cultivated
  land, when that part violates; a `new` footprint likewise. Their period follows from the two passes
  (`gis.rules.built_between`): absent on a pass from the cutoff on, present now — an increment;
- running the same comparison again changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.cases.audit import IMAGERY_ACTOR, append_events
from api.cases.deadlines import COUNTY_TZ
from api.cases.measures import remaining_at_start
from api.cases.milestones import demolitions_recorded, demolitions_started
from api.cases.reopening import DEMOLITION_RECORDED, reopen, whole_house_demolished
from api.clock import utcnow
from api.db import models
from api.db.engine import srid_of
from api.db.repository import bbox_clause, in_chunks, read_frame, records, table_of, to_db_geometry
from api.ingest.layers import village_codes
from api.ingest.scan import CASE_MEASURES, HISTORY_FIELDS, outline_case_clauses, sighting_joins, stored_inputs
from api.stewardship.grids import grid_codes
from gis.compare import CompareRules, compare, matches, one_to_one
from gis.engine import CheckInputs, check
from gis.errors import RedlineInputError
from gis.rules import Period, RuleSet, built_between

ACTOR = IMAGERY_ACTOR
#: Up to this many footprints, `open_cases` reads only the stored layers around them (`stored_inputs` with a window):
#: one patrol finding read the county's every house and farmland polygon to measure one building.
NEARBY_FOOTPRINTS = 100
#: States from which a demolition is under way or done: the later pass can confirm it.
DEMOLITION_STARTED = ("demolishing", *DEMOLITION_RECORDED)


@dataclass(frozen=True)
class ImageryReport:
    before: dt.date
    after: dt.date
    changes: dict[str, int]
    new_footprints: int
    confirmed: int
    reopened: int
    grown_cases: int
    new_cases: int
    #: Open cases opened on a building's outline (a lead's, a patrol's) that this pass showed their building new:
    #: that case's news, not a second case (`_held_by_open_cases`; once per pass).
    seen_cases: int = 0


def _epochs(session: Session, before: dt.date | None, after: dt.date | None) -> tuple[models.Epoch, models.Epoch]:
    """The two passes compared: the ones given, else the last two."""
    epochs = list(session.execute(select(models.Epoch).order_by(models.Epoch.imaged_on)).scalars())
    by_date = {e.imaged_on: e for e in epochs}
    for d in (before, after):
        if d is not None and d not in by_date:
            known = ", ".join(str(e.imaged_on) for e in epochs) or "none imported"
            raise RedlineInputError(f"no epoch imaged on {d} (epochs: {known})", field="epoch")
    later = by_date[after] if after else (epochs[-1] if epochs else None)
    if later is None:
        raise RedlineInputError("compare needs two imported epochs (redline import epoch PATH --imaged-on DATE)")
    earlier_candidates = [e for e in epochs if e.imaged_on < later.imaged_on]
    earlier = by_date[before] if before else (earlier_candidates[-1] if earlier_candidates else None)
    if earlier is None or earlier.imaged_on >= later.imaged_on:
        raise RedlineInputError("compare needs an earlier epoch than the later one", field="epoch")
    return earlier, later


def compare_epochs(factory: sessionmaker[Session], rules: RuleSet, compare_rules: CompareRules, *,
                   before: dt.date | None = None, after: dt.date | None = None,
                   now: dt.datetime | None = None) -> ImageryReport:
    """Compare two passes and apply what they show to the cases, in one transaction. (`redline compare` then looks
    again at the patrol findings waiting for a footprint: `api.stewardship.patrols.follow_waiting_findings`.)"""
    now = now or utcnow()
    with factory.begin() as session:
        earlier, later = _epochs(session, before, after)
        houses = read_frame(session, models.House, ["township_code", "village_code"])
        footprints = models.EpochFootprint
        b = read_frame(session, footprints, ["source_key"], where=[footprints.epoch_id == earlier.id])
        a = read_frame(session, footprints, ["source_key"], where=[footprints.epoch_id == later.id])
        result = compare(houses.geometry.to_numpy(), b.geometry.to_numpy(), a.geometry.to_numpy(), compare_rules)
        change = result.houses.assign(house_id=houses["id"].to_numpy(), house_key=houses["source_key"].to_numpy(),
                                      township_code=houses["township_code"].to_numpy())
        events: list[dict[str, Any]] = []
        imagery = {"imagery_before": earlier.imaged_on.isoformat(), "imagery": later.imaged_on.isoformat()}
        house_footprints = dict(zip(houses["id"].astype(int), houses.geometry.to_numpy(), strict=True))
        standing_on = Pass(later.imaged_on, house_footprints, a.geometry.to_numpy())
        confirmed = _confirm(session, change, standing_on, imagery, rules, compare_rules.tolerance_m, events)
        reopened = _reopen(session, change, standing_on, imagery, rules, compare_rules.tolerance_m, now, events)
        built_on = built_between(earlier.imaged_on, later.imaged_on, rules.cutoff)
        grown = change[change["change"] == "grown"]
        grown_cases = _open_cases(session, rules, pd.DataFrame({
            "township": grown["township_code"].to_numpy(),
            "suffix": [f"{k}-E{later.imaged_on:%Y%m%d}" for k in grown["house_key"]],
            "parent_house": grown["house_id"].to_numpy()}), grown["new_part"].to_numpy(), built_on, later, now,
            events, "the house grew between the two passes: the new part")
        fresh = a.iloc[result.new]
        told = len(events)
        held = _held_by_open_cases(session, fresh, built_on, rules, compare_rules.match_share, imagery, events)
        seen_cases = len(events) - told
        fresh = fresh[~held]
        new_cases = _open_cases(session, rules, pd.DataFrame({
            "township": None, "suffix": [f"N{later.imaged_on:%Y%m%d}-{i}" for i in fresh["id"]],
            "parent_house": None}), fresh.geometry.to_numpy(), built_on, later, now, events,
            "a building on this pass that the earlier one did not show")
        append_events(session, events, at=now)
    counts = {str(k): int(v) for k, v in change["change"].value_counts().items()}
    return ImageryReport(earlier.imaged_on, later.imaged_on, counts, len(result.new), confirmed, reopened,
                         grown_cases, new_cases, seen_cases)


def pass_batch(imaged_on: dt.date) -> str:
    """The `batch` of the cases a pass opens: the pass, by the day it was imaged."""
    return f"imagery {imaged_on}"


def _held_by_open_cases(session: Session, fresh: gpd.GeoDataFrame, built_on: dt.date | None, rules: RuleSet,
                        share: float, imagery: dict[str, str], events: list[dict[str, Any]]) -> np.ndarray:
    """Which new footprints of the later pass are the building of an open case opened on a building's outline
    before the survey had it (`outline_case_clauses`: a satellite lead's, a patrol's, an earlier pass's; matched
    as `gis.compare.matches` at `share`): that case hears of the pass (`imagery_seen`, once per pass) and no second
    case opens for one building — where the sighting joins the case as a satellite lead's does (`sighting_joins`;
    the passes place the building after the cutoff when `built_on` is from it on). Else the building gets its own
    case, measured from the passes.
    """
    held = np.zeros(len(fresh), dtype=bool)
    if fresh.empty:
        return held
    bounds = tuple(float(v) for v in fresh.total_bounds)
    cases = read_frame(session, models.Case, ["period", "batch"], where=[
        bbox_clause(session, models.Case, bounds), *outline_case_clauses()])  # type: ignore[arg-type]
    left, right = matches(fresh.geometry.to_numpy(), cases.geometry.to_numpy(), share)
    takes = sighting_joins(cases["period"].to_numpy()[right], built_on is not None and built_on >= rules.cutoff)
    pairs = one_to_one(left[takes], right[takes])
    case_ids = [int(cases["id"].iloc[j]) for _, j in pairs]
    imaged_on = dt.date.fromisoformat(imagery["imagery"])
    # Told once per pass; a case this very pass opened (the comparison run again) is its own news.
    done = _already(session, case_ids, "imagery_seen", imaged_on) | {
        int(cases["id"].iloc[j]) for _, j in pairs if cases["batch"].iloc[j] == pass_batch(imaged_on)}
    for (i, _), case_id in zip(pairs, case_ids, strict=True):
        held[i] = True
        if case_id in done:
            continue
        events.append({"case_id": case_id, "actor": ACTOR, "action": "imagery_seen", "before": {},
                       "after": {**imagery, "footprint": int(fresh["id"].iloc[i])},
                       "note": f"{imagery['imagery']} 影像显示本案建筑（{imagery['imagery_before']} 影像未见）"
                               f" (imagery of {imagery['imagery']} shows this case's building, absent on "
                               f"{imagery['imagery_before']})"})
    return held


def _cases_of(session: Session, house_ids: list[int], states: tuple[str, ...]) -> list[models.Case]:
    out: list[models.Case] = []
    for chunk in in_chunks(house_ids):
        out += session.execute(select(models.Case).where(models.Case.house_id.in_(chunk),
                                                         models.Case.status.in_(states))).scalars().all()
    return out


def _houseless(session: Session, states: tuple[str, ...]) -> list[models.Case]:
    """The cases in `states` without a stored house of their own (a wing or a new building found by imagery, a
    scan or a patrol)."""
    return list(session.execute(select(models.Case).where(models.Case.house_id.is_(None),
                                                          models.Case.status.in_(states))).scalars())


def _already(session: Session, case_ids: list[int], action: str, imaged_on: dt.date) -> set[int]:
    """Cases that already have `action` from this pass (the comparison runs again without effect)."""
    seen: set[int] = set()
    for chunk in in_chunks(case_ids):
        for cid, after in session.execute(select(models.CaseEvent.case_id, models.CaseEvent.after).where(
                models.CaseEvent.case_id.in_(chunk), models.CaseEvent.action == action)):
            if json.loads(after or "{}").get("imagery") == imaged_on.isoformat():
                seen.add(cid)
    return seen


def _confirm(session: Session, change: pd.DataFrame, later: Pass, imagery: dict[str, str], rules: RuleSet,
             tolerance_m: float, events: list[dict[str, Any]]) -> int:
    imaged_on = later.imaged_on
    gone = change.loc[change["change"] == "gone", "house_id"].astype(int).tolist()
    standing = change.loc[change["change"] != "gone", "house_id"].astype(int).tolist()
    cases = _cases_of(session, gone, DEMOLITION_STARTED)
    # What was demolished of an extension (its new part) or of a case without a house of its own (its footprint)
    # can be gone while a house stands: the pass must no longer show that part.
    parts = [c for c in _cases_of(session, standing, DEMOLITION_STARTED) if c.period == Period.EXTENDED_AFTER_CUTOFF]
    parts += _houseless(session, DEMOLITION_STARTED)
    cases += [c for c in parts if not _still_shown(session, c, later, rules, tolerance_m)]
    started = demolitions_started(session, [c.id for c in cases])
    # A pass imaged before the demolition started (or on its day) shows a house not yet built, not demolished.
    cases = [c for c in cases if c.id in started and imaged_on > started[c.id].astimezone(COUNTY_TZ).date()]
    done = _already(session, [c.id for c in cases], "demolition_confirmed", imaged_on)
    fresh = [c for c in cases if c.id not in done]
    for case in fresh:
        events.append({"case_id": case.id, "actor": ACTOR, "action": "demolition_confirmed", "before": {},
                       "after": {**imagery, "status": case.status},
                       "note": f"拆除经 {imaged_on} 影像确认 (demolition confirmed by imagery of {imaged_on})"})
    return len(fresh)


@dataclass(frozen=True)
class Pass:
    """The later imagery pass as `_confirm` and `_reopen` read it: its date, the stored houses (id → footprint,
    county CRS) and the pass's footprints; `shown` remembers `_still_shown`'s answer per case, which both ask
    of a case whose demolition is recorded."""

    imaged_on: dt.date
    houses: dict[int, Any]
    footprints: np.ndarray
    shown: dict[int, bool] = field(default_factory=dict)


def _new_part(session: Session, footprint: Any, rules: RuleSet) -> Any:
    """An extension's new part: its footprint less the baseline footprints that prove stock (imaged at the
    cutoff or undated)."""
    base = read_frame(session, models.BaselineFootprint, ["imaged_on"],
                      where=[bbox_clause(session, models.BaselineFootprint, tuple(shapely.bounds(footprint)))])
    imaged = pd.to_datetime(base["imaged_on"]).dt.date
    stock = base.geometry.to_numpy()[(imaged.isna() | (imaged <= rules.cutoff)).to_numpy()]
    return shapely.difference(footprint, shapely.union_all(stock)) if len(stock) else footprint


def _shown(part: Any, later: Pass, rules: RuleSet, tolerance_m: float) -> bool:
    """Does the pass show `part` standing: at least `min_area` of it covered by the pass's footprints, counting
    only what lies more than `tolerance_m` inside its outline? Two passes digitise the same wall up to that far
    apart, so the house beside a demolished wing, its wall a little further out, covers no wing."""
    core = shapely.buffer(part, -tolerance_m, join_style="mitre") if tolerance_m > 0 else part
    if shapely.is_empty(core):
        return False
    cover = shapely.union_all(later.footprints[shapely.intersects(later.footprints, core)])
    return bool(shapely.area(shapely.intersection(core, cover)) >= rules.min_area_m2)


def _still_shown(session: Session, case: models.Case, later: Pass, rules: RuleSet, tolerance_m: float) -> bool:
    """Does the pass contradict the case's recorded demolition? What was demolished: a case of its own house,
    the house; an extension, only its new part (the old part standing on the pass is no contradiction), unless
    its old part was classified `demolish` too (`whole_house_demolished`); a case
    without a house of its own (a wing or a new building that imagery, a scan or a patrol found), its own
    footprint, or for an extension its new part."""
    if case.id not in later.shown:
        later.shown[case.id] = _demolished_part_stands(session, case, later, rules, tolerance_m)
    return later.shown[case.id]


def _demolished_part_stands(session: Session, case: models.Case, later: Pass, rules: RuleSet,
                            tolerance_m: float) -> bool:
    """`_still_shown`, measured: the demolished part (the house, an extension's new part, a house-less case's
    footprint) on the pass."""
    if case.house_id is not None:
        footprint = later.houses.get(int(case.house_id))
        if footprint is None:
            return False
        if whole_house_demolished(case.period, case.decision):
            return True  # the comparison matched the house on the pass
    else:
        footprint = read_frame(session, models.Case, where=[models.Case.id == case.id]).geometry.iloc[0]
    whole = whole_house_demolished(case.period, case.decision)
    part = footprint if whole else _new_part(session, footprint, rules)
    return _shown(part, later, rules, tolerance_m)


def _reopen(session: Session, change: pd.DataFrame, later: Pass, imagery: dict[str, str], rules: RuleSet,
            tolerance_m: float, now: dt.datetime, events: list[dict[str, Any]]) -> int:
    imaged_on = later.imaged_on
    standing = change.loc[change["change"] != "gone", "house_id"].astype(int).tolist()
    cases = _cases_of(session, standing, DEMOLITION_RECORDED) + _houseless(session, DEMOLITION_RECORDED)
    if not cases:
        return 0
    recorded = demolitions_recorded(session, [c.id for c in cases])
    reopened = 0
    for case in cases:
        at = recorded.get(case.id)
        # Only imagery taken after the demolition was recorded can contradict it (dates in Asia/Shanghai: a
        # pass of the same day as the record proves nothing either way).
        if at is None or imaged_on <= at.astimezone(COUNTY_TZ).date():
            continue
        if not _still_shown(session, case, later, rules, tolerance_m):
            continue
        before = reopen(case, now)
        events.append({"case_id": case.id, "actor": ACTOR, "action": "reappeared", "before": before,
                       "after": {**imagery, "status": "reopened", "remaining_m2": case.remaining_m2, "decision": None,
                                 "demolition_recorded": at.isoformat()},
                       "note": f"{imaged_on} 影像显示房屋仍在，拆除不到位或假拆除 (the house still stands on imagery "
                               f"of {imaged_on}, taken after its demolition was recorded)"})
        reopened += 1
    session.flush()
    return reopened


def _open_cases(session: Session, rules: RuleSet, heads: pd.DataFrame, geoms: np.ndarray, built_on: dt.date | None,
                later: models.Epoch, now: dt.datetime, events: list[dict[str, Any]], why: str) -> int:
    """Measure new parts or new footprints of a pass with the engine and open a case for each that violates."""
    return len(open_cases(session, rules, heads, geoms, built_on, now, events,
                          f"{why} (imagery of {later.imaged_on})", origin="imagery",
                          batch=pass_batch(later.imaged_on), detail={"imagery": later.imaged_on.isoformat()}))


def open_cases(session: Session, rules: RuleSet, heads: pd.DataFrame, geoms: np.ndarray, built_on: dt.date | None,
               now: dt.datetime, events: list[dict[str, Any]], why: str, *, origin: str, batch: str,
               detail: dict[str, Any], actor: str = ACTOR) -> dict[str, int]:
    """Measure footprints (county CRS) with the engine against the stored farmland, cultivated land and
    approvals, and open a case for each that violates — an imagery pass's growth and new buildings, a patrol's
    new construction. `heads`: township (or None: by the village it stands in), code suffix, parent house.
    Returns the new cases' codes and ids; their "create" events are added to `events`."""
    if not len(heads):
        return {}
    table = table_of(models.Case)
    srid = srid_of(session)
    village = village_codes(session, geoms)
    cells = grid_codes(session, geoms)
    # A grown house keeps its own township; a new building is placed by the village it stands in.
    located = [None if v is None else str(v)[:9] + "000" for v in village]
    township = [t if t else loc for t, loc in zip(heads["township"], located, strict=True)]
    codes = [f"RL-{t or '000000000000'}-{s}" for t, s in zip(township, heads["suffix"], strict=True)]
    known = {c for chunk in in_chunks(codes) for c in session.execute(
        select(table.c.code).where(table.c.code.in_(chunk))).scalars()}
    # A handful of footprints (a patrol's building) is measured against the layers around it; a pass's thousands
    # against the county's, read whole.
    minx, miny, maxx, maxy = (float(v) for v in shapely.total_bounds(geoms))
    stored = stored_inputs(session, (minx, miny, maxx, maxy) if len(geoms) <= NEARBY_FOOTPRINTS else None)
    probe = gpd.GeoDataFrame({"house_id": codes, "built_on": [built_on] * len(codes)}, geometry=list(geoms),
                             crs=f"EPSG:{srid}")
    result = check(CheckInputs(houses=probe, farmland=stored.farmland, cultivated=stored.cultivated,
                               approvals=stored.approvals), rules).houses.set_index("house_id")
    parents: dict[int, int] = {}
    house_ids = [int(h) for h in heads["parent_house"].dropna()]
    for chunk in in_chunks(house_ids):
        rows_ = session.execute(select(table.c.house_id, table.c.id).where(table.c.house_id.in_(chunk))).all()
        parents.update({int(h): int(c) for h, c in rows_})
    rows = []
    for code, parent_house, town, vil, cell in zip(codes, heads["parent_house"], township, village, cells,
                                                   strict=True):
        if code in known or code not in result.index or not bool(result.loc[code, "violation"]):
            continue
        r = result.loc[code]
        rows.append({"code": code, "township_code": town, "village_code": vil, "grid_code": cell, "origin": origin,
                     "batch": batch, "lead_code": code.rsplit("-", 1)[-1][:40],
                     **{c: r[c] for c in CASE_MEASURES},
                     "occupied_m2": float(r["occupied_m2"]),
                     "remaining_m2": float(remaining_at_start(r["period"], r["occupied_m2"],
                                                              r["unapproved_after_cutoff_m2"])),
                     "parent_case_id": parents.get(int(parent_house)) if parent_house == parent_house
                     and parent_house is not None else None,
                     "part_of_house_id": int(parent_house) if parent_house == parent_house
                     and parent_house is not None else None,
                     "status": "new", "still_violating": True, "created_at": now, "scanned_at": now, "version": 1,
                     "field_rules": "", "geom": to_db_geometry(np.array([r.geometry]), session)[0]})
    if not rows:
        return {}
    frame = pd.DataFrame(rows)
    frame["date_conflict"] = frame["date_conflict"].astype(bool)
    frame["retro_approval"] = frame["retro_approval"].astype(bool)
    session.execute(table.insert(), records(frame))
    ids = dict(session.execute(select(table.c.code, table.c.id).where(table.c.code.in_(frame["code"].tolist()))).all())
    for r in records(frame):
        events.append({"case_id": ids[r["code"]], "actor": actor, "action": "create", "before": {},
                       "after": {**{k: r[k] for k in HISTORY_FIELDS}, **detail,
                                 "parent_case_id": r["parent_case_id"]},
                       "note": why})
    return {str(c): int(i) for c, i in ids.items()}
