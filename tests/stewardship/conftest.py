"""A county with farmland stewardship data on top of the HTTP test site (both databases): cultivated and other
parcels, contracted plots and a farmland grid (imported from a GBK shapefile), in the site's first village."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from shapely import box

from api.db.models import House
from api.db.repository import read_frame
from api.ingest.layers import import_layer
from tests.conftest import Database, from_built
from tests.http.conftest import TO_WEB, Site, build_site, serving_site
from tests.http.conftest import site as site


@dataclass
class Land:
    """The stewardship layers built around the site's first village, in the county CRS (m)."""

    site: Site
    x: float
    y: float
    cultivated: shapely.Polygon
    orchard: shapely.Polygon
    grid_codes: list[str]

    def lonlat(self, px: float, py: float) -> tuple[float, float]:
        lon, lat = TO_WEB.transform(px, py)
        return float(lon), float(lat)


def _build_land(db: Database, folder: Path) -> tuple[str, tuple[float, float], float, float, list[str]]:
    """The HTTP test site (`build_site`), then cultivated and other parcels, a contracted plot and a farmland
    grid around its first village's farmland square."""
    village_code, centre = build_site(db, folder)
    with db.factory() as s:
        a1 = read_frame(s, House, where=[House.source_key == "A1"]).geometry.iloc[0]
    x, y = a1.bounds[0] - 10, a1.bounds[1] - 10  # the site's farmland square starts here
    cultivated, orchard = _cultivated(x, y), _orchard(x, y)
    gpd.GeoDataFrame({"BSM": ["D1", "D2"], "DLBM": ["0103", "0201"], "DLMC": ["旱地", "果园"],
                      "ZLDWDM": [village_code + "0000000"] * 2},
                     geometry=[cultivated, orchard], crs=4546).to_file(folder / "dltb.gpkg")
    import_layer(db.factory, "dltb", folder / "dltb.gpkg")
    gpd.GeoDataFrame({"plot_id": ["P1"], "contractor_id": ["HH-0007"]},
                     geometry=[cultivated], crs=4546).to_file(folder / "plots.gpkg")  # contracted: the 旱地 parcel
    import_layer(db.factory, "plots", folder / "plots.gpkg")
    # The grid, as a county keeps it: a Shapefile whose .dbf is GBK, Chinese names, no .cpg.
    codes = [village_code + "001", village_code + "002"]
    grid = gpd.GeoDataFrame({"WGBM": codes, "WGMC": ["石门一村第一网格", "石门一村第二网格"],
                             "CJDM": [village_code] * 2},
                            geometry=[box(x - 100, y - 100, x + 250, y + 500), box(x + 250, y - 100, x + 600, y + 500)],
                            crs=4546)
    grid.to_file(folder / "grids.shp", encoding="gbk")
    (folder / "grids.cpg").unlink(missing_ok=True)
    import_layer(db.factory, "grids", folder / "grids.shp")
    return village_code, centre, x, y, codes


def _cultivated(x: float, y: float) -> shapely.Polygon:
    return box(x + 300, y, x + 500, y + 200)      # 旱地 0103, 4 ha


def _orchard(x: float, y: float) -> shapely.Polygon:
    return box(x + 300, y + 250, x + 500, y + 450)   # 果园 0201: not cultivated land


@pytest.fixture
def land(db: Database, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Land]:
    """The site with its stewardship layers (`_build_land`, built once per session, copied per test)."""
    village_code, centre, x, y, codes = from_built(request, db, "land", _build_land)
    with serving_site(db, tmp_path, village_code, centre) as site:
        yield Land(site, x, y, _cultivated(x, y), _orchard(x, y), codes)
