"""`redline import leads PATH`: satellite change polygons (卫片图斑) become cases, one per lead code.

A lead alone is not grounds for a penalty: every lead becomes a case that needs an on-site check, with
the engine's measures (farmland and cultivated area, period from the baseline imagery where stored) to
help the inspector. Re-importing the same leads adds nothing (the lead code is the key).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.cases.audit import LEADS_ACTOR, append_events
from api.cases.measures import remaining_at_start
from api.db import models
from api.db.engine import srid_of
from api.db.repository import in_chunks, records, table_of, to_db_geometry
from api.ingest.layers import check_drops, project_and_place, village_codes
from api.ingest.scan import CASE_MEASURES, HISTORY_FIELDS, stored_inputs
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


def import_leads(factory: sessionmaker[Session], path: str | Path, rules: RuleSet, *,
                 layer: str | None = None, src_crs: str | None = None,
                 now: dt.datetime | None = None, allow_drops: bool = False) -> LeadReport:
    """Create one case per new lead code, measured against the stored farmland, DLTB and baseline."""
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
                 for code in session.execute(select(models.Case.code).where(models.Case.code.in_(chunk))).scalars()}
        fresh = ~res["house_id"].isin(known).to_numpy()
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
    return LeadReport(rows_read=len(frame), created=int(fresh.sum()), existing=int((~fresh).sum()),
                      problems=problems)
