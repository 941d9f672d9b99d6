"""Patrol coverage and generated grids on hand-built geometry (metres in a projected CRS)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely import LineString, box

from gis.coverage import CoverageRules, covered, generate_grid, track_length_m
from gis.errors import RedlineInputError


def arr(*geoms) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.array(geoms, dtype=object)


def test_a_cell_counts_when_enough_of_the_track_runs_inside_it():
    cells = arr(box(0, 0, 500, 500), box(500, 0, 1000, 500), box(1000, 0, 1500, 500))
    # 400 m through the first cell, 100 m into the second, then back: 60 m... and a corner clip of the third.
    track = LineString([(100, 250), (500, 250), (600, 250), (600, 300), (540, 300), (1005, 5), (1000, 0)])
    pairs = covered(arr(track), cells, CoverageRules(min_inside_m=50))
    inside = dict(zip(pairs["cell"], pairs["inside_m"], strict=True))
    assert set(inside) == {0, 1}  # the third cell: a few metres only
    assert inside[0] == pytest.approx(400.0)
    # In the second: 100 + 50 + 60 m, and the diagonal to x=1000 (its part inside the cell).
    diagonal = LineString([(540, 300), (1005, 5)]).intersection(cells[1]).length
    assert inside[1] == pytest.approx(210.0 + diagonal)


def test_the_threshold_is_inclusive_and_lengths_are_metres():
    cells = arr(box(0, 0, 100, 100))
    assert len(covered(arr(LineString([(-10, 50), (40, 50)])), cells, CoverageRules(min_inside_m=40))) == 1
    assert len(covered(arr(LineString([(-10, 50), (39, 50)])), cells, CoverageRules(min_inside_m=40))) == 0
    assert track_length_m(arr(LineString([(0, 0), (3, 4), (3, 10)]))).tolist() == [11.0]
    with pytest.raises(RedlineInputError, match="cell_m"):
        CoverageRules(cell_m=0)


def test_generated_grid_cells_follow_the_lattice_and_keep_only_farmland():
    villages = gpd.GeoDataFrame({"code": ["431021101201"], "name": ["石门一村"]},
                                geometry=[box(250, 250, 1250, 750)], crs=4546)
    # 1 ha in the south-west; a field across the x = 1000 lattice line in the north; a shed-sized patch.
    farmland = arr(box(300, 300, 400, 400), box(900, 600, 1240, 740), box(600, 300, 620, 320))
    grid = generate_grid(villages, farmland, CoverageRules(cell_m=500, min_farmland_m2=2000))
    # Lattice 0/500/1000 in x and 0/500 in y clipped to the village: six pieces, three with enough farmland
    # (the 400 m² patch is not enough), numbered south to north, west to east.
    assert grid["code"].tolist() == ["431021101201001", "431021101201002", "431021101201003"]
    assert grid["name"].tolist() == ["石门一村 第1网格", "石门一村 第2网格", "石门一村 第3网格"]
    assert grid.geometry.iloc[0].equals(box(250, 250, 500, 500))
    assert grid.geometry.iloc[2].equals(box(1000, 500, 1250, 750))
    assert grid["farmland_m2"].tolist() == pytest.approx([10_000.0, 100 * 140, 240 * 140])
    tiny = generate_grid(villages, arr(box(300, 300, 310, 310)), CoverageRules(min_farmland_m2=2000))
    assert tiny.empty
