"""Reading real deliveries: GBK with and without .cpg, zipped shapefiles, GeoParquet, no CRS."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gis.errors import MissingCRSError, RedlineInputError
from gis.sources import detect_encoding, read_source
from tests.conftest import DEMO, fixture_path

GBK = ("vector", "china_coord_convert", "DERIVED_gbk_cgcs2000")
SHP = "beijing_buildings_cgcs2000_gk117_gbk.shp"


def copy_without(tmp_path: Path, *suffixes: str) -> Path:
    for f in fixture_path(*GBK).iterdir():
        if f.suffix not in suffixes:
            shutil.copy(f, tmp_path / f.name)
    return tmp_path / SHP


def test_gbk_with_cpg():
    frame = read_source(fixture_path(*GBK, SHP))
    assert frame["city"].iloc[0] == "北京市" and frame["layer"].iloc[0] == "建筑物"
    assert list(frame["_row"][:3]) == [1, 2, 3]


def test_gbk_without_cpg_is_detected_not_mojibake(tmp_path: Path):
    shp = copy_without(tmp_path, ".cpg")
    assert detect_encoding(shp) == "gb18030"
    assert set(read_source(shp)["city"]) == {"北京市"}


def test_utf8_shapefile_with_chinese_field_values():
    shp = fixture_path("vector", "china_coord_convert", "multiPolygon", "polygon_wgs.shp")
    assert detect_encoding(shp) == "utf-8"
    assert read_source(shp)["city"].iloc[0] == "北京市"


def test_zipped_shapefile_without_cpg(tmp_path: Path):
    copy_without(tmp_path / "x" if (tmp_path / "x").mkdir() is None else tmp_path, ".cpg")
    archive = shutil.make_archive(str(tmp_path / "delivery"), "zip", tmp_path / "x")
    assert detect_encoding(archive) == "gb18030"
    assert read_source(archive)["city"].iloc[0] == "北京市"


def test_source_without_crs(tmp_path: Path):
    shp = copy_without(tmp_path, ".prj")
    with pytest.raises(MissingCRSError, match="src-crs"):
        read_source(shp)
    assert read_source(shp, src_crs="EPSG:4548").crs.to_epsg() == 4548


def test_geoparquet():
    frame = read_source(DEMO / "farmland.parquet")
    assert frame.crs.to_epsg() == 4546 and len(frame) > 1000


def test_missing_file_names_it(tmp_path: Path):
    with pytest.raises(RedlineInputError, match=r"nothere\.gpkg"):
        read_source(tmp_path / "nothere.gpkg")


def test_not_a_vector_file(tmp_path: Path):
    bogus = tmp_path / "bogus.gpkg"
    bogus.write_text("not a geopackage")
    with pytest.raises(RedlineInputError, match="cannot read"):
        read_source(bogus)
