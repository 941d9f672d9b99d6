"""Permanent farmland per township, recorded after every import and read back "as of" a moment.

The monthly report states each township's farmland area. Computed from the current layer, a re-import
next year would silently rewrite every past report; so each import of farmland or of township boundaries
records the totals it leaves, and a report takes the totals that stood at the end of its month.
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.clock import utcnow
from api.db.areas import TOWNSHIP_LEVEL
from api.db.models import AdminArea, Farmland, FarmlandTotal, ImportRun
from api.db.repository import read_frame, records, table_of

#: Import kinds after which the totals change (the farmland itself, or the boundaries that split it).
AFFECTS_TOTALS = frozenset({"farmland", "townships"})


def townships(session: Session, township: str | None = None) -> gpd.GeoDataFrame:
    """Township polygons with codes and names."""
    where = [AdminArea.level == TOWNSHIP_LEVEL]
    if township:
        where.append(AdminArea.code == township)
    return read_frame(session, AdminArea, ["code", "name"], where=where, order_by="code")


def current_totals(session: Session, towns: gpd.GeoDataFrame) -> pd.Series:
    """Permanent farmland area (planar m²) per area of `towns` (townships, or villages for the chiefs' coverage)
    now, by where each polygon's interior point falls."""
    farmland = read_frame(session, Farmland, ["area_m2"])
    if farmland.empty or towns.empty:
        return pd.Series(0.0, index=towns["code"].to_numpy())
    points = shapely.point_on_surface(farmland.geometry.to_numpy())
    pi, ti = towns.sindex.query(points, predicate="within")
    sums = np.bincount(ti, weights=farmland["area_m2"].to_numpy()[pi], minlength=len(towns))
    return pd.Series(sums, index=towns["code"].to_numpy())


def record_totals(session: Session, import_run_id: int, at: dt.datetime | None = None) -> None:
    """Store the totals as they stand after an import (inside the import's own transaction)."""
    totals = current_totals(session, townships(session))
    if totals.empty:
        return
    session.execute(table_of(FarmlandTotal).insert(), records(pd.DataFrame({
        "import_run_id": import_run_id, "township_code": totals.index, "area_m2": totals.to_numpy(),
        "as_of": at or utcnow()})))


def totals_as_of(session: Session, towns: gpd.GeoDataFrame, as_of: dt.datetime) -> pd.Series:
    """The totals recorded by the last import at or before `as_of`.

    For a moment before any recorded import (the layers were loaded after the month in question) the totals
    of the first farmland import stand in — the earliest farmland the system knows; a database with none
    recorded (older than the table) is measured now.
    """
    t = FarmlandTotal
    run = session.execute(select(t.import_run_id).where(t.as_of <= as_of)
                          .order_by(t.as_of.desc(), t.import_run_id.desc()).limit(1)).scalar()
    if run is None:
        run = session.execute(select(t.import_run_id).join(ImportRun, ImportRun.id == t.import_run_id)
                              .where(ImportRun.kind == "farmland").order_by(t.as_of, t.import_run_id)
                              .limit(1)).scalar()
    if run is None:
        return current_totals(session, towns)
    rows = session.execute(select(t.township_code, t.area_m2).where(t.import_run_id == run)).all()
    recorded = pd.Series({code: area for code, area in rows}, dtype=float)
    return recorded.reindex(towns["code"].to_numpy(), fill_value=0.0)


__all__ = ["AFFECTS_TOTALS", "current_totals", "record_totals", "totals_as_of", "townships"]
