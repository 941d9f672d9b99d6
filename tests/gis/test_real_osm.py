"""The engine on real OpenStreetMap data nobody on this team produced (Liechtenstein, 2013)."""

from __future__ import annotations

import pytest

from gis.engine import CheckInputs, check
from gis.rules import RuleSet
from gis.sources import read_source
from tests.conftest import fixture_path

# DERIVED_buildings_on_agri_landuse.txt, computed in EPSG:2056 by another tool.
EXPECTED = {"2408": 0.0, "3994": 831.7, "4747": 168.9, "4966": 0.3, "5135": 729.3, "5813": 34.5}


@pytest.fixture(scope="module")
def result():
    path = fixture_path("vector", "osm_liechtenstein", "DERIVED_liechtenstein_2013_landuse_buildings.gpkg")
    buildings = read_source(path, layer="buildings")
    buildings["house_id"] = buildings["osm_way_id"].fillna("r" + buildings["osm_id"].astype(str))
    agri = read_source(path, layer="landuse_agri")
    return check(CheckInputs(houses=buildings, farmland=agri), RuleSet(), crs="EPSG:2056")


def test_six_buildings_meet_agricultural_land(result):
    h = result.houses.set_index("house_id")
    touching = h[h.farmland_m2 > 0]
    assert set(touching.index) == set(EXPECTED) - {"2408"}
    for way, m2 in EXPECTED.items():
        assert h.loc[way, "farmland_m2"] == pytest.approx(m2, abs=0.06)


def test_edge_and_sliver_are_not_violations(result):
    h = result.houses.set_index("house_id")
    assert not h.loc["2408", "violation"]  # touches an edge: 0 m²
    assert not h.loc["4966", "violation"]  # 0.3 m² sliver, below the 1 m² threshold
    assert h.loc[["3994", "4747", "5135", "5813"], "violation"].all()
    assert int(h["violation"].sum()) == 4


def test_four_buildings_lie_wholly_inside(result):
    h = result.houses.set_index("house_id")
    inside = h[(h.farmland_m2 > 0) & ((h.footprint_m2 - h.farmland_m2).abs() < 0.01)]
    assert set(inside.index) == {"3994", "4747", "5135", "5813"}
