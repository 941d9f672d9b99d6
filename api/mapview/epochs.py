"""A case's house on every imagery pass: the footprints each epoch shows around it, for the map's before/after
view and the dossier's drawings."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import geopandas as gpd
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.models import Epoch, EpochFootprint
from api.db.repository import bbox_clause, read_frame


@dataclass(frozen=True)
class EpochView:
    """One pass around a house: the footprints in the window (county CRS) and which of them meet the house."""

    imaged_on: dt.date
    footprints: gpd.GeoDataFrame
    #: The footprints that overlap the house's own outline (what "the house on this pass" is).
    at_house: gpd.GeoDataFrame

    @property
    def present(self) -> bool:
        return len(self.at_house) > 0

    @property
    def area_m2(self) -> float:
        """The area of the house on this pass (m², planar in the county CRS)."""
        return float(shapely.area(shapely.union_all(self.at_house.geometry.to_numpy()))) if self.present else 0.0


def epochs_around(session: Session, footprint: shapely.Geometry,
                  window: tuple[float, float, float, float]) -> list[EpochView]:
    """Every stored epoch, oldest first, with its footprints in `window` (county CRS, metres)."""
    epochs = list(session.execute(select(Epoch.id, Epoch.imaged_on).order_by(Epoch.imaged_on)).all())
    if not epochs:
        return []
    layer = read_frame(session, EpochFootprint, ["epoch_id", "source_key", "area_m2"],
                       where=[bbox_clause(session, EpochFootprint, window)])
    meets = shapely.intersects(layer.geometry.to_numpy(), footprint) if len(layer) else []
    layer["at_house"] = meets
    views = []
    for epoch_id, imaged_on in epochs:
        mine = layer[layer["epoch_id"] == epoch_id]
        views.append(EpochView(imaged_on, mine, mine[mine["at_house"].astype(bool)]))
    return views
