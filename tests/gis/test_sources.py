"""Reading real deliveries: GBK with and without .cpg, zipped shapefiles, GeoParquet, no CRS."""

from __future__ import annotations

import shutil
from importlib import import_module
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


def _with_geo(path: Path, edit) -> Path:
    """Rewrite `path` with its `geo` metadata passed through `edit` (a dict → dict function)."""
    import json

    import pyarrow.parquet as pq

    table = pq.read_table(path)
    geo = edit(json.loads(table.schema.metadata[b"geo"]))
    pq.write_table(table.replace_schema_metadata({**table.schema.metadata, b"geo": json.dumps(geo)}), path)
    return path


def _without_crs(geo: dict) -> dict:
    geo["columns"]["geometry"].pop("crs")
    return geo


def _null_crs(geo: dict) -> dict:
    geo["columns"]["geometry"]["crs"] = None
    return geo


@pytest.mark.parametrize("variant", ["plain", "no crs key", "null crs", "bbox covering", "two geometries",
                                     "geoarrow encoding", "wgs84 ensemble"])
def test_geoparquet_read_once_is_what_geopandas_reads(tmp_path: Path, variant: str):
    """`read_geoparquet`'s frame must be exactly geopandas' own reading of the file, CRS included (absent =
    OGC:CRS84, null = none, per GeoParquet). `read_footprints` (the houses of `redline check`, left as bytes) gives
    `read_source`'s attributes exactly, its CRS (the caller's where the file has none), and the file's WKB row for
    row; a file with a second geometry column or not WKB-encoded is left to `read_source` (None)."""
    import geopandas as gpd
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    import shapely
    from pandas.testing import assert_frame_equal

    from gis.sources import read_footprints, read_geoparquet

    # GeoArrow's Python package (which `redline check` imports to read rings) registers the geoarrow.wkb
    # extension type with pyarrow: from then on a file read in the same process must still give plain WKB.
    import_module("geoarrow.pyarrow")
    demo = gpd.read_parquet(DEMO / "farmland.parquet").head(200)
    # The columns a houses file carries besides its footprint: dates (some missing), Chinese text, integers
    # with gaps.
    demo = demo.assign(built_on=pd.to_datetime(["2020-07-03", None] * 100).date,
                       village=["上村", "下村"] * 100, floors=pd.array([2, None] * 100, dtype="Int64"))
    path = tmp_path / "layer.parquet"
    if variant == "bbox covering":
        demo.to_parquet(path, write_covering_bbox=True)
    elif variant == "two geometries":
        demo.assign(centre=demo.geometry.centroid).to_parquet(path)
    elif variant == "geoarrow encoding":
        demo.to_parquet(path, geometry_encoding="geoarrow")
    elif variant == "wgs84 ensemble":  # a datum ensemble, whose members' ids geopandas strips for older PROJ
        demo.to_crs(4326).to_parquet(path)
    else:
        demo.to_parquet(path)
        if variant == "no crs key":
            _with_geo(path, _without_crs)
        elif variant == "null crs":
            _with_geo(path, _null_crs)
    frame = read_geoparquet(path)
    expected = gpd.read_parquet(path)
    assert_frame_equal(frame, expected)
    assert frame.crs == expected.crs and frame.geometry.name == expected.geometry.name
    assert {"no crs key": "OGC:CRS84", "null crs": None, "wgs84 ensemble": "EPSG:4326"}.get(variant, "EPSG:4546") == (
        frame.crs.to_string() if frame.crs is not None else None)
    src_crs = "EPSG:4546" if variant == "null crs" else None
    footprints = read_footprints(path, src_crs=src_crs)
    if variant in ("geoarrow encoding", "two geometries"):
        assert footprints is None
        return
    assert footprints is not None
    source = read_source(path, src_crs=src_crs)
    assert_frame_equal(footprints.frame, pd.DataFrame(source.drop(columns="geometry")))
    assert footprints.crs == source.crs
    wkb = footprints.wkb
    assert pa.types.is_binary(wkb.type) and not isinstance(wkb.type, pa.ExtensionType)
    assert wkb.equals(pq.read_table(path).column("geometry").combine_chunks().cast(pa.binary()))
    assert shapely.equals_exact(shapely.from_wkb(wkb.to_numpy(zero_copy_only=False)),
                                source.geometry.to_numpy()).all()
    if variant == "null crs":
        with pytest.raises(MissingCRSError):
            read_footprints(path)
