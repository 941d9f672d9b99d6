"""`redline import leads PATH`: satellite change polygons (卫片图斑) become cases, one per lead code.

A lead alone is not grounds for a penalty: every lead becomes a case that needs an on-site check, with
the engine's measures (farmland and cultivated area, period from the baseline imagery where stored) to
help the inspector. Re-importing the same leads adds nothing (the lead code is the key).

A lead that is the building of an open case already (they overlap as an imagery comparison matches footprints,
`match_share`) is that case's lead: the case carries the lead code (answered with it) and no second case opens for
one building — before, both were worked and the month's figures counted the building twice. The building of a
house case, or of a lead case (the lead's own outline); and a case that answers a lead already answers a later
batch's lead on the same building too (`case_leads`). A lead on the building of a closed case gets its own case:
it may be the house built again; so does a lead on a stock case's house (a change flagged after the cutoff is
construction after it, which the stock case would keep with the old house).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api.cases.audit import LEADS_ACTOR, append_events
from api.cases.measures import remaining_at_start
from api.cases.workflow import INCREMENT_PERIODS
from api.db import models
from api.db.engine import srid_of
from api.db.repository import bbox_clause, in_chunks, read_frame, records, table_of, to_db_geometry
from api.ingest.layers import check_drops, project_and_place, village_codes
from api.ingest.scan import CASE_MEASURES, HISTORY_FIELDS, sighting_joins, stored_inputs
from gis.compare import CompareRules, matches, one_to_one
from gis.engine import CheckInputs, check
from gis.errors import RedlineInputError
from gis.fields import FIELD_NAMES, find_field
from gis.geometry import clean_polygons
from gis.rules import RuleSet
from gis.sources import read_source

CODE_FIELDS = FIELD_NAMES["leads"]["lead_code"]
BATCH_FIELDS = FIELD_NAMES["leads"]["batch"]


@dataclass
class LeadReport:
    rows_read: int
    created: int
    existing: int
    problems: pd.DataFrame
    #: Leads that are the house of an open case: that case carries the lead code.
    attached: int = 0


def import_leads(factory: sessionmaker[Session], path: str | Path, rules: RuleSet, *,
                 layer: str | None = None, src_crs: str | None = None,
                 now: dt.datetime | None = None, allow_drops: bool = False,
                 compare_rules: CompareRules | None = None) -> LeadReport:
    """Create one case per new lead code, measured against the stored farmland, DLTB and baseline; a lead that is
    the house of an open case is attached to it instead (see the module docstring)."""
    now = now or dt.datetime.now(dt.UTC)
    source = str(path)
    frame = read_source(path, layer=layer, src_crs=src_crs)
    gdf = project_and_place(factory, frame, "leads", srid_of(factory), source)
    gdf, problems = clean_polygons(gdf, source=source)
    check_drops(problems, len(frame), source, allow_drops=allow_drops)
    code_field = find_field(gdf.columns, CODE_FIELDS)
    if code_field is None:
        raise RedlineInputError(f"no lead code field (tried {', '.join(CODE_FIELDS)})", source=source)
    codes = gdf[code_field].astype(str).str.strip()
    dup = codes.duplicated()
    if dup.any():
        row = int(gdf.loc[dup, "_row"].iloc[0])
        raise RedlineInputError(f"lead code {codes[dup].iloc[0]!r} appears twice", source=source, row=row,
                                field=code_field)
    batch_field = find_field(gdf.columns, BATCH_FIELDS)
    with factory.begin() as session:
        stored = stored_inputs(session)
        leads = gpd.GeoDataFrame({"house_id": codes.to_numpy()}, geometry=gdf.geometry.to_numpy(), crs=gdf.crs)
        result = check(CheckInputs(houses=leads, farmland=stored.farmland, cultivated=stored.cultivated,
                                   baseline=stored.baseline, approvals=stored.approvals), rules)
        res = result.houses
        known = {code for chunk in in_chunks(codes.tolist())
                 for column in (models.Case.code, models.Case.lead_code, models.CaseLead.lead_code)
                 for code in session.execute(select(column).where(column.in_(chunk))).scalars()}
        fresh = ~res["house_id"].isin(known).to_numpy()
        batches = (pd.Series(gdf[batch_field].astype(str).to_numpy(), index=codes.to_numpy()) if batch_field
                   else pd.Series(dtype=object))
        attached = _attach_to_open_cases(session, res[fresh], batches,
                                         (compare_rules or CompareRules()).match_share, now)
        fresh &= ~res["house_id"].isin(attached).to_numpy()
        res = res[fresh]
        geoms = res.geometry.to_numpy()
        village = village_codes(session, geoms)
        township = np.array([None if v is None else str(v)[:9] + "000" for v in village], dtype=object)
        values = pd.DataFrame({
            "code": res["house_id"].to_numpy(), "lead_code": res["house_id"].to_numpy(),
            "batch": (gdf.loc[fresh, batch_field].astype(str).to_numpy() if batch_field else None),
            "township_code": township, "village_code": village,
            **{c: res[c].to_numpy() for c in CASE_MEASURES},
            "remaining_m2": remaining_at_start(res["period"], res["occupied_m2"], res["unapproved_after_cutoff_m2"]),
            "occupied_m2": res["occupied_m2"].to_numpy(dtype=float),
            "status": "new", "still_violating": res["violation"].to_numpy(dtype=bool), "origin": "lead",
            "created_at": now, "scanned_at": now, "version": 1, "field_rules": "",
        })
        values["date_conflict"] = values["date_conflict"].astype(bool)
        values["retro_approval"] = values["retro_approval"].astype(bool)
        values["geom"] = pd.Series(to_db_geometry(geoms, session), index=values.index, dtype=object)
        if len(values):
            table = table_of(models.Case)
            rows = records(values)
            session.execute(table.insert(), rows)
            ids = {code: cid for chunk in in_chunks(values["code"].tolist())
                   for code, cid in session.execute(select(table.c.code, table.c.id)
                                                    .where(table.c.code.in_(chunk))).all()}
            append_events(session, [{"case_id": ids[r["code"]], "actor": LEADS_ACTOR, "action": "create", "before": {},
                                     "after": {k: r[k] for k in HISTORY_FIELDS}} for r in rows], at=now)
    return LeadReport(rows_read=len(frame), created=int(fresh.sum()), existing=int((~fresh).sum()) - len(attached),
                      problems=problems, attached=len(attached))


def _attach_to_open_cases(session: Session, leads: gpd.GeoDataFrame, batches: pd.Series, share: float,
                          now: dt.datetime) -> set[str]:
    """Give each lead that is the building of an open case (`share`: `gis.compare.matches`) to that case — as its
    lead code where it answers none yet, else as a further lead (`case_leads`) — with an event saying so; returns
    the codes attached. One lead per case and file: the first (in file order) where several match.

    Only where the lead joins the case (`sighting_joins`: never at a stock case — a monitoring batch's images are
    all taken after the cutoff, so its change is construction after it — nor at a case of unknown period when the
    lead shows construction after the cutoff against the baseline imagery, its `period`). Each other lead gets a
    case of its own, for an inspector to see on site: a duplicate to close there, never a wing kept unseen."""
    if leads.empty:
        return set()
    bounds = tuple(float(v) for v in leads.total_bounds)
    cases = read_frame(session, models.Case, ["code", "lead_code", "period"], where=[
        bbox_clause(session, models.Case, bounds), models.Case.status != "closed"])  # type: ignore[arg-type]
    codes = leads["house_id"].astype(str).to_numpy()
    left, right = matches(leads.geometry.to_numpy(), cases.geometry.to_numpy(), share)
    joins = sighting_joins(cases["period"].to_numpy()[right], leads["period"].isin(INCREMENT_PERIODS).to_numpy()[left])
    taken = {int(cases["id"].iloc[j]): (str(codes[i]), cases["lead_code"].iloc[j])
             for i, j in one_to_one(left[joins], right[joins])}
    events = []
    for case_id, (code, answered) in taken.items():
        if answered is None or answered != answered:  # NULL read back as None or NaN
            session.execute(update(models.Case).where(models.Case.id == case_id).values(lead_code=code))
            events.append({"case_id": case_id, "actor": LEADS_ACTOR, "action": "lead_attached",
                           "before": {"lead_code": None}, "after": {"lead_code": code},
                           "note": f"卫片图斑 {code} 与本案房屋为同一建筑 "
                                   f"(satellite lead {code} is this case's house)"})
            continue
        session.add(models.CaseLead(lead_code=code, case_id=case_id, batch=batches.get(code), attached_at=now))
        events.append({"case_id": case_id, "actor": LEADS_ACTOR, "action": "lead_attached",
                       "before": {}, "after": {"further_lead_code": code},
                       "note": f"卫片图斑 {code} 与本案图斑 {answered} 为同一建筑（后续批次再次发现） "
                               f"(satellite lead {code} flags this case's building again, after {answered})"})
    session.flush()
    append_events(session, events, at=now)
    return {code for code, _ in taken.values()}
