"""Epoch comparison on hand-built footprints (metres in a projected CRS): every class, the threshold edges, a
house split in two and two houses joined into one."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely import box

from gis.compare import CompareRules, compare, matches
from gis.errors import RedlineInputError

E = np.array([], dtype=object)


def arr(*geoms) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.array(geoms, dtype=object)


def change(houses, before, after, **kw):  # type: ignore[no-untyped-def]
    return compare(arr(*houses), arr(*before), arr(*after), CompareRules(**kw))


def test_unchanged_grown_shrunk_gone_and_new():
    h = [box(0, 0, 10, 10), box(100, 0, 110, 10), box(200, 0, 210, 10), box(300, 0, 310, 10)]
    before = [box(0, 0, 10, 10), box(100, 0, 110, 10), box(200, 0, 210, 10), box(300, 0, 310, 10)]
    after = [box(0.2, 0, 10.2, 10),            # digitised 20 cm apart: 2 m² either way, under min_area 3
             box(100, 0, 115, 10),             # grew 5 × 10 = 50 m² to the east
             box(200, 0, 206, 10),             # lost 40 m²
             box(500, 500, 512, 510)]          # the fourth house is gone; this one is new
    result = change(h, before, after, min_area_m2=3.0, tolerance_m=0.0)
    assert result.houses["change"].tolist() == ["unchanged", "grown", "shrunk", "gone"]
    grown = result.houses.iloc[1]
    assert grown["new_m2"] == pytest.approx(50.0)
    assert grown["new_part"].equals(box(110, 0, 115, 10))
    assert result.houses.iloc[2]["lost_m2"] == pytest.approx(40.0)
    assert result.new.tolist() == [3]


def test_growth_at_the_min_area_counts_and_below_does_not():
    h, before = [box(0, 0, 10, 10)], [box(0, 0, 10, 10)]
    at = change(h, before, [box(0, 0, 10.25, 10)], min_area_m2=2.5, tolerance_m=0.0)  # 0.25 × 10 = 2.5 m²
    assert at.houses["change"].tolist() == ["grown"] and at.houses["new_m2"][0] == 2.5
    below = change(h, before, [box(0, 0, 10.125, 10)], min_area_m2=2.5, tolerance_m=0.0)  # 1.25 m²
    assert below.houses["change"].tolist() == ["unchanged"] and below.houses["new_m2"][0] == 0.0


def test_the_match_share_is_of_the_smaller_footprint_and_inclusive():
    house = box(0, 0, 10, 10)  # 100 m²
    half = box(5, 0, 15, 10)   # 100 m², 50 m² in common: exactly half of the smaller
    i, j = matches(arr(house), arr(half), 0.5)
    assert (i.tolist(), j.tolist()) == ([0], [0])
    i, _ = matches(arr(house), arr(box(5.01, 0, 15.01, 10)), 0.5)  # 49.9 m²: just below
    assert i.tolist() == []
    # A small shed entirely on the house matches it (100% of the smaller), however large the house.
    i, _ = matches(arr(box(0, 0, 100, 100)), arr(box(10, 10, 12, 12)), 0.5)
    assert i.tolist() == [0]


def test_a_house_split_in_two_is_unchanged_and_two_joined_houses_grow_once():
    h = [box(0, 0, 10, 10), box(12, 0, 22, 10)]
    split = change(h[:1], [h[0]], [box(0, 0, 4.96875, 10), box(5.03125, 0, 10, 10)])  # a gap of 0.0625 m
    assert split.houses["change"].tolist() == ["unchanged"] and split.new.tolist() == []
    joined = change(h, h, [box(0, 0, 22, 10)])  # the 2 m gap between them built over: 20 m² new
    assert sorted(joined.houses["change"].tolist()) == ["grown", "unchanged"]
    grown = joined.houses[joined.houses["change"] == "grown"].iloc[0]
    assert grown["house"] == 0 and grown["new_m2"] == pytest.approx(20.0)
    assert grown["new_part"].equals(box(10, 0, 12, 10))


def test_a_house_the_earlier_pass_missed_is_judged_by_its_stored_footprint():
    result = change([box(0, 0, 10, 10)], [], [box(0, 0, 10, 12)], min_area_m2=1.0)
    assert result.houses["change"].tolist() == ["grown"] and result.houses["new_m2"][0] == pytest.approx(20.0)


def test_a_new_footprint_on_an_old_unregistered_building_is_not_new():
    result = change([], [box(50, 50, 60, 60)], [box(50, 50, 60, 60), box(80, 80, 81, 81), box(90, 90, 95, 95)],
                    min_area_m2=2.0)
    assert result.new.tolist() == [2]  # the old one stood before; the 1 m² speck is below min_area


def test_rules_are_checked():
    with pytest.raises(RedlineInputError, match="match_share"):
        CompareRules(match_share=0)
    assert shapely.is_empty(shapely.Point()) and len(compare(E, E, E).houses) == 0


def test_the_same_walls_digitised_apart_are_not_growth_but_a_wing_is():
    """Two passes digitise a 10 m × 12 m house 0.4 m apart: slivers of 4–5 m² each way, thinner than the
    tolerance — unchanged (a false "grown" would open an increment case against a house that never changed).
    A 6 m × 7 m wing on the same shifted outline is growth, measured whole from the earlier pass's wall (its
    42 m² and the 0.4 m × 7 m between the two digitised walls that the wing joins on to)."""
    house = box(0, 0, 10, 12)
    shifted = shapely.affinity.translate(house, 0.4, 0.3)
    noise = change([house], [house], [shifted])
    assert noise.houses["change"].tolist() == ["unchanged"] and noise.houses["new_m2"][0] == 0.0
    assert change([house], [house], [shifted], tolerance_m=0.0).houses["change"].tolist() == ["grown"]
    wing = shapely.union(shifted, box(10.4, 0.3, 16.4, 7.3))
    grown = change([house], [house], [wing]).houses.iloc[0]
    assert grown["change"] == "grown" and grown["new_m2"] == pytest.approx(42.0 + 2.8)
    # At the edge: a strip exactly as thick as the tolerance is noise; a little thicker is a part.
    assert change([house], [house], [box(0, 0, 11.0, 12)]).houses["change"].tolist() == ["unchanged"]
    assert change([house], [house], [box(0, 0, 11.2, 12)]).houses["change"].tolist() == ["grown"]
    with pytest.raises(RedlineInputError, match="tolerance_m"):
        CompareRules(tolerance_m=-1)
