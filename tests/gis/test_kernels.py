"""The compiled clip kernel and the convexity test it depends on.

Hand-computed areas first; then many random pairs against GEOS, because the kernel replaces GEOS
overlay for most houses and must agree with it to far below the 0.01 m² the engine promises.
"""

from __future__ import annotations

from importlib import import_module

import numpy as np
import pyarrow as pa
import pytest
import shapely
from shapely import affinity
from shapely.geometry import MultiPolygon, Polygon, box

from gis.kernels import (
    MAX_CLIP_EDGES,
    WKB_NO_RING,
    WKB_RING,
    WKB_UNREAD,
    Rings,
    clipped_areas,
    convex_clip_polygons,
    convex_clip_wkb,
    wkb_single_rings,
)

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


def test_convexity_agrees_with_geos_on_random_rings():
    """Random rings of 3 to 12 vertices round a centre (star-shaped: convex or not), stars that wind round twice,
    and rotated rectangles at Gauss-Kruger magnitudes: the kernel calls a ring convex exactly when GEOS finds it
    valid and equal to its own convex hull."""
    rng = np.random.default_rng(21)
    rings = []
    for _ in range(3000):
        k = int(rng.integers(3, 13))
        angles = np.sort(rng.uniform(0, 2 * np.pi, k))
        radius = rng.uniform(5, 10, k) if rng.random() < 0.5 else np.full(k, 8.0)
        rings.append(np.c_[GK_E + radius * np.cos(angles), GK_N + radius * np.sin(angles)])
    for k in (5, 7, 9, 11):  # {k/2} stars: every turn one way, twice round
        angles = np.arange(k) * 4 * np.pi / k + rng.uniform(0, 1)
        rings.append(np.c_[GK_E + 10 * np.cos(angles), GK_N + 10 * np.sin(angles)])
    for a in rng.uniform(0, 180, 500):
        rings.append(np.asarray(affinity.rotate(box(GK_E, GK_N, GK_E + 12.5, GK_N + 8.25), a).exterior.coords)[:-1])
    geoms = np.array([Polygon(r) for r in rings], dtype=object)
    convex, _ = convex_clip_polygons(geoms)
    hull = shapely.convex_hull(geoms)
    truth = shapely.is_valid(geoms) & (np.abs(shapely.area(hull) - shapely.area(geoms)) < 1e-9 * shapely.area(hull))
    assert convex.tolist() == truth.tolist()
    assert 500 < convex.sum() < len(geoms) - 500 and not convex[3000:3004].any()


def _rings_by_row(convex: np.ndarray, clip: Rings) -> list[list[tuple[float, float]] | None]:
    """Per row: its clip ring's vertices (closing vertex included), None without a ring."""
    out: list[list[tuple[float, float]] | None] = []
    for row in range(len(convex)):
        ring = clip.first_ring[row]
        if ring < 0 or clip.ring_count[row] == 0:
            out.append(None)
            continue
        s, n = clip.start[ring], clip.length[ring]
        out.append(list(zip(clip.x[s:s + n + 1].tolist(), clip.y[s:s + n + 1].tolist(), strict=True)) if n else [])
    return out


