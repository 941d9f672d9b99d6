"""Imports into SpatiaLite and PostGIS: encodings, CRSs, repairs, idempotence, atomic failure."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from shapely import box
from sqlalchemy import func, select

from api.db import models
from api.db.repository import read_frame
from api.ingest.layers import import_layer
from gis.errors import MissingCRSError, RedlineInputError
from tests.conftest import DEMO, Database, fixture_path

GBK_DIR = ("vector", "china_coord_convert", "DERIVED_gbk_cgcs2000")
GBK_SHP = (*GBK_DIR, "beijing_buildings_cgcs2000_gk117_gbk.shp")


def count(db: Database, model: type[models.Base]) -> int:
    with db.factory() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def test_gbk_shapefile_keeps_chinese_text_and_lands_in_the_county_crs(db: Database):
    report = import_layer(db.factory, "houses", fixture_path(*GBK_SHP), id_field="gid", allow_outside=True)
    assert report.inserted == 263 and report.dropped == 0
    with db.factory() as s:
        attrs = [json.loads(a) for a in s.execute(select(models.House.attrs)).scalars()]
        srid = s.execute(select(func.ST_SRID(models.House.geom)).limit(1)).scalar_one()
        stored = read_frame(s, models.House, ["area_m2"])
    assert {a["city"] for a in attrs} == {"北京市"}
    assert {a["layer"] for a in attrs} == {"建筑物"}
    assert srid == 4546
    source = gpd.read_file(fixture_path(*GBK_SHP)).to_crs(4546)
    # Same footprints, now in CM 111E: centroids agree to the millimetre after reprojection.
    src_c = shapely.centroid(source.sort_values("gid").geometry.to_numpy())
    db_c = shapely.centroid(stored.sort_values("source_key", key=lambda k: k.astype(int)).geometry.to_numpy())
    assert shapely.distance(src_c, db_c).max() < 0.001


def test_gbk_without_cpg_is_detected(db: Database, tmp_path: Path):
    src = fixture_path(*GBK_DIR)
    for f in src.iterdir():
        if f.suffix != ".cpg":
            shutil.copy(f, tmp_path / f.name)
    shp = tmp_path / GBK_SHP[-1]
    import_layer(db.factory, "houses", shp, id_field="gid", allow_outside=True)
    with db.factory() as s:
        first = json.loads(s.execute(select(models.House.attrs).limit(1)).scalar_one())
    assert first["city"] == "北京市"


def test_zipped_shapefile(db: Database, tmp_path: Path):
    archive = shutil.make_archive(str(tmp_path / "buildings"), "zip", fixture_path(*GBK_DIR))
    report = import_layer(db.factory, "houses", archive, id_field="gid", allow_outside=True)
    assert report.inserted == 263


def test_reimport_is_idempotent(db: Database):
    first = import_layer(db.factory, "houses", fixture_path(*GBK_SHP), id_field="gid", allow_outside=True)
    second = import_layer(db.factory, "houses", fixture_path(*GBK_SHP), id_field="gid", allow_outside=True)
    assert (first.inserted, second.inserted, second.updated) == (263, 0, 263)
    assert count(db, models.House) == 263
    assert count(db, models.ImportRun) == 2


def test_failed_import_stores_nothing(db: Database, tmp_path: Path):
    import_layer(db.factory, "houses", fixture_path(*GBK_SHP), id_field="gid", allow_outside=True)
    bad = gpd.GeoDataFrame({"id": ["X1", "X2", "X3"], "built_on": ["2021-01-01", "2021-02-30", "2020-01-01"]},
                           geometry=[box(500000, 2830000, 500010, 2830010)] * 3, crs=4546)
    path = tmp_path / "bad.gpkg"
    bad.to_file(path)
    with pytest.raises(RedlineInputError, match=r"bad\.gpkg.*row 2.*field built_on"):
        import_layer(db.factory, "houses", path)
    assert count(db, models.House) == 263
    assert count(db, models.ImportRun) == 1


def test_duplicate_ids_are_refused_with_their_row(db: Database, tmp_path: Path):
    frame = gpd.GeoDataFrame({"id": ["A", "B", "A"]}, geometry=[box(500000, 2830000, 500001, 2830001)] * 3,
                             crs=4546)
    path = tmp_path / "dup.geojson"
    frame.to_file(path)
    with pytest.raises(RedlineInputError, match=r"row 3.*field id"):
        import_layer(db.factory, "baseline", path)
    assert count(db, models.BaselineFootprint) == 0


def test_source_without_crs_needs_src_crs(db: Database, tmp_path: Path):
    src = fixture_path(*GBK_DIR)
    for f in src.iterdir():
        if f.suffix not in (".prj", ".cpg"):
            shutil.copy(f, tmp_path / f.name)
    shp = tmp_path / GBK_SHP[-1]
    with pytest.raises(MissingCRSError, match="--src-crs"):
        import_layer(db.factory, "houses", shp, id_field="gid", allow_outside=True)
    report = import_layer(db.factory, "houses", shp, id_field="gid", src_crs="EPSG:4548", allow_outside=True)
    assert report.inserted == 263


@pytest.mark.parametrize("prj", [
    "cgcs2000_3deg_gk_cm117e_arcgis_gauss_kruger.prj",
    "cgcs2000_3deg_gk_cm117e_arcgis_with_vertcs_yellow_sea_1985.prj",
    "cgcs2000_3deg_gk_cm117e_gdal_wkt1_epsg4548.prj",
    "cgcs2000_3deg_gk_cm117e_transverse_mercator_variant.prj",
])
def test_prj_variants_put_features_in_the_same_place(db: Database, tmp_path: Path, prj: str):
    src = fixture_path(*GBK_DIR)
    for f in src.iterdir():
        if f.suffix != ".prj":
            shutil.copy(f, tmp_path / f.name)
    shutil.copy(fixture_path("vector", "prj_samples", prj), tmp_path / GBK_SHP[-1].replace(".shp", ".prj"))
    import_layer(db.factory, "houses", tmp_path / GBK_SHP[-1], id_field="gid", allow_outside=True)
    with db.factory() as s:
        stored = read_frame(s, models.House, [], where=[models.House.source_key == "841757"])
    reference = gpd.read_file(fixture_path(*GBK_SHP)).to_crs(4546)
    ref = reference.loc[reference["gid"] == 841757].geometry.iloc[0]
    assert shapely.centroid(stored.geometry.iloc[0]).distance(shapely.centroid(ref)) < 0.001


def test_invalid_and_multipart_geometries_are_repaired_and_reported(db: Database):
    path = fixture_path("vector", "osm2pgsql_test_multipolygon", "DERIVED_test_multipolygon_multipolygons.gpkg")
    report = import_layer(db.factory, "farmland", path, allow_outside=True)  # no id field: keyed by geometry hash
    assert report.rows_read == 47
    assert report.repaired == 1 and report.dropped == 0
    problem = report.problems.iloc[0]
    assert problem["row"] == 19 and problem["field"] == "geometry" and "Self-intersection" in problem["reason"]
    with db.factory() as s:
        invalid = s.execute(select(func.count()).select_from(models.Farmland)
                            .where(func.ST_IsValid(models.Farmland.geom).is_(False))).scalar_one()
        stored = read_frame(s, models.Farmland)
    assert invalid == 0
    parts = shapely.get_parts(stored.geometry.to_numpy())
    assert (shapely.get_num_interior_rings(parts) > 0).sum() >= 20  # holes survive the trip into the database
    assert (shapely.get_num_geometries(stored.geometry.to_numpy()) > 1).sum() >= 9  # so do multi-part ones


def test_lines_in_a_polygon_layer_are_dropped_with_their_row(db: Database):
    path = fixture_path("vector", "pyogrio_fixtures", "curve.gpkg")
    with pytest.raises(RedlineInputError, match=r"1 of 1 rows \(100\.0%\) would be dropped"):
        import_layer(db.factory, "farmland", path, allow_outside=True)
    report = import_layer(db.factory, "farmland", path, allow_outside=True, allow_drops=True)
    assert report.dropped == 1 and report.inserted == 0
    assert "not a polygon" in report.problems.iloc[0]["reason"]


def test_self_intersecting_osm_building_is_repaired(db: Database):
    path = fixture_path("vector", "osm_kirchberg_iller", "DERIVED_kirchberg_iller_landuse_buildings.gpkg")
    report = import_layer(db.factory, "houses", path, layer="buildings", id_field="osm_way_id", allow_outside=True)
    assert report.inserted == 32 and report.repaired == 1


def test_demo_townships_levels_and_house_location(db: Database):
    import_layer(db.factory, "townships", DEMO / "townships.parquet")
    import_layer(db.factory, "houses", DEMO / "houses.parquet")
    with db.factory() as s:
        levels = dict(s.execute(select(models.AdminArea.level, func.count()).group_by(models.AdminArea.level)).all())
        unlocated = s.execute(select(func.count()).select_from(models.House)
                              .where(models.House.village_code.is_(None))).scalar_one()
        sample = s.execute(select(models.House.village_code, models.House.township_code).limit(1)).one()
    assert levels == {"township": 8, "village": 40}
    assert unlocated == 0
    assert sample.township_code == sample.village_code[:9] + "000"


def test_unknown_kind_and_field_override(db: Database, tmp_path: Path):
    with pytest.raises(RedlineInputError, match="unknown kind"):
        import_layer(db.factory, "roads", DEMO / "houses.parquet")
    frame = gpd.GeoDataFrame({"id": ["A"], "JZRQ": ["2021-05-01"]}, geometry=[box(500000, 2830000, 500010, 2830010)],
                             crs=4546)
    path = tmp_path / "h.gpkg"
    frame.to_file(path)
    import_layer(db.factory, "houses", path, field_map={"built_on": "JZRQ"})
    with db.factory() as s:
        assert str(s.execute(select(models.House.built_on)).scalar_one()) == "2021-05-01"


# --- Corrupt and misplaced deliveries are refused whole ---------------------------------------------------

def _copy_gbk(tmp_path: Path, skip: tuple[str, ...] = ()) -> Path:
    folder = tmp_path / "delivery"
    folder.mkdir()
    for f in fixture_path(*GBK_DIR).iterdir():
        if f.suffix not in skip:
            shutil.copy(f, folder / f.name)
    return folder / GBK_SHP[-1]


def test_a_truncated_shapefile_is_refused_and_nothing_stored(db: Database, tmp_path: Path):
    shp = _copy_gbk(tmp_path)
    shp.write_bytes(shp.read_bytes()[:3000])  # 3 000 of 56 904 bytes, as a broken copy leaves it
    with pytest.raises(RedlineInputError, match=r"truncated: 3000 of the 56904 bytes"):
        import_layer(db.factory, "houses", shp, id_field="gid", allow_outside=True)
    assert count(db, models.House) == 0 and count(db, models.ImportRun) == 0
    archive = shutil.make_archive(str(tmp_path / "zipped"), "zip", shp.parent)
    with pytest.raises(RedlineInputError, match=r"truncated"):
        import_layer(db.factory, "houses", archive, id_field="gid", allow_outside=True)
    assert count(db, models.House) == 0


def test_a_truncated_dbf_is_refused(db: Database, tmp_path: Path):
    shp = _copy_gbk(tmp_path)
    dbf = shp.with_suffix(".dbf")
    dbf.write_bytes(dbf.read_bytes()[:20000])
    with pytest.raises(RedlineInputError, match=r"\.dbf is truncated"):
        import_layer(db.factory, "houses", shp, id_field="gid", allow_outside=True)


def test_more_than_one_percent_dropped_is_refused_unless_allowed(db: Database, tmp_path: Path):
    good = [box(500000 + 20 * i, 2830000, 500010 + 20 * i, 2830010) for i in range(97)]
    frame = gpd.GeoDataFrame({"id": [f"H{i}" for i in range(100)]},
                             geometry=[*good, None, shapely.Polygon(),
                                       shapely.LineString([(500000, 2830100), (500010, 2830110)])],
                             crs=4546)
    path = tmp_path / "houses.gpkg"
    frame.to_file(path)
    with pytest.raises(RedlineInputError) as refused:
        import_layer(db.factory, "houses", path)
    message = str(refused.value)
    assert "3 of 100 rows (3.0%) would be dropped" in message and "--allow-drops" in message
    assert "empty or missing geometry (rows 98, 99)" in message and "not a polygon" in message
    assert count(db, models.House) == 0
    report = import_layer(db.factory, "houses", path, allow_drops=True)
    assert report.inserted == 97 and report.dropped == 3


def test_a_prj_naming_the_wrong_zone_is_refused_with_the_likely_crs(db: Database, tmp_path: Path):
    import_layer(db.factory, "townships", DEMO / "townships.parquet")
    houses = gpd.read_parquet(DEMO / "houses.parquet").head(50)
    assert houses.crs.to_epsg() == 4546
    wrong = houses.set_crs(4545, allow_override=True)  # EPSG:4546 coordinates under a CM 108E .prj
    path = tmp_path / "houses.shp"
    wrong.to_file(path)
    with pytest.raises(RedlineInputError) as refused:
        import_layer(db.factory, "houses", path)
    message = str(refused.value)
    assert "50 of 50 features lie outside the county's townships" in message
    assert "EPSG:4546" in message and "fix the .prj" in message
    assert count(db, models.House) == 0
    path.with_suffix(".prj").unlink()  # the advice works: the .prj removed, the CRS given
    report = import_layer(db.factory, "houses", path, src_crs="EPSG:4546")
    assert report.inserted == 50
    with db.factory() as s:
        unlocated = s.execute(select(func.count()).select_from(models.House)
                              .where(models.House.township_code.is_(None))).scalar_one()
    assert unlocated == 0


def test_without_townships_the_crs_zone_bounds_the_data(db: Database, tmp_path: Path):
    with pytest.raises(RedlineInputError, match=r"outside the zone of CGCS2000 / 3-degree Gauss-Kruger CM 111E"):
        import_layer(db.factory, "houses", fixture_path(*GBK_SHP), id_field="gid")  # Beijing, CM 117E
    assert count(db, models.House) == 0


def test_projected_metres_under_a_geographic_prj_are_refused(db: Database, tmp_path: Path):
    shp = _copy_gbk(tmp_path, skip=(".prj",))
    shutil.copy(fixture_path("vector", "prj_samples", "cgcs2000_geographic_arcgis.prj"), shp.with_suffix(".prj"))
    with pytest.raises(RedlineInputError, match=r"projected metres; fix the \.prj"):
        import_layer(db.factory, "houses", shp, id_field="gid")


def test_a_garbage_prj_is_not_reported_as_missing(db: Database, tmp_path: Path):
    shp = _copy_gbk(tmp_path, skip=(".prj",))
    shp.with_suffix(".prj").write_text("this is not a coordinate system")
    with pytest.raises(RedlineInputError, match=r"\.prj is not a coordinate system GDAL can read"):
        import_layer(db.factory, "houses", shp, id_field="gid")


def test_a_zip_that_inflates_beyond_the_cap_is_refused_unread(db: Database, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch):
    import zipfile

    import gis.sources

    monkeypatch.setattr(gis.sources, "MAX_INFLATED_BYTES", 16 << 20)
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in fixture_path(*GBK_DIR).iterdir():
            zf.write(f, f.name)
        zf.writestr("padding.dbf", b"\0" * (32 << 20))  # 32 MiB of zeros: 32 KiB zipped
    assert archive.stat().st_size < 200_000
    with pytest.raises(RedlineInputError, match=r"inflates to \d+ MiB, more than the 16 MiB allowed"):
        import_layer(db.factory, "houses", archive, id_field="gid")


def test_an_older_survey_delivered_late_does_not_overwrite_a_newer_outline(db: Database, tmp_path: Path):
    """A township's survey of March arrives after the county's of September. Before, its outlines replaced the
    September ones: a wing the later survey found vanished from the house (and from its case at the next scan),
    only because a file was delivered late. The newer survey's houses stay as they are, each named in the report;
    a house only the older survey has is still stored (it stood when that survey was made)."""
    import datetime as dt

    x, y = 500_000.0, 3_000_000.0
    newer = gpd.GeoDataFrame({"id": ["H1", "H2"], "built_on": ["2021-05-01", "2019-01-01"]},
                             geometry=[box(x, y, x + 20, y + 10), box(x + 100, y, x + 110, y + 10)], crs=4546)
    older = gpd.GeoDataFrame({"id": ["H1", "H3"], "built_on": ["2019-03-01", "2018-01-01"]},
                             geometry=[box(x, y, x + 10, y + 10), box(x + 200, y, x + 210, y + 10)], crs=4546)
    newer.to_file(tmp_path / "september.gpkg")
    older.to_file(tmp_path / "march.gpkg")
    import_layer(db.factory, "houses", tmp_path / "september.gpkg", surveyed_on=dt.date(2026, 9, 1),
                 allow_outside=True)
    report = import_layer(db.factory, "houses", tmp_path / "march.gpkg", surveyed_on=dt.date(2026, 3, 1),
                          allow_outside=True)
    assert (report.inserted, report.updated, report.kept) == (1, 0, 1)
    kept = report.problems[report.problems["action"] == "kept"]
    assert kept["row"].tolist() == [1] and "2026-09-01" in kept["reason"].iloc[0]
    with db.factory() as s:
        stored = {k: (a, b) for k, a, b in s.execute(
            select(models.House.source_key, models.House.area_m2, models.House.built_on))}
    assert stored["H1"] == (pytest.approx(200.0), dt.date(2021, 5, 1))  # September's outline and date
    assert stored["H3"][0] == pytest.approx(100.0)
    # A survey of the same day is no older: a corrected delivery replaces the outline.
    newer.assign(geometry=[box(x, y, x + 25, y + 10), newer.geometry.iloc[1]]).to_file(tmp_path / "fix.gpkg")
    fixed = import_layer(db.factory, "houses", tmp_path / "fix.gpkg", surveyed_on=dt.date(2026, 9, 1),
                         allow_outside=True)
    assert (fixed.updated, fixed.kept) == (2, 0)
    with db.factory() as s:
        assert s.execute(select(models.House.area_m2).where(models.House.source_key == "H1")
                         ).scalar_one() == pytest.approx(250.0)


def test_a_houses_survey_with_a_survey_day_per_house_carries_each(db: Database, tmp_path: Path):
    """A 农房摸排 delivery collected over weeks carries each house's survey day (调查日期, DCRQ). Before, one day stood
    for the whole file (the option, or the import's time): a house surveyed before its demolition in such a file
    reopened the case as a sham. Now each row's own day counts (the option fills the blanks); a day to come is
    refused with its row, and the later-survey rule holds per house."""
    import datetime as dt

    from api.clock import as_utc
    from gis.codes import COUNTY_TZ

    x, y = 500_000.0, 3_000_000.0
    shapes = [box(x + 30 * i, y, x + 30 * i + 10, y + 10) for i in range(3)]
    gpd.GeoDataFrame({"id": ["H1", "H2", "H3"], "DCRQ": ["2026-03-01", None, "2026-09-01"]}, geometry=shapes,
                     crs=4546).to_file(tmp_path / "survey.gpkg")
    report = import_layer(db.factory, "houses", tmp_path / "survey.gpkg", surveyed_on=dt.date(2026, 5, 1),
                          allow_outside=True)
    assert report.inserted == 3

    def days() -> dict[str, dt.date]:
        with db.factory() as s:
            return {k: as_utc(at).astimezone(COUNTY_TZ).date() for k, at in s.execute(
                select(models.House.source_key, models.House.surveyed_at))}

    assert days() == {"H1": dt.date(2026, 3, 1), "H2": dt.date(2026, 5, 1), "H3": dt.date(2026, 9, 1)}
    later = gpd.GeoDataFrame({"id": ["H1", "H3"], "DCRQ": ["2026-06-01", "2026-08-01"]},
                             geometry=[box(x, y, x + 12, y + 10), box(x + 60, y, x + 72, y + 10)], crs=4546)
    later.to_file(tmp_path / "later.gpkg")
    second = import_layer(db.factory, "houses", tmp_path / "later.gpkg", allow_outside=True)
    assert (second.updated, second.kept) == (1, 1)  # H1 newer than March; H3 older than September: kept
    assert days() == {"H1": dt.date(2026, 6, 1), "H2": dt.date(2026, 5, 1), "H3": dt.date(2026, 9, 1)}
    ahead = (dt.datetime.now(COUNTY_TZ).date() + dt.timedelta(days=2)).isoformat()
    gpd.GeoDataFrame({"id": ["H4", "H5"], "DCRQ": ["2026-01-01", ahead]},
                     geometry=[box(x + 200, y, x + 210, y + 10), box(x + 300, y, x + 310, y + 10)], crs=4546
                     ).to_file(tmp_path / "ahead.gpkg")
    with pytest.raises(RedlineInputError, match="in the future") as refused:
        import_layer(db.factory, "houses", tmp_path / "ahead.gpkg", allow_outside=True)
    assert refused.value.row == 2 and refused.value.field == "DCRQ"
    assert count(db, models.House) == 3  # nothing stored
