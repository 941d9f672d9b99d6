"""The compiled clip kernel and the convexity test it depends on.

Hand-computed areas first; then many random pairs against GEOS, because the kernel replaces GEOS
overlay for most houses and must agree with it to far below the 0.01 m² the engine promises.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely import affinity
from shapely.geometry import MultiPolygon, Polygon, box

from gis.kernels import MAX_CLIP_EDGES, Rings, clipped_areas, convex_clip_polygons

GK_E, GK_N = 39_500_000.0, 3_500_000.0  # Gauss-Kruger magnitudes (zone-prefixed easting)


def kernel_area(house: Polygon, subject: Polygon | MultiPolygon) -> float:
    convex, clip = convex_clip_polygons(np.array([house], dtype=object))
    assert convex[0], "test houses must be convex"
    return float(clipped_areas(Rings.of(np.array([subject], dtype=object)), np.zeros(1, dtype=np.int64), clip,
                               np.zeros(1, dtype=np.int64))[0])


def test_hand_computed_areas_with_a_hole_and_a_concave_subject():
    house = box(0, 0, 10, 10)
    # An L-shaped farmland covering the house's left half and bottom strip: 5×10 + 5×2 = 60 m².
    l_shape = Polygon([(-5, -5), (5, -5), (5, -5), (20, -5), (20, 2), (5, 2), (5, 20), (-5, 20)])
    assert kernel_area(house, l_shape) == pytest.approx(60.0, abs=1e-9)
    # A field with a 4×4 hole inside the house: 100 − 16 = 84 m².
    holed = Polygon([(-1, -1), (11, -1), (11, 11), (-1, 11)], [[(3, 3), (7, 3), (7, 7), (3, 7)]])
    assert kernel_area(house, holed) == pytest.approx(84.0, abs=1e-9)
    # Two parts of one multipolygon, each covering a quarter.
    two = MultiPolygon([box(-1, -1, 5, 5), box(5, 5, 11, 11)])
    assert kernel_area(house, two) == pytest.approx(50.0, abs=1e-9)
    # Touching along an edge only, and disjoint: no area.
    assert kernel_area(house, box(10, 0, 20, 10)) == 0.0
    assert kernel_area(house, box(30, 30, 40, 40)) == 0.0


def test_clockwise_house_at_gauss_kruger_magnitudes_keeps_precision():
    house = Polygon([(GK_E, GK_N), (GK_E, GK_N + 10), (GK_E + 10, GK_N + 10), (GK_E + 10, GK_N)])  # clockwise
    field = box(GK_E + 9.99, GK_N - 5, GK_E + 30, GK_N + 30)  # a 1 cm strip of the house: 0.1 m²
    assert kernel_area(house, field) == pytest.approx(0.1, abs=1e-6)


def _random_convex_house(rng: np.random.Generator) -> Polygon:
    w, h = rng.uniform(4, 20, 2)
    house = affinity.rotate(box(0, 0, w, h), rng.uniform(0, 180), origin=(0, 0))
    if rng.random() < 0.3:  # some pentagons / hexagons: a rectangle with a corner cut off
        house = house.intersection(affinity.rotate(box(-50, -50, 50, 0.8 * h), rng.uniform(-20, 20)))
    return affinity.translate(house, GK_E + rng.uniform(0, 100), GK_N + rng.uniform(0, 100))


def _random_field(rng: np.random.Generator) -> Polygon | MultiPolygon:
    centre = shapely.Point(GK_E + rng.uniform(0, 100), GK_N + rng.uniform(0, 100))
    k = int(rng.integers(5, 40))
    angles = np.sort(rng.uniform(0, 2 * np.pi, k))
    radii = rng.uniform(5, 60, k)
    ring = np.c_[centre.x + radii * np.cos(angles), centre.y + radii * np.sin(angles)]
    field = shapely.make_valid(Polygon(ring))  # a star-shaped, usually concave polygon
    if rng.random() < 0.5:
        field = field.difference(centre.buffer(rng.uniform(1, 8), quad_segs=4))  # with a hole
    if rng.random() < 0.2:
        field = field.union(affinity.translate(field, rng.uniform(70, 90), 0))  # a second part
    return shapely.get_parts(field)[0] if isinstance(field, shapely.GeometryCollection) else field


def test_random_pairs_agree_with_geos():
    rng = np.random.default_rng(20200703)
    houses = np.array([_random_convex_house(rng) for _ in range(600)], dtype=object)
    fields = np.array([_random_field(rng) for _ in range(600)], dtype=object)
    fields = fields[shapely.get_type_id(fields) >= 3]
    houses = houses[: len(fields)]
    convex, clip = convex_clip_polygons(houses)
    assert convex.all()
    idx = np.arange(len(houses), dtype=np.int64)
    got = clipped_areas(Rings.of(fields), idx, clip, idx)
    want = shapely.area(shapely.intersection(houses, fields))
    assert (want > 0).sum() > 100, "the sample must actually overlap"
    assert np.abs(got - want).max() < 1e-6


def test_one_part_multipolygons_take_the_kernel_and_agree_with_geos():
    """Footprints read back from a database are MULTIPOLYGONs of one part: they are convex houses too."""
    rng = np.random.default_rng(7)
    houses = np.array([_random_convex_house(rng) for _ in range(300)], dtype=object)
    fields = np.array([_random_field(rng) for _ in range(300)], dtype=object)
    keep = shapely.get_type_id(fields) >= 3
    houses, fields = houses[keep], fields[keep]
    stored = shapely.multipolygons(houses[:, None].tolist())
    convex, clip = convex_clip_polygons(stored)
    assert convex.all()
    idx = np.arange(len(houses), dtype=np.int64)
    got = clipped_areas(Rings.of(fields), idx, clip, idx)
    want = shapely.area(shapely.intersection(houses, fields))
    assert (want > 0).sum() > 50
    assert np.abs(got - want).max() < 1e-6


def test_houses_inside_outside_and_across_a_large_many_vertex_field():
    """The shortcut for a house no edge of the ring comes near (decided by ray parity, not clipped) must give
    GEOS's area whether the house is inside the field, in its pond, in a bay of it, or across an edge."""
    rng = np.random.default_rng(1)
    angles = np.linspace(0, 2 * np.pi, 700, endpoint=False)
    radii = 400 + 120 * np.sin(5 * angles) + rng.uniform(-2, 2, len(angles))  # a five-lobed field, with bays
    ring = np.c_[GK_E + radii * np.cos(angles), GK_N + radii * np.sin(angles)]
    pond = shapely.Point(GK_E + 100, GK_N).buffer(60, quad_segs=16)
    field = Polygon(ring, [pond.exterior.coords])
    assert field.is_valid and len(field.exterior.coords) > 600
    xy = np.c_[GK_E + rng.uniform(-550, 550, 3000), GK_N + rng.uniform(-550, 550, 3000)]
    houses = np.array([affinity.rotate(box(x, y, x + 12, y + 9), a, origin=(x, y))
                       for (x, y), a in zip(xy, rng.uniform(0, 90, len(xy)), strict=True)], dtype=object)
    convex, clip = convex_clip_polygons(houses)
    assert convex.all()
    got = clipped_areas(Rings.of(np.array([field], dtype=object)), np.zeros(len(houses), dtype=np.int64), clip,
                        np.arange(len(houses), dtype=np.int64))
    want = shapely.area(shapely.intersection(houses, field))
    inside = shapely.contains_properly(field, houses)
    in_pond = shapely.contains_properly(pond, houses)
    crossing = (want > 0) & ~inside
    in_a_bay = ~shapely.intersects(field, houses) & shapely.contains(shapely.box(*field.bounds), houses) & ~in_pond
    assert inside.sum() > 500 and in_pond.sum() > 10 and crossing.sum() > 50 and in_a_bay.sum() > 200
    assert np.abs(got - want).max() < 1e-6


