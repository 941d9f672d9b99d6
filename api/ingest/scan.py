"""`redline scan`: the check engine over the database, turning violating houses into cases.

Idempotent: one case per house; re-running updates measures and adds nothing. A house that stops
violating (a new approval, a corrected footprint) is flagged on its case (`still_violating = false`),
never deleted: a case is a record of enforcement.

A scan also catches what the workflow alone cannot see:
- a sham demolition: a case whose demolition was recorded (or that was closed after one), whose house is
  still there and still violating in a survey of the houses imported *after* that record, is reopened
  (status `reopened`, event `reappeared`, back with the township on a new 137 clock);
- a stock house that grew after its case was closed: a new increment case for the new part (status `new`,
  origin `growth`, linked by `parent_case_id`), once per closed case.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from api.cases.audit import SCAN_ACTOR, EventColumns, append_events, json_text, json_texts
from api.cases.measures import remaining_at_start
from api.cases.milestones import demolitions_recorded
from api.cases.reopening import DEMOLITION_RECORDED, reopen, whole_house_demolished
from api.cases.workflow import INCREMENT_PERIODS
from api.clock import as_utc
from api.db import models
from api.db.repository import (
    bbox_clause,
    in_chunks,
    inserting,
    read_attributes,
    read_frame,
    records,
    table_of,
    to_db_geometry,
)
from api.stewardship.grids import locate_cases
from gis.collector import cycle_collector_paused
from gis.compare import CompareRules, matches, one_to_one
from gis.engine import CheckInputs, CheckResult, check
from gis.rules import PERIOD_NAMES, Period, RuleSet

#: What a scan records in the audit trail when it creates or re-measures a case (so that any past month
#: can be rebuilt from the history alone).
HISTORY_FIELDS = ["status", "period", "disposition", "rules", "date_conflict", "retro_approval", "footprint_m2",
                  "farmland_m2", "cultivated_m2", "unapproved_cultivated_m2", "after_cutoff_m2",
                  "farmland_after_cutoff_m2", "unapproved_after_cutoff_m2", "occupied_m2", "remaining_m2",
                  "still_violating"]

CASE_MEASURES = ["footprint_m2", "farmland_m2", "cultivated_m2", "unapproved_cultivated_m2", "after_cutoff_m2",
                 "farmland_after_cutoff_m2", "unapproved_after_cutoff_m2", "period", "disposition", "rules",
                 "date_conflict", "retro_approval"]


@dataclass
class ScanReport:
    """What a scan did."""

    houses: int
    violations: int
    created: int
    #: Cases whose stored row the scan changed (new measures, violating again); unchanged ones are not written.
    updated: int
    #: Cases whose house no longer violates, newly so.
    cleared: int
    result: CheckResult
    reopened: int = 0
    grown: int = 0
    #: Changes of period out of zero tolerance the scan measured and filed for the county (`request_period`).
    period_requests: int = 0


def stored_inputs(session: Session, window: tuple[float, float, float, float] | None = None) -> CheckInputs:
    """Read every layer the engine needs from the database (county CRS, ids as the sources gave them); with
    `window` (county CRS), only the features whose box meets it — what a few footprints there are measured
    against (no household register then), where the whole county's layers (a million houses) took seconds to read
    for one building."""

    def near(model: Any) -> list[Any]:
        return [] if window is None else [bbox_clause(session, model, window)]

    houses = read_frame(session, models.House, ["built_on", "household_key", "use", "township_code",
                                                "village_code"], where=near(models.House))
    houses = houses.rename(columns={"source_key": "house_id", "household_key": "household_id"})
    parcels = read_frame(session, models.LandParcel, ["dlbm"], where=near(models.LandParcel))
    approvals = read_frame(session, models.Approval, ["approved_on", "kind", "approved_area_m2", "household_key"],
                           where=near(models.Approval)).rename(columns={"household_key": "household_id"})
    baseline = read_frame(session, models.BaselineFootprint, ["imaged_on"], where=near(models.BaselineFootprint))
    plots = read_frame(session, models.ContractedPlot, where=near(models.ContractedPlot)).rename(
        columns={"source_key": "plot_id"})
    # The household register (not spatial) serves the houses' 一户多宅 rule; footprints measured in a window carry
    # no household.
    households = read_attributes(session, models.Household, ["source_key", "homesteads_elsewhere"]).rename(
        columns={"source_key": "household_id"}) if window is None else pd.DataFrame()
    return CheckInputs(
        houses=houses,
        farmland=read_frame(session, models.Farmland, where=near(models.Farmland)),
        cultivated=parcels if len(parcels) else None,
        baseline=baseline if len(baseline) else None,
        approvals=approvals if len(approvals) else None,
        households=households if len(households) else None,
        plots=plots if len(plots) else None,
    )


def _case_values(result: CheckResult, houses: pd.DataFrame, session: Session) -> pd.DataFrame:
    """Per violating house, the case columns (house's db id, codes, measures, geometry)."""
    res = result.houses.merge(houses[["house_id", "id", "township_code", "village_code"]], on="house_id")
    res = res[res["violation"].to_numpy(dtype=bool)]
    values = pd.DataFrame({
        "house_id": res["id"].astype(int).to_numpy(),
        "code": ("RL-" + res["township_code"].fillna("000000000000").astype(str) + "-" + res["house_id"].astype(str))
        .to_numpy(),
        "township_code": res["township_code"].to_numpy(), "village_code": res["village_code"].to_numpy(),
        **{c: res[c].to_numpy() for c in CASE_MEASURES},
        # The remaining unrectified area (剩余未整改面积) starts as the illegally occupied area (an extension's:
        # its new part first).
        "occupied_m2": res["occupied_m2"].to_numpy(dtype=float),
        "remaining_m2": remaining_at_start(res["period"], res["occupied_m2"], res["unapproved_after_cutoff_m2"]),
    })
    values["date_conflict"] = values["date_conflict"].astype(bool)
    values["retro_approval"] = values["retro_approval"].astype(bool)
    values["geom"] = pd.Series(to_db_geometry(res.geometry.to_numpy(), session), index=values.index, dtype=object)
    return values


def _remeasure(session: Session, fresh: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Which new cases a re-scan changes (any of `cols` differs from what is stored), and audit events for the
    changes to their history fields (before → after of what changed).

    Compared column by column over all cases at once; only the changed cases are then turned into events and
    written (a re-scan of a large county mostly changes nothing, and then writes nothing).
    """
    table = table_of(models.Case)
    stored = [row for chunk in in_chunks(fresh["_id"].tolist())
              for row in session.execute(select(table.c.id, *[table.c[c] for c in cols])
                                         .where(table.c.id.in_(chunk))).all()]
    old = pd.DataFrame(stored, columns=["_id", *cols]).set_index("_id").reindex(fresh["_id"].to_numpy())
    differs = {c: _differs(old[c], fresh[c]) for c in cols}
    changed = np.logical_or.reduce([*differs.values(), np.zeros(len(fresh), dtype=bool)])
    fields = [f for f in HISTORY_FIELDS if f in cols]
    rows = np.flatnonzero(np.logical_or.reduce([*(differs[f] for f in fields), np.zeros(len(fresh), dtype=bool)]))
    if not len(rows):
        return changed, []
    before_rows, after_rows = records(old.iloc[rows]), records(fresh.iloc[rows])
    events = []
    for k, i in enumerate(rows):
        moved = [f for f in fields if differs[f][i]]
        events.append({"case_id": after_rows[k]["_id"], "actor": SCAN_ACTOR, "action": "rescan",
                       "before": {f: before_rows[k][f] for f in moved},
                       "after": {f: after_rows[k][f] for f in moved}})
    return changed, events


def _differs(before: pd.Series, after: pd.Series) -> np.ndarray:
    """Per row: does a value change, for the audit trail? Numbers (and flags) to a micro-m², text exactly,
    missing equals missing."""
    b_missing, a_missing = before.isna().to_numpy(), after.isna().to_numpy()
    both = ~b_missing & ~a_missing
    if pd.api.types.is_numeric_dtype(after) or pd.api.types.is_bool_dtype(after):
        b = pd.to_numeric(before, errors="coerce").to_numpy(dtype=float)
        a = pd.to_numeric(after, errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            unequal = ~(np.abs(b - a) < 1e-6)
    else:
        unequal = before.astype(object).to_numpy() != after.astype(object).to_numpy()
    return np.asarray((b_missing != a_missing) | (both & unequal), dtype=bool)


@cycle_collector_paused()
def scan(factory: sessionmaker[Session], rules: RuleSet, *, now: dt.datetime | None = None,
         workers: int | None = None, compare_rules: CompareRules | None = None) -> ScanReport:
    """Check every stored house and create or update one case per violating house, in one transaction.

    Cases still `new` get fresh measures; cases an official has started working on keep theirs (the
    workflow may have established the period on site) and are only marked as scanned. A violating house with no
    case yet that is the building of an open case opened on its outline (a satellite lead's, a patrol's, a pass's;
    `compare_rules.match_share`) becomes that case's house instead of opening a second case for one building
    (`_claim_building_cases`). (`redline scan` then looks again at the patrol findings waiting for a footprint:
    `api.stewardship.patrols.follow_waiting_findings`.)
    """
    now = now or dt.datetime.now(dt.UTC)
    with factory.begin() as session:
        inputs = stored_inputs(session)
        houses = inputs.houses
        assert isinstance(houses, pd.DataFrame)  # the stored houses, a GeoDataFrame (never file bytes)
        result = check(inputs, rules, workers=workers)
        if houses.empty:
            return ScanReport(0, 0, 0, 0, 0, result)
        values = _case_values(result, houses, session)
        table = table_of(models.Case)
        # A house's own case (cases that continue another — a grown house's new part — have no house_id).
        existing = {row.house_id: (row.id, row.status) for row in
                    session.execute(select(table.c.house_id, table.c.id, table.c.status)
                                    .where(table.c.house_id.is_not(None))).all()}
        is_known = values["house_id"].isin(list(existing)).to_numpy()
        unclaimed = houses[houses["id"].isin(values.loc[~is_known, "house_id"])]
        claimed = _claim_building_cases(session, unclaimed, (compare_rules or CompareRules()).match_share, now)
        if claimed:
            existing.update(claimed)
            is_known = values["house_id"].isin(list(existing)).to_numpy()
        new = values[~is_known].assign(status="new", still_violating=True, created_at=now, scanned_at=now,
                                       origin="scan", version=1, field_rules="")
        if len(new):
            with inserting(session, table, new):  # the creations' audit texts while the database takes the rows
                afters = json_texts(new[list(HISTORY_FIELDS)])
            # Every house's case id in one read (IN lists for a third of a million ids cost more to build).
            ids = dict(session.execute(select(table.c.house_id, table.c.id).where(table.c.house_id.is_not(None))).all())
            n = len(new)  # the creations' events, as columns (a dict and a json.dumps each cost seconds here)
            created = EventColumns([ids[house] for house in new["house_id"].tolist()], [SCAN_ACTOR] * n,
                                   ["create"] * n, [json_text({})] * n, afters, [None] * n)
        else:
            created = EventColumns.of([])
        events: list[dict[str, Any]] = []
        # A new case's remaining area follows its measures (nothing is rectified yet, and no report can be filed
        # on a new case): before, a re-scan that made a case an extension left it the whole house's area.
        known = values[is_known].drop(columns=["code", "geom"])
        known["_id"] = known["house_id"].map(lambda h: existing[h][0])
        untouched = known["house_id"].map(lambda h: existing[h][1] == "new").to_numpy(dtype=bool)
        # Only what changed is written (`scanned_at` marks the cases a scan changed): a re-scan of an unchanged
        # county writes nothing at all.
        fresh, period_requests = _hold_zero_tolerance(
            session, _keep_county_periods(session, known[untouched].assign(still_violating=True)), now, events)
        updated = 0
        if len(fresh):
            cols = [c for c in fresh.columns if c not in ("_id", "house_id")]
            changed, remeasured = _remeasure(session, fresh, cols)
            if changed.any():
                # Still `new` when written: a case a user assigned since the scan read the states keeps its
                # measures (the user has started on it), and gets no `rescan` event.
                stmt = update(table).where(table.c.id == bindparam("_id"), table.c.status == "new").values(
                    {c: bindparam(c) for c in [*cols, "scanned_at"]})
                session.connection().execute(stmt, records(fresh[changed].assign(scanned_at=now)))
                taken = _no_longer_new(session, fresh.loc[changed, "_id"].tolist())
                remeasured = [e for e in remeasured if e["case_id"] not in taken]
                changed &= ~fresh["_id"].isin(taken).to_numpy()
            events += remeasured
            updated += int(changed.sum())
        worked = known.loc[~untouched, "_id"].tolist()
        for chunk in in_chunks(worked):  # worked cases keep their measures; one whose house violates again says so
            again = session.execute(select(table.c.id).where(table.c.id.in_(chunk),
                                                             table.c.still_violating.is_(False))).scalars().all()
            if again:
                session.execute(update(table).where(table.c.id.in_(again)).values(still_violating=True, scanned_at=now))
            updated += len(again)
        gone = np.setdiff1d(np.fromiter(existing, dtype=int, count=len(existing)), values["house_id"].to_numpy())
        cleared = 0
        for chunk in in_chunks(gone.tolist()):
            flipped = session.execute(select(table.c.id).where(table.c.house_id.in_(chunk),
                                                               table.c.still_violating.is_(True))).scalars().all()
            events += [{"case_id": cid, "actor": SCAN_ACTOR, "action": "no_longer_violating",
                        "before": {"still_violating": True}, "after": {"still_violating": False}} for cid in flipped]
            if flipped:
                session.execute(update(table).where(table.c.id.in_(flipped))
                                .values(still_violating=False, scanned_at=now))
            cleared += len(flipped)
        reopened = (_reopen_sham_demolitions(session, known, rules, now, events)
                    + _reopen_regrown(session, values, rules, now, events))
        grown = _new_cases_for_growth(session, values, known, rules, now, events)
        append_events(session, created + EventColumns.of(events), at=now)
        if len(new):
            locate_cases(session)  # new cases learn their grid cell (where the county has a grid)
        return ScanReport(houses=len(result.houses), violations=len(values), created=len(new),
                          updated=updated, cleared=cleared, result=result, reopened=reopened, grown=grown,
                          period_requests=period_requests)


#: Cases opened on a whole building's outline before the survey had it — a satellite lead, a patrol's new
#: construction, a new footprint on an imagery pass — that the surveyed house of that building takes as its case
#: (`_claim_building_cases`). Not a grown house's new part (`part_of_house_id`): no building of its own, its case is
#: kept apart.
CLAIMED_ORIGINS = ("lead", "patrol", "imagery")


def outline_case_clauses() -> list[Any]:
    """WHERE clauses for the open cases opened on a building's outline before the survey had it (`CLAIMED_ORIGINS`,
    no house of their own, no grown house's new part): what the building's surveyed house takes as its case, and
    what a later pass showing the building tells rather than opening a second."""
    return [models.Case.house_id.is_(None), models.Case.part_of_house_id.is_(None),
            models.Case.origin.in_(CLAIMED_ORIGINS), models.Case.status != "closed"]


def sighting_joins(case_period: np.ndarray, after_cutoff: np.ndarray | bool) -> np.ndarray:
    """Per open case of `case_period` on a building, whether a new sighting of that building (a later monitoring
    batch's lead, an imagery pass) is that case's rather than a case of its own: at an increment case always; at a
    case of unknown period only where the sighting does not itself place construction after the cutoff
    (`after_cutoff`); never at a stock case — a change seen after the cutoff is construction after it, a wing or
    the house rebuilt, which the stock case would classify and keep with the old house, out of zero tolerance
    unseen. A sighting kept apart gets its own case: a duplicate to close on site, never a wing kept unseen."""
    period = np.asarray(case_period, dtype=object)
    return np.isin(period, list(INCREMENT_PERIODS)) | ((period == Period.UNKNOWN.value)
                                                      & ~np.asarray(after_cutoff, dtype=bool))


def _claim_building_cases(session: Session, houses: pd.DataFrame, share: float, now: dt.datetime
                          ) -> dict[int, tuple[int, str]]:
    """Give each open case without a house, opened on a building's outline (`CLAIMED_ORIGINS`), the violating
    house (of `houses`, as the scan read them, none with a case yet) that is its building (`gis.compare.matches`
    at `share`; the houses are not read again, a county's million): one case for one building, keeping its lead
    code, patrol finding or pass, where before the scan opened a second (for a patrol's or a pass's case; only a
    lead's took its house). The case is then measured as the house's, and held in zero tolerance as any case is
    (`_hold_zero_tolerance`: a survey declaring an older date files a change of period for the county). Returns
    house id → (case id, status), as `scan` keeps them; an audit event (`house_attached`) on each case says which
    house it took."""
    leads = read_frame(session, models.Case, ["status"], where=outline_case_clauses())
    if leads.empty or houses.empty:
        return {}
    claimed = {int(houses["id"].iloc[j]): (int(leads["id"].iloc[i]), str(leads["status"].iloc[i]))
               for i, j in one_to_one(*matches(leads.geometry.to_numpy(), houses.geometry.to_numpy(), share))}
    for house_id, (case_id, _status) in claimed.items():
        session.execute(update(models.Case).where(models.Case.id == case_id).values(house_id=house_id))
    append_events(session, [{"case_id": case_id, "actor": SCAN_ACTOR, "action": "house_attached",
                             "before": {"house_id": None}, "after": {"house_id": house_id},
                             "note": "测绘房屋与本案图斑（卫片或巡田发现）为同一建筑 (the surveyed house is this "
                                     "case's building)"}
                            for house_id, (case_id, _status) in claimed.items()], at=now)
    return claimed


def _no_longer_new(session: Session, case_ids: list[int]) -> set[int]:
    """Of `case_ids` (new when the scan read them), those a user has taken on since (no longer `new`)."""
    table = table_of(models.Case)
    return {int(cid) for chunk in in_chunks(case_ids) for cid in session.execute(
        select(table.c.id).where(table.c.id.in_(chunk), table.c.status != "new")).scalars()}


def _hold_zero_tolerance(session: Session, fresh: pd.DataFrame, now: dt.datetime,
                         events: list[dict[str, Any]]) -> tuple[pd.DataFrame, int]:
    """The cases of `fresh` (new cases, re-measured) the scan may update — not those it would take out of zero
    tolerance — and how many requests it filed for the county.

    A change of period out of the increment path is the county's decision on a request with its reason
    (`request_period` → `decide_period`): a new delivery with an earlier date, or a new baseline, is grounds
    for one, not the decision. Such a case keeps its period, disposition and measures; the new measure waits
    as a request (by `scan`, its reason saying what was measured), once, unless a request is pending already
    (the county decides that one first) or the scan's last request asked the same (the county decided it:
    refused, it is not asked again at every scan). A measure into zero tolerance applies at once.
    """
    outside = ~fresh["period"].isin(INCREMENT_PERIODS).to_numpy()  # measured outside zero tolerance
    if not outside.any():
        return fresh, 0
    table = table_of(models.Case)
    stored = pd.DataFrame([row for chunk in in_chunks(fresh.loc[outside, "_id"].tolist()) for row in session.execute(
        select(table.c.id, table.c.period, table.c.requested_period).where(table.c.id.in_(chunk))).all()],
        columns=["_id", "period", "requested_period"]).set_index("_id").reindex(fresh["_id"].to_numpy())
    leaving = outside & stored["period"].isin(INCREMENT_PERIODS).to_numpy()
    asking = leaving & stored["requested_period"].isna().to_numpy()  # a pending request is decided first
    if asking.any():  # a measure the county has decided (the scan's last request asked it) is not asked again
        asked = _last_scan_requests(session, fresh.loc[asking, "_id"].tolist())
        asking &= (fresh["_id"].map(asked).to_numpy(dtype=object) != fresh["period"].to_numpy(dtype=object))
    for row in records(fresh[asking]):
        was = stored.loc[row["_id"], "period"]
        reason = (f"重新扫描测得时段为「{PERIOD_NAMES[row['period']]}」（原为「{PERIOD_NAMES[was]}」）：房屋或基期影像"
                  f"数据已更新 / a re-scan measured {row['period']} (was {was}): the houses or the baseline changed")
        request = {"period": row["period"], "reason": reason, "evidence": [], "by": SCAN_ACTOR, "at": now.isoformat()}
        session.execute(update(table).where(table.c.id == row["_id"]).values(
            requested_period=row["period"], period_request=json_text(request)))
        events.append({"case_id": row["_id"], "actor": SCAN_ACTOR, "action": "request_period",
                       "before": {"requested_period": stored.loc[row["_id"], "requested_period"]},
                       "after": {"requested_period": row["period"]}, "note": reason})
    held = fresh.loc[leaving, "_id"].tolist()
    for chunk in in_chunks(held):  # held, but violating: one a scan had cleared says so again
        session.execute(update(table).where(table.c.id.in_(chunk), table.c.still_violating.is_(False))
                        .values(still_violating=True, scanned_at=now))
    return fresh[~leaving], int(asking.sum())


def _keep_county_periods(session: Session, fresh: pd.DataFrame) -> pd.DataFrame:
    """The new cases of `fresh` the scan may re-measure: not those whose period the county decided (an approved
    `decide_period`) and the scan measures otherwise. The county decided on evidence the files lack (a dated
    contract against the declared date); the same files measured again are no news, and before, the next scan
    undid the decision at once, silently, at every scan. Such a case keeps its period and measures until the
    county decides again (or the data comes to agree with it)."""
    events = models.CaseEvent
    decided: set[int] = set()
    for case_id, before, after in session.execute(select(events.case_id, events.before, events.after)
                                                  .where(events.action == "decide_period")):
        if json.loads(after or "{}").get("period") != json.loads(before or "{}").get("period"):
            decided.add(int(case_id))
    mine = fresh["_id"].isin(decided).to_numpy()
    if not mine.any():
        return fresh
    table = table_of(models.Case)
    stored = {cid: period for chunk in in_chunks(fresh.loc[mine, "_id"].tolist()) for cid, period in
              session.execute(select(table.c.id, table.c.period).where(table.c.id.in_(chunk))).all()}
    contradicted = mine & (fresh["_id"].map(stored).to_numpy(dtype=object) != fresh["period"].to_numpy(dtype=object))
    return fresh[~contradicted]


def _last_scan_requests(session: Session, case_ids: list[int]) -> dict[int, str]:
    """The period each case's last request by the scan asked for (cases the scan never asked about: absent)."""
    asked: dict[int, str] = {}
    events = models.CaseEvent
    for chunk in in_chunks(case_ids):
        for case_id, after in session.execute(select(events.case_id, events.after).where(
                events.case_id.in_(chunk), events.action == "request_period", events.actor == SCAN_ACTOR)
                .order_by(events.id)):
            asked[int(case_id)] = json.loads(after or "{}").get("requested_period")
    return asked


def _reopen_sham_demolitions(session: Session, known: pd.DataFrame, rules: RuleSet, now: dt.datetime,
                             events: list[dict[str, Any]]) -> int:
    """Reopen the cases whose house a survey newer than their recorded demolition still shows violating.

    The survey is the house's own (`House.surveyed_at`): a later import that does not contain the house — a new
    survey without it, another township's file — says nothing of it, although its row stays. An extension's
    demolition removes only its new part, so its house standing is no contradiction: only a new part (after the
    cutoff, unapproved, at least `min_area`) standing again is — unless its old part was classified `demolish`
    too (`whole_house_demolished`)."""
    if known.empty:
        return 0
    new_part = dict(zip(known["_id"].astype(int), known["unapproved_after_cutoff_m2"].fillna(0.0), strict=True))
    demolished_at = demolitions_recorded(session, list(new_part))
    surveyed_at: dict[int, dt.datetime] = {}
    for chunk in in_chunks(list(demolished_at)):  # the few with a demolition
        surveyed_at.update((int(cid), as_utc(at)) for cid, at, period, decision in session.execute(
            select(models.Case.id, models.House.surveyed_at, models.Case.period, models.Case.decision)
            .join(models.House, models.House.id == models.Case.house_id).where(models.Case.id.in_(chunk)))
            if at is not None and (whole_house_demolished(period, decision) or new_part[cid] >= rules.min_area_m2))
    return _reopen_contradicted(session, surveyed_at, demolished_at, now, events,
                                "the house is still there in a survey made after its demolition was recorded "
                                "(拆除不到位 / 假拆除)")


def _reopen_regrown(session: Session, values: pd.DataFrame, rules: RuleSet, now: dt.datetime,
                    events: list[dict[str, Any]]) -> int:
    """Reopen the growth cases (`…-G1`: a closed stock case's new part; no house of their own) whose new part a
    survey newer than their recorded demolition still shows — never demolished, or built again. Zero tolerance
    does not end with the growth case: its house is the parent case's."""
    grown = values.loc[values["unapproved_after_cutoff_m2"].fillna(0.0).to_numpy() >= rules.min_area_m2, "house_id"]
    if grown.empty:
        return 0
    parent = aliased(models.Case)
    surveyed_at: dict[int, dt.datetime] = {}
    for chunk in in_chunks(grown.astype(int).tolist()):
        surveyed_at.update((int(cid), as_utc(at)) for cid, at in session.execute(
            select(models.Case.id, models.House.surveyed_at)
            .join(parent, parent.id == models.Case.parent_case_id)
            .join(models.House, models.House.id == parent.house_id)
            .where(parent.house_id.in_(chunk), models.Case.house_id.is_(None))) if at is not None)
    return _reopen_contradicted(session, surveyed_at, demolitions_recorded(session, list(surveyed_at)), now,
                                events, "the new part is still there (or built again) in the survey imported after its "
                                "demolition was recorded (拆除不到位 / 假拆除)")


def _reopen_contradicted(session: Session, surveyed_at: dict[int, dt.datetime],
                         demolished_at: dict[int, dt.datetime], now: dt.datetime, events: list[dict[str, Any]],
                         note: str) -> int:
    """Reopen each case of `surveyed_at` (case id → when a survey last showed it violating) whose demolition was
    recorded (`demolished_at`, from `demolitions_recorded`) before that survey and which is in a state that
    records it."""
    candidates = [cid for cid, at in demolished_at.items() if cid in surveyed_at and at < surveyed_at[cid]]
    reopened = 0
    for chunk in in_chunks(candidates):
        for case in session.execute(select(models.Case).where(models.Case.id.in_(chunk),
                                                               models.Case.status.in_(DEMOLITION_RECORDED))).scalars():
            before = reopen(case, now)
            events.append({"case_id": case.id, "actor": SCAN_ACTOR, "action": "reappeared", "before": before,
                           "after": {"status": "reopened", "remaining_m2": case.remaining_m2, "decision": None,
                                     "surveyed": surveyed_at[case.id].isoformat(),
                                     "demolition_recorded": demolished_at[case.id].isoformat()},
                           "note": note})
            reopened += 1
    session.flush()
    return reopened


def _new_cases_for_growth(session: Session, values: pd.DataFrame, known: pd.DataFrame, rules: RuleSet,
                          now: dt.datetime, events: list[dict[str, Any]]) -> int:
    """A closed stock case whose house now has a part after the cutoff (≥ min_area, unapproved): a new
    increment case for it, linked to the old one (zero tolerance does not end with the old case)."""
    if known.empty:
        return 0
    grown = values[values["house_id"].isin(known["house_id"]) &
                   (values["unapproved_after_cutoff_m2"].fillna(0.0) >= rules.min_area_m2)]
    if grown.empty:
        return 0
    table = table_of(models.Case)
    parents = {hid: (cid, code) for hid, cid, code in session.execute(
        select(table.c.house_id, table.c.id, table.c.code).where(
            table.c.house_id.in_(grown["house_id"].astype(int).tolist()), table.c.status == "closed",
            table.c.period == Period.BEFORE_CUTOFF.value))}
    if not parents:
        return 0
    followed = set(session.execute(select(table.c.parent_case_id).where(
        table.c.parent_case_id.in_([cid for cid, _ in parents.values()]))).scalars())
    rows = grown[grown["house_id"].isin(list(parents))].copy()
    rows["parent_case_id"] = rows["house_id"].map(lambda h: parents[h][0])
    rows = rows[~rows["parent_case_id"].isin(followed)]
    if rows.empty:
        return 0
    rows["code"] = rows["house_id"].map(lambda h: parents[h][1] + "-G1")
    rows["house_id"] = None  # the house keeps its one case; this one continues it
    rows["disposition"] = "demolish"
    rows = rows.assign(status="new", still_violating=True, created_at=now, scanned_at=now, origin="growth",
                       version=1, field_rules="")
    session.execute(table.insert(), records(rows))
    created = dict(session.execute(select(table.c.code, table.c.id).where(
        table.c.code.in_(rows["code"].tolist()))).all())
    for r in records(rows):
        events.append({"case_id": created[r["code"]], "actor": SCAN_ACTOR, "action": "create", "before": {},
                       "after": {**{k: r[k] for k in HISTORY_FIELDS}, "parent_case_id": r["parent_case_id"]},
                       "note": "the house of a closed stock case grew after the cutoff: the new part is an increment"})
    return len(rows)