def test_rings_read_from_wkb_are_the_rings_geos_reads():
    """`redline check` reads a GeoParquet file's houses' rings from its WKB with GeoArrow (`wkb_single_rings`,
    `convex_clip_wkb`). Every row it reads must give GEOS's coordinates to the bit and the same convexity, whatever
    the encoding (big-endian, EWKB with an SRID, binary or large binary, chunked, a slice); a row it calls no ring
    (holes, several parts) GEOS calls no ring too; a null, a column with other geometry types or Z values and
    bytes GeoArrow cannot read are left unread (the engine decodes them)."""
    geoarrow = import_module("geoarrow.pyarrow")
    rng = np.random.default_rng(7)
    xy = np.c_[GK_E + rng.uniform(0, 5000, 400), GK_N + rng.uniform(0, 5000, 400)]
    rotated = [affinity.rotate(box(x, y, x + 12.3, y + 9.1), a, origin=(x, y))
               for (x, y), a in zip(xy, rng.uniform(0, 90, len(xy)), strict=True)]
    square = box(0, 0, 10, 10)
    l_shape = Polygon([(0, 0), (10, 0), (10, 4), (4, 4), (4, 10), (0, 10)])
    holed = Polygon(square.exterior.coords, [[(2, 2), (4, 2), (4, 4)]])
    geoms = np.array([*rotated, square, l_shape, box(5, 5, 9, 9), box(1, 1, 2, 2), box(3, 3, 4, 4),
                      MultiPolygon([square]), Polygon(), holed, MultiPolygon([holed]),
                      MultiPolygon([square, box(20, 20, 30, 30)]), None], dtype=object)
    encoded = list(shapely.to_wkb(geoms))
    n = len(rotated)
    encoded[n + 3] = shapely.to_wkb(geoms[n + 3], byte_order=0)  # big-endian
    encoded[n + 4] = shapely.to_wkb(shapely.set_srid(geoms[n + 4], 4546), include_srid=True)
    column = pa.array(encoded, type=pa.binary())

    state = wkb_single_rings(column)[0]
    # The houses, the square, the L (a ring, not convex), the big-endian and SRID houses, the one-part
    # multipolygon; the empty polygon (GEOS's to tell: a polygon's or a multipolygon's emptiness?); the holed ones
    # and the two-part one; the null.
    assert state.tolist() == [WKB_RING] * (n + 6) + [WKB_UNREAD] + [WKB_NO_RING] * 3 + [WKB_UNREAD]
    read = state != WKB_UNREAD
    want_convex, want_rings = convex_clip_polygons(geoms)
    want = _rings_by_row(want_convex, want_rings)
    for wkb in (column, pa.array(encoded, type=pa.large_binary()),
                pa.chunked_array([column.slice(0, 100), column.slice(100)]),
                pa.array([b"junk", *encoded], type=pa.binary()).slice(1),  # a slice: Arrow's offset
                geoarrow.wkb().wrap_array(column)):  # typed geoarrow.wkb (GeoArrow's extension type)
        assert wkb_single_rings(wkb)[0].tolist() == state.tolist()  # read by GeoArrow, not left to GEOS
        convex, rings = convex_clip_wkb(wkb)
        assert convex.tolist() == want_convex.tolist()
        assert convex[:n].all() and not convex[n + 1]
        got = _rings_by_row(convex, rings)
        assert [got[i] for i in np.flatnonzero(read)] == [want[i] for i in np.flatnonzero(read)]
        assert all(got[i] is None for i in np.flatnonzero(~read))
    # A point among the houses, a Z house among plain ones, or bytes cut short: nothing is read from the bytes.
    with_point = np.array([*geoms[:5], shapely.Point(1, 2)], dtype=object)
    for odd in (pa.array(shapely.to_wkb(with_point), type=pa.binary()),
                pa.array(shapely.to_wkb([*geoms[:5], shapely.force_3d(box(5, 5, 9, 9), 2.0)]), type=pa.binary()),
                pa.array([*encoded[:5], bytes(encoded[0])[:-5]], type=pa.binary())):
        assert wkb_single_rings(odd)[0].tolist() == [WKB_UNREAD] * 6
        convex, rings = convex_clip_wkb(odd)
        assert not convex.any() and (rings.first_ring == -1).all()
    assert wkb_single_rings(pa.array(shapely.to_wkb([MultiPolygon(), None]), type=pa.binary()))[0].tolist() == [
        WKB_UNREAD] * 2  # a column of nothing: GeoArrow cannot tell its type
    # The kernel's areas from the rings the bytes gave are GEOS's areas.
    field = Polygon([(GK_E - 100, GK_N - 100), (GK_E + 2600, GK_N + 300), (GK_E + 5200, GK_N + 5100),
                     (GK_E + 200, GK_N + 4800)])
    convex, rings = convex_clip_wkb(column)
    houses = np.flatnonzero(convex)
    got = clipped_areas(Rings.of(np.array([field], dtype=object)), np.zeros(len(houses), dtype=np.int64), rings,
                        houses)
    assert np.abs(got - shapely.area(shapely.intersection(geoms[houses], field))).max() < 1e-6
