"""The rules as the law states them, through `redline import` and `redline scan` on both databases: cases carry
the unapproved part of their cultivated land and the 补办 flag; approval kinds are stored by their codes."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from shapely import box
from sqlalchemy import select

from api.db import models
from api.ingest.layers import import_layer
from api.ingest.scan import scan
from gis.errors import RedlineInputError
from gis.rules import RuleSet
from tests.conftest import DEMO, Database


@pytest.fixture
def county(db: Database, tmp_path: Path) -> tuple[Database, Path]:
    """The demo townships; a 0101 parcel in one village with three houses and their approvals (GBK shapefile
    with Chinese kinds and register field names)."""
    import_layer(db.factory, "townships", DEMO / "townships.parquet")
    villages = gpd.read_parquet(DEMO / "townships.parquet")
    village = villages[villages["XZQDM"].str.len() == 12].iloc[0]
    p = village.geometry.representative_point()

    def sq(x: float, y: float, w: float, h: float) -> object:
        return box(p.x + x, p.y + y, p.x + x + w, p.y + y + h)

    gpd.GeoDataFrame({"BSM": ["T1"], "DLBM": ["0101"]}, geometry=[sq(0, 0, 200, 60)], crs=4546
                     ).to_file(tmp_path / "dltb.gpkg")
    gpd.GeoDataFrame({"BSM": ["F1"]}, geometry=[sq(-500, -500, 10, 10)], crs=4546).to_file(tmp_path / "farm.gpkg")
    gpd.GeoDataFrame({"id": ["half", "over", "buban"], "built_on": ["2019-06-01", "2019-06-01", "2018-05-01"],
                      "household_id": ["HH1", "HH2", "HH3"]},
                     geometry=[sq(10, 10, 10, 10), sq(50, 10, 12, 10), sq(90, 10, 10, 10)], crs=4546
                     ).to_file(tmp_path / "houses.gpkg")
    gpd.GeoDataFrame({"PZWH": ["A1", "A2", "A3"], "PZLX": ["宅基地", "农用地转用", "宅基地批准书"],
                      "PZRQ": ["2019-01-01", "2019-01-01", "2023-03-01"], "HHID": ["HH1", "HH2", "HH3"],
                      "PZMJ": [200.0, 80.0, 200.0]},
                     geometry=[sq(9, 9, 6, 12), sq(49, 9, 14, 14), sq(89, 9, 12, 12)], crs=4546
                     ).to_file(tmp_path / "approvals.shp", encoding="gbk")
    for kind, name in (("dltb", "dltb.gpkg"), ("farmland", "farm.gpkg"), ("houses", "houses.gpkg"),
                       ("approvals", "approvals.shp")):
        import_layer(db.factory, kind, tmp_path / name)
    return db, tmp_path


def test_scan_cases_carry_unapproved_cultivated_area_and_buban(county: tuple[Database, Path]):
    db, _ = county
    with db.factory() as s:
        kinds = sorted(s.execute(select(models.Approval.kind)).scalars())
    assert kinds == ["homestead", "homestead", "land_conversion"]  # stored by code, whatever the register said
    scan(db.factory, RuleSet())
    with db.factory() as s:
        rows = s.execute(select(models.House.source_key, models.Case.cultivated_m2,
                                models.Case.unapproved_cultivated_m2, models.Case.retro_approval,
                                models.Case.rules, models.Case.disposition, models.Case.remaining_m2)
                         .join(models.House, models.House.id == models.Case.house_id)).all()
    cases = {r[0]: r[1:] for r in rows}
    assert set(cases) == {"half", "over", "buban"}
    cultivated, unapproved, retro, rules, disposition, remaining = cases["half"]
    assert (cultivated, unapproved, retro) == (pytest.approx(100.0), pytest.approx(50.0), False)
    assert remaining == pytest.approx(50.0)
    cultivated, unapproved, retro, rules, disposition, remaining = cases["over"]
    assert cultivated == pytest.approx(120.0) and unapproved == pytest.approx(40.0) and rules == "2"
    cultivated, unapproved, retro, rules, disposition, remaining = cases["buban"]
    assert retro is True and rules == "" and disposition == "classify" and unapproved == pytest.approx(100.0)


def test_an_approval_kind_nobody_can_read_is_refused_with_its_row(county: tuple[Database, Path]):
    db, tmp_path = county
    frame = gpd.read_file(tmp_path / "approvals.shp", encoding="gbk")
    frame.loc[1, "PZLX"] = "村委会同意"
    frame["PZWH"] = ["B1", "B2", "B3"]
    frame.to_file(tmp_path / "approvals2.gpkg")
    with pytest.raises(RedlineInputError, match=r"row 2, field PZLX: unknown approval kind '村委会同意'"):
        import_layer(db.factory, "approvals", tmp_path / "approvals2.gpkg")
    with db.factory() as s:
        assert len(s.execute(select(models.Approval.id)).all()) == 3  # nothing of the refused file stored
