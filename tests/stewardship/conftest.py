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
from tests.http.conftest import TO_WEB, Site
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


@pytest.fixture
def land(site: Site, tmp_path: Path) -> Iterator[Land]:
    with site.db.factory() as s:
        a1 = read_frame(s, House, where=[House.source_key == "A1"]).geometry.iloc[0]
    x, y = a1.bounds[0] - 10, a1.bounds[1] - 10  # the site's farmland square starts here
    cultivated = box(x + 300, y, x + 500, y + 200)      # 旱地 0103, 4 ha
    orchard = box(x + 300, y + 250, x + 500, y + 450)   # 果园 0201: not cultivated land
    gpd.GeoDataFrame({"BSM": ["D1", "D2"], "DLBM": ["0103", "0201"], "DLMC": ["旱地", "果园"],
                      "ZLDWDM": [site.village_code + "0000000"] * 2},
                     geometry=[cultivated, orchard], crs=4546).to_file(tmp_path / "dltb.gpkg")
    import_layer(site.db.factory, "dltb", tmp_path / "dltb.gpkg")
    gpd.GeoDataFrame({"plot_id": ["P1"], "contractor_id": ["HH-0007"]},
                     geometry=[box(x + 300, y, x + 500, y + 200)], crs=4546).to_file(tmp_path / "plots.gpkg")
    import_layer(site.db.factory, "plots", tmp_path / "plots.gpkg")
    # The grid, as a county keeps it: a Shapefile whose .dbf is GBK, Chinese names, no .cpg.
    codes = [site.village_code + "001", site.village_code + "002"]
    grid = gpd.GeoDataFrame({"WGBM": codes, "WGMC": ["石门一村第一网格", "石门一村第二网格"],
                             "CJDM": [site.village_code] * 2},
                            geometry=[box(x - 100, y - 100, x + 250, y + 500), box(x + 250, y - 100, x + 600, y + 500)],
                            crs=4546)
    grid.to_file(tmp_path / "grids.shp", encoding="gbk")
    (tmp_path / "grids.cpg").unlink(missing_ok=True)
    import_layer(site.db.factory, "grids", tmp_path / "grids.shp")
    yield Land(site, x, y, cultivated, orchard, codes)
