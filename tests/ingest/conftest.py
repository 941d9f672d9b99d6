"""The small scanned county of the HTTP tests, for tests of what imports do to its cases; and a smaller one
built on the spot (`farmland_and_houses`)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import shapely

from api.ingest.layers import import_layer
from api.ingest.scan import scan
from gis.rules import RuleSet
from tests.conftest import Database
from tests.http.conftest import site  # noqa: F401  (a fixture)


def farmland_and_houses(db: Database, folder: Path, farmland: shapely.Geometry,
                        houses: dict[str, tuple[shapely.Geometry, str]]) -> None:
    """One farmland polygon and the houses (id → footprint, built_on), EPSG:4546, imported and scanned."""
    gpd.GeoDataFrame({"BSM": ["F1"]}, geometry=[farmland], crs=4546).to_file(folder / "f.gpkg")
    gpd.GeoDataFrame({"id": list(houses), "built_on": [b for _, b in houses.values()]},
                     geometry=[g for g, _ in houses.values()], crs=4546).to_file(folder / "h.gpkg")
    import_layer(db.factory, "farmland", folder / "f.gpkg")
    import_layer(db.factory, "houses", folder / "h.gpkg")
    scan(db.factory, RuleSet())