def test_convexity_test():
    square = box(0, 0, 10, 10)
    collinear = Polygon([(0, 0), (5, 0), (10, 0), (10, 10), (0, 10)])  # a vertex on a straight edge
    l_shape = Polygon([(0, 0), (10, 0), (10, 4), (4, 4), (4, 10), (0, 10)])
    pentagram = Polygon([(np.cos(a), np.sin(a)) for a in np.pi / 2 + np.arange(5) * 4 * np.pi / 5])
    bow_tie = Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])
    spike = Polygon([(0, 0), (10, 0), (10, 10), (5, 10), (5, 20), (5, 10), (0, 10)])
    many = shapely.Point(0, 0).buffer(10, quad_segs=8)  # 32 edges: left to GEOS
    holed = Polygon(square.exterior.coords, [[(2, 2), (4, 2), (4, 4)]])
    multi = MultiPolygon([square, box(20, 20, 30, 30)])
    stored = [MultiPolygon([square]), MultiPolygon([l_shape]), MultiPolygon([holed])]  # as a database keeps them
    geoms = np.array([square, collinear, l_shape, pentagram, bow_tie, spike, many, holed, multi, None,
                      Polygon(), *stored], dtype=object)
    convex, clip = convex_clip_polygons(geoms)
    assert convex.tolist() == [True, True, False, False, False, False, False, False, False, False, False,
                               True, False, False]
    assert len(shapely.get_coordinates(many)) - 1 > MAX_CLIP_EDGES
    # Every polygon the test calls convex is valid: the engine skips GEOS validation for them.
    assert shapely.is_valid(geoms[convex]).all()
    assert not shapely.is_valid(pentagram)
    assert clip.ring_count.tolist() == [1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0]  # empty polygon: a ring, no edges
