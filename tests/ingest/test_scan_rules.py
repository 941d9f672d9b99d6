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


def test_houses_dated_the_cutoff_day_as_a_number_are_zero_tolerance_cases(county: tuple[Database, Path]):
    """A register's JZSJ as the number 20200703 (a DBF number field) or as a timestamp with its offset is the
    cutoff day: imported and scanned, the houses on farmland are cases to demolish, not 1970 (or 2020-07-02)
    stock. A year alone is refused by its row, and nothing of that file is stored."""
    db, tmp_path = county
    village = gpd.read_file(tmp_path / "farm.gpkg").geometry.iloc[0].centroid
    farm = gpd.GeoDataFrame({"BSM": ["F2"]}, geometry=[box(village.x + 1000, village.y, village.x + 1100,
                                                           village.y + 100)], crs=4546)
    farm.to_file(tmp_path / "farm2.gpkg")
    import_layer(db.factory, "farmland", tmp_path / "farm2.gpkg")

    def house(i: int) -> object:
        return box(village.x + 1010 + 20 * i, village.y + 10, village.x + 1020 + 20 * i, village.y + 20)

    gpd.GeoDataFrame({"id": ["n1", "n2"], "JZSJ": [20200703, 20200702]}, geometry=[house(0), house(1)], crs=4546
                     ).to_file(tmp_path / "numbers.shp")
    gpd.GeoDataFrame({"id": ["t1"], "JZSJ": ["2020-07-02T16:00:00Z"]}, geometry=[house(2)], crs=4546
                     ).to_file(tmp_path / "stamps.gpkg")
    gpd.GeoDataFrame({"id": ["y1", "y2"], "JZSJ": ["2019-01-01", "2020"]}, geometry=[house(3), house(4)], crs=4546
                     ).to_file(tmp_path / "years.gpkg")
    import_layer(db.factory, "houses", tmp_path / "numbers.shp")
    import_layer(db.factory, "houses", tmp_path / "stamps.gpkg")
    with pytest.raises(RedlineInputError, match=r"row 2, field JZSJ: not a date: '2020' \(a year or a month"):
        import_layer(db.factory, "houses", tmp_path / "years.gpkg")
    scan(db.factory, RuleSet())
    with db.factory() as s:
        built = dict(s.execute(select(models.House.source_key, models.House.built_on)).all())
        cases = dict(s.execute(select(models.House.source_key, models.Case.disposition)
                               .join(models.House, models.House.id == models.Case.house_id)).all())
    assert {k: str(built[k]) for k in ("n1", "n2", "t1")} == {"n1": "2020-07-03", "n2": "2020-07-02",
                                                              "t1": "2020-07-03"}
    assert "y1" not in built and "y2" not in built
    assert cases["n1"] == cases["t1"] == "demolish" and cases["n2"] == "classify"
