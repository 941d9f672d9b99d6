"""Polygon hygiene on hand-made and real broken geometries."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely import GeometryCollection, LineString, Polygon, box

from gis.geometry import clean_polygons
from gis.sources import read_source
from tests.conftest import fixture_path


def test_bow_tie_is_split_into_its_two_triangles():
    bow = Polygon([(0, 0), (10, 10), (10, 0), (0, 10), (0, 0)])
    clean, report = clean_polygons(gpd.GeoDataFrame({"_row": [7]}, geometry=[bow], crs=4546), source="f.shp")
    assert clean.geometry.iloc[0].area == pytest.approx(50.0)
    assert report.to_dict("records") == [{"source": "f.shp", "row": 7, "field": "geometry", "action": "repaired",
                                          "reason": report.iloc[0]["reason"]}]
    assert "Self-intersection" in report.iloc[0]["reason"]


def test_collection_keeps_only_polygons_and_lines_are_dropped():
    mixed = GeometryCollection([box(0, 0, 2, 2), LineString([(5, 5), (6, 6)])])
    frame = gpd.GeoDataFrame({"_row": [1, 2, 3, 4]},
                             geometry=[mixed, LineString([(0, 0), (1, 1)]), None, Polygon()], crs=4546)
    clean, report = clean_polygons(frame)
    assert list(clean["_row"]) == [1]
    assert clean.geometry.iloc[0].geom_type == "MultiPolygon" and clean.geometry.iloc[0].area == 4.0
    assert list(report["row"]) == [2, 3, 4]
    assert set(report["action"]) == {"dropped"}


def test_z_values_are_dropped():
    poly = Polygon([(0, 0, 5), (1, 0, 5), (1, 1, 5), (0, 0, 5)])
    clean, _ = clean_polygons(gpd.GeoDataFrame({"_row": [1]}, geometry=[poly], crs=4546))
    assert not clean.geometry.iloc[0].has_z


def test_curved_geometries_arrive_linearised():
    frame = read_source(fixture_path("vector", "pyogrio_fixtures", "curvepolygon.gpkg"))
    clean, report = clean_polygons(frame)
    assert len(clean) == 1 and report.empty
    frame = read_source(fixture_path("vector", "pyogrio_fixtures", "multisurface.gpkg"))
    clean, report = clean_polygons(frame)
    assert len(clean) == 1 and clean.geometry.iloc[0].area > 0
