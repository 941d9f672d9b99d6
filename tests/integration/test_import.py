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

from api import models
from api.importing import import_layer
from api.repository import read_frame
from gis.errors import MissingCRSError, RedlineInputError
from tests.conftest import DEMO, Database, shared_path

GBK_DIR = ("vector", "china_coord_convert", "DERIVED_gbk_cgcs2000")
GBK_SHP = (*GBK_DIR, "beijing_buildings_cgcs2000_gk117_gbk.shp")


def count(db: Database, model: type[models.Base]) -> int:
    with db.factory() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def test_gbk_shapefile_keeps_chinese_text_and_lands_in_the_county_crs(db: Database):
    report = import_layer(db.factory, "houses", shared_path(*GBK_SHP), id_field="gid")
    assert report.inserted == 263 and report.dropped == 0
    with db.factory() as s:
        attrs = [json.loads(a) for a in s.execute(select(models.House.attrs)).scalars()]
        srid = s.execute(select(func.ST_SRID(models.House.geom)).limit(1)).scalar_one()
        stored = read_frame(s, models.House, ["area_m2"])
    assert {a["city"] for a in attrs} == {"北京市"}
    assert {a["layer"] for a in attrs} == {"建筑物"}
    assert srid == 4546
    source = gpd.read_file(shared_path(*GBK_SHP)).to_crs(4546)
    # Same footprints, now in CM 111E: centroids agree to the millimetre after reprojection.
    src_c = shapely.centroid(source.sort_values("gid").geometry.to_numpy())
    db_c = shapely.centroid(stored.sort_values("source_key", key=lambda k: k.astype(int)).geometry.to_numpy())
    assert shapely.distance(src_c, db_c).max() < 0.001


def test_gbk_without_cpg_is_detected(db: Database, tmp_path: Path):
    src = shared_path(*GBK_DIR)
    for f in src.iterdir():
        if f.suffix != ".cpg":
            shutil.copy(f, tmp_path / f.name)
    shp = tmp_path / GBK_SHP[-1]
    import_layer(db.factory, "houses", shp, id_field="gid")
    with db.factory() as s:
        first = json.loads(s.execute(select(models.House.attrs).limit(1)).scalar_one())
    assert first["city"] == "北京市"


def test_zipped_shapefile(db: Database, tmp_path: Path):
    archive = shutil.make_archive(str(tmp_path / "buildings"), "zip", shared_path(*GBK_DIR))
    report = import_layer(db.factory, "houses", archive, id_field="gid")
    assert report.inserted == 263


def test_reimport_is_idempotent(db: Database):
    first = import_layer(db.factory, "houses", shared_path(*GBK_SHP), id_field="gid")
    second = import_layer(db.factory, "houses", shared_path(*GBK_SHP), id_field="gid")
    assert (first.inserted, second.inserted, second.updated) == (263, 0, 263)
    assert count(db, models.House) == 263
    assert count(db, models.ImportRun) == 2


def test_failed_import_stores_nothing(db: Database, tmp_path: Path):
    import_layer(db.factory, "houses", shared_path(*GBK_SHP), id_field="gid")
    bad = gpd.GeoDataFrame({"id": ["X1", "X2", "X3"], "built_on": ["2021-01-01", "2021-02-30", "2020-01-01"]},
                           geometry=[box(500000, 2830000, 500010, 2830010)] * 3, crs=4546)
    path = tmp_path / "bad.gpkg"
    bad.to_file(path)
    with pytest.raises(RedlineInputError, match=r"bad\.gpkg.*row 2.*field built_on"):
        import_layer(db.factory, "houses", path)
    assert count(db, models.House) == 263
    assert count(db, models.ImportRun) == 1


def test_duplicate_ids_are_refused_with_their_row(db: Database, tmp_path: Path):
    frame = gpd.GeoDataFrame({"id": ["A", "B", "A"]}, geometry=[box(0, 0, 1, 1)] * 3, crs=4546)
    path = tmp_path / "dup.geojson"
    frame.to_file(path)
    with pytest.raises(RedlineInputError, match=r"row 3.*field id"):
        import_layer(db.factory, "baseline", path)
    assert count(db, models.BaselineFootprint) == 0


def test_source_without_crs_needs_src_crs(db: Database, tmp_path: Path):
    src = shared_path(*GBK_DIR)
    for f in src.iterdir():
        if f.suffix not in (".prj", ".cpg"):
            shutil.copy(f, tmp_path / f.name)
    shp = tmp_path / GBK_SHP[-1]
    with pytest.raises(MissingCRSError, match="--src-crs"):
        import_layer(db.factory, "houses", shp, id_field="gid")
    report = import_layer(db.factory, "houses", shp, id_field="gid", src_crs="EPSG:4548")
    assert report.inserted == 263


@pytest.mark.parametrize("prj", [
    "cgcs2000_3deg_gk_cm117e_arcgis_gauss_kruger.prj",
    "cgcs2000_3deg_gk_cm117e_arcgis_with_vertcs_yellow_sea_1985.prj",
    "cgcs2000_3deg_gk_cm117e_gdal_wkt1_epsg4548.prj",
    "cgcs2000_3deg_gk_cm117e_transverse_mercator_variant.prj",
])
def test_prj_variants_put_features_in_the_same_place(db: Database, tmp_path: Path, prj: str):
    src = shared_path(*GBK_DIR)
    for f in src.iterdir():
        if f.suffix != ".prj":
            shutil.copy(f, tmp_path / f.name)
    shutil.copy(shared_path("vector", "prj_samples", prj), tmp_path / GBK_SHP[-1].replace(".shp", ".prj"))
    import_layer(db.factory, "houses", tmp_path / GBK_SHP[-1], id_field="gid")
    with db.factory() as s:
        stored = read_frame(s, models.House, [], where=[models.House.source_key == "841757"])
    reference = gpd.read_file(shared_path(*GBK_SHP)).to_crs(4546)
    ref = reference.loc[reference["gid"] == 841757].geometry.iloc[0]
    assert shapely.centroid(stored.geometry.iloc[0]).distance(shapely.centroid(ref)) < 0.001


def test_invalid_and_multipart_geometries_are_repaired_and_reported(db: Database):
    path = shared_path("vector", "osm2pgsql_test_multipolygon", "DERIVED_test_multipolygon_multipolygons.gpkg")
    report = import_layer(db.factory, "farmland", path)  # no id field: keyed by geometry hash
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
    path = shared_path("vector", "pyogrio_fixtures", "curve.gpkg")
    report = import_layer(db.factory, "farmland", path)
    assert report.dropped == 1 and report.inserted == 0
    assert "not a polygon" in report.problems.iloc[0]["reason"]


def test_self_intersecting_osm_building_is_repaired(db: Database):
    path = shared_path("vector", "osm_kirchberg_iller", "DERIVED_kirchberg_iller_landuse_buildings.gpkg")
    report = import_layer(db.factory, "houses", path, layer="buildings", id_field="osm_way_id")
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
    frame = gpd.GeoDataFrame({"id": ["A"], "JZRQ": ["2021-05-01"]}, geometry=[box(0, 0, 10, 10)], crs=4546)
    path = tmp_path / "h.gpkg"
    frame.to_file(path)
    import_layer(db.factory, "houses", path, field_map={"built_on": "JZRQ"})
    with db.factory() as s:
        assert str(s.execute(select(models.House.built_on)).scalar_one()) == "2021-05-01"
