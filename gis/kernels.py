"""Array kernels for the hot path: the area of (convex house ∩ polygon) for many pairs at once.

Houses are nearly all convex (rectangles). Clipping every ring of a farmland polygon against a convex
house (Sutherland–Hodgman) and taking the shoelace area of the result gives the exact intersection area —
the degenerate zero-width edges SH leaves for concave subjects carry no area — in one compiled loop over
all pairs instead of one GEOS overlay per pair. Holes are clipped the same way and subtracted.
Coordinates are shifted to each house's first vertex before any product, so the millions of metres of
Gauss-Kruger eastings and northings do not eat the precision.

The loops are compiled by Numba (`cache=True`: compiled once per installation, then loaded from
`__pycache__`; `nogil=True`: the engine's threads run them side by side).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import shapely
from numba import njit

#: A turn (cross product of consecutive edges, m²) smaller than this counts as straight on.
TURN_TOLERANCE = 1e-9
#: Clip polygons with more edges than this go to GEOS (circles and the like are rare).
MAX_CLIP_EDGES = 12
#: Rings with more edges than this get an index of their edges by horizontal band (`EdgeBands`) ...
BANDED_EDGES = 48
#: ... with about this many edges a band.
EDGES_PER_BAND = 8


@dataclass(frozen=True)
class Rings:
    """Every ring of a polygon array, flattened (built from `to_ragged_array`: no per-geometry objects).

    `x`, `y` keep each ring's closing vertex; `length` counts the vertices without it.
    """

    x: np.ndarray
    y: np.ndarray
    start: np.ndarray  # first vertex of each ring
    length: np.ndarray  # vertices per ring, closing vertex excluded
    sign: np.ndarray  # +1 exterior, -1 hole
    first_ring: np.ndarray  # per polygon: index of its first ring
    ring_count: np.ndarray  # per polygon: number of rings
    #: Per ring: its edges bucketed by horizontal bands (`EdgeBands`; None for clip polygons).
    bands: EdgeBands | None = None

    def take(self, polygons: slice) -> Rings:
        """The rings of a slice of the polygons (a view: the coordinate arrays are shared)."""
        return replace(self, first_ring=self.first_ring[polygons], ring_count=self.ring_count[polygons])

    @classmethod
    def of(cls, polygons: np.ndarray) -> Rings:
        """Flatten the rings of (Multi)Polygons (None and empty count as polygons with no ring)."""
        polygons = np.asarray(polygons, dtype=object)
        n = len(polygons)
        # Parts in polygon order: a Polygon is its own part; only MultiPolygons are split (splitting
        # everything would copy every geometry).
        multi = shapely.get_type_id(polygons) == shapely.GeometryType.MULTIPOLYGON
        if multi.any():
            split, split_owner = shapely.get_parts(polygons[multi], return_index=True)
            single = np.flatnonzero(~multi)
            part_owner = np.r_[single, np.flatnonzero(multi)[split_owner]]
            order = np.argsort(part_owner, kind="stable")
            parts, part_owner = np.r_[polygons[single], split][order], part_owner[order]
        else:
            parts, part_owner = polygons, np.arange(n)
        rings, ring_part = shapely.get_rings(parts, return_index=True)  # exterior first, then the holes
        counts = shapely.get_num_coordinates(rings).astype(np.int64)
        coords = shapely.get_coordinates(rings)
        first_of_part = np.r_[True, ring_part[1:] != ring_part[:-1]][:len(rings)]
        ring_count = np.bincount(part_owner[ring_part], minlength=n).astype(np.int64)
        x, y = np.ascontiguousarray(coords[:, 0]), np.ascontiguousarray(coords[:, 1])
        start, length = np.cumsum(counts) - counts, np.maximum(counts - 1, 0)
        return cls(x, y, start, length, np.where(first_of_part, 1.0, -1.0), np.cumsum(ring_count) - ring_count,
                   ring_count, EdgeBands.of(x, y, start, length))


@dataclass(frozen=True)
class EdgeBands:
    """Per ring, its bounding box and, for rings of more than `BANDED_EDGES` edges, its edges bucketed by
    horizontal bands of equal height (about `EDGES_PER_BAND` edges a band; an edge is listed in every band its
    y-range meets, as `band_edges[band_ptr[b]:band_ptr[b + 1]]`, each the index of its first vertex).

    A house meets only the few bands of its own height: whether any edge comes near it, and the parity of a
    ray from it, are then read from those bands instead of from every edge of a parcel's long boundary.
    """

    min_x: np.ndarray
    min_y: np.ndarray
    max_x: np.ndarray
    max_y: np.ndarray
    first_band: np.ndarray  # per ring: its first band (index into band_ptr), -1 without bands
    band_count: np.ndarray
    band_height: np.ndarray
    band_ptr: np.ndarray
    band_edges: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray, y: np.ndarray, start: np.ndarray, length: np.ndarray) -> EdgeBands:
        fields = _edge_bands(x, y, start, length, BANDED_EDGES, EDGES_PER_BAND)
        return cls(*fields)


def convex_clip_polygons(geoms: np.ndarray) -> tuple[np.ndarray, Rings]:
    """Which houses can serve as convex clip polygons, and their exterior rings.

    Convex means: one part (a Polygon, or a MultiPolygon of one), no hole, at most `MAX_CLIP_EDGES` edges,
    every turn of the exterior ring to the same side (collinear vertices allowed, spikes not) and one full
    turn in all — so a five-pointed star, whose turns all go one way, is not convex. Such a ring is simple,
    hence a valid polygon, which lets `gis.geometry.clean_polygons` skip GEOS validation for it. Only
    single-ring polygons get a ring (read straight from their coordinates, without building ring objects).
    GEOS reads the types, holes and coordinates; footprints still in WKB have `convex_clip_wkb`.
    """
    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    # A one-part MultiPolygon is its part: a database's geometry column keeps every footprint as MULTIPOLYGON,
    # and without this not one stored house took the kernel (GEOS validated and intersected them all).
    kinds = shapely.get_type_id(geoms)
    one_part = (kinds == shapely.GeometryType.MULTIPOLYGON) & (shapely.get_num_geometries(geoms) == 1)
    polygons = geoms.copy()
    polygons[one_part] = shapely.get_geometry(geoms[one_part], 0)
    simple = (((kinds == shapely.GeometryType.POLYGON) | one_part)
              & (shapely.get_num_interior_rings(polygons) == 0))
    idx = np.flatnonzero(simple)
    picked = polygons[idx]
    coords = shapely.get_coordinates(picked)
    counts = shapely.get_num_coordinates(picked).astype(np.int64)  # 0 for an empty polygon: not convex
    start = np.r_[0, np.cumsum(counts)[:-1]].astype(np.int64)
    length = np.maximum(counts - 1, 0)
    first_ring = np.full(n, -1, dtype=np.int64)
    first_ring[idx] = np.arange(len(idx))
    rings = Rings(np.ascontiguousarray(coords[:, 0]), np.ascontiguousarray(coords[:, 1]), start, length,
                  np.ones(len(idx)), first_ring, simple.astype(np.int64))
    convex = np.zeros(n, dtype=bool)
    convex[idx] = _convex_rings(rings.x, rings.y, start, length, MAX_CLIP_EDGES, TURN_TOLERANCE)
    return convex, rings


def convex_clip_wkb(wkb: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, Rings]:
    """`convex_clip_polygons` for footprints still in their file's WKB, without a geometry object: GeoArrow decodes
    the bytes into rings (`wkb_single_rings`, ~0.1 s a million houses, where decoding them into shapely objects
    cost ~0.45 s). A row not read so (a null, an empty row, Z values, bytes GeoArrow cannot read) is not convex
    here: the caller decodes it and asks `convex_clip_polygons`. Nor is a ring whose last vertex is not its first:
    GeoArrow reads one, GEOS refuses it (an open ring is no polygon), and the caller must hear GEOS say so."""
    state, x, y, start, length = wkb_single_rings(wkb)
    n = len(state)
    has_ring = state == WKB_RING
    if len(x):
        first, last = np.minimum(start, len(x) - 1), np.minimum(start + length, len(x) - 1)
        has_ring &= (x[first] == x[last]) & (y[first] == y[last])
    first_ring = np.where(has_ring, np.arange(n), -1).astype(np.int64)
    rings = Rings(x, y, start, length, np.ones(n), first_ring, has_ring.astype(np.int64))
    return _convex_rings(x, y, start, length, MAX_CLIP_EDGES, TURN_TOLERANCE) & has_ring, rings


def clip_rows(convex: np.ndarray, rings: Rings, rows: np.ndarray) -> tuple[np.ndarray, Rings]:
    """`convex_clip_polygons`'s answer for some of its rows (positions, in the order given): the coordinate
    arrays are shared, not copied."""
    return convex[rows], replace(rings, first_ring=rings.first_ring[rows], ring_count=rings.ring_count[rows])


def merged_clip(n: int, *parts: tuple[np.ndarray, np.ndarray, Rings]) -> tuple[np.ndarray, Rings]:
    """One `convex_clip_polygons` answer for `n` rows from answers for disjoint sets of them, each given as
    (rows, convex, rings) with `convex` and `rings` in the order of `rows`: e.g. the houses cleaning left alone,
    whose rings were read already, beside the few it repaired, read afresh (`gis.engine._prepare_houses`)."""
    convex = np.zeros(n, dtype=bool)
    first_ring = np.full(n, -1, dtype=np.int64)
    ring_count = np.zeros(n, dtype=np.int64)
    xs, ys, starts, lengths, signs = [], [], [], [], []
    vertices = ring_base = 0
    for rows, flags, rings in parts:
        convex[rows] = flags
        first_ring[rows] = np.where(rings.first_ring >= 0, rings.first_ring + ring_base, -1)
        ring_count[rows] = rings.ring_count
        xs.append(rings.x)
        ys.append(rings.y)
        starts.append(rings.start + vertices)
        lengths.append(rings.length)
        signs.append(rings.sign)
        vertices += len(rings.x)
        ring_base += len(rings.start)
    return convex, Rings(np.concatenate(xs), np.concatenate(ys), np.concatenate(starts), np.concatenate(lengths),
                         np.concatenate(signs), first_ring, ring_count)


#: `wkb_single_rings` states of a row: a single-ring polygon, its ring read from the bytes; known to be no such
#: polygon (several parts, holes); not read (left to GEOS).
WKB_RING, WKB_NO_RING, WKB_UNREAD = 1, 2, 0


def wkb_single_rings(wkb: pa.Array | pa.ChunkedArray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The exterior ring of every single-ring polygon of a WKB column (Arrow binary), without GEOS.

    GeoArrow's C library (`geoarrow.pyarrow.as_geoarrow`) decodes the column into flat coordinate and offset
    arrays (~0.1 s a million houses, where asking GEOS for each house's type, holes and coordinates took ~0.5 s).
    Per row a state (`WKB_RING`, `WKB_NO_RING`, `WKB_UNREAD`) and, for `WKB_RING` rows, where its ring lies in
    the returned `x`, `y` (`start`; `length` vertices, closing vertex excluded, as `Rings` counts them). A
    single-ring polygon is what `convex_clip_polygons` reads from GEOS: a Polygon, or a MultiPolygon of one
    part, without holes (an empty Polygon: a ring of no edge). `WKB_UNREAD`, for the caller to ask GEOS: a null,
    an empty row of a multipolygon column, and every row of a column that is not all polygons or multipolygons,
    that has Z or M values, or that GeoArrow cannot read.
    """
    array = wkb.combine_chunks() if isinstance(wkb, pa.ChunkedArray) else wkb
    if isinstance(array, pa.ExtensionArray):  # geoarrow.wkb: its bytes
        array = array.storage
    n = len(array)
    nothing = np.zeros(n, dtype=np.int64)
    unread = (np.full(n, WKB_UNREAD, dtype=np.int8), np.zeros(0), np.zeros(0), nothing, nothing.copy())
    if n == 0:
        return unread
    import geoarrow.pyarrow as ga  # only `redline check` on GeoParquet needs it

    try:
        encoding = ga.large_wkb() if pa.types.is_large_binary(array.type) else ga.wkb()
        native = ga.as_geoarrow(encoding.wrap_array(array))
    except Exception:  # whatever GeoArrow cannot read (its C errors, a column whose type it cannot infer) is
        return unread  # read by GEOS, which read these very bytes once already
    kind = native.type.geometry_type
    if (kind not in (ga.GeometryType.POLYGON, ga.GeometryType.MULTIPOLYGON)
            or native.type.dimensions != ga.Dimensions.XY):
        return unread  # Z or M values are dropped by cleaning (`gis.geometry.clean_polygons`): GEOS's to read
    storage = native.storage
    row_offsets = storage.offsets.to_numpy()
    if kind == ga.GeometryType.MULTIPOLYGON:
        parts = np.diff(row_offsets)
        polygons = storage.values
        part = np.where(parts == 1, row_offsets[:-1], -1)  # the one part of a one-part row
    else:
        parts = np.ones(n, dtype=np.int64)
        polygons = storage
        part = np.arange(n)
    # Each offsets array once more its last value: a row's "next" offset is then always there to read.
    ring_offsets = np.append(polygons.offsets.to_numpy(), polygons.offsets[-1].as_py())
    rings = polygons.values
    vertex_offsets = np.append(rings.offsets.to_numpy(), rings.offsets[-1].as_py())
    vertices = rings.values
    # Writable copies: Numba compiles (and caches) its kernels for writable arrays, Arrow's views are read-only.
    x = vertices.field("x").to_numpy(zero_copy_only=False, writable=True)
    y = vertices.field("y").to_numpy(zero_copy_only=False, writable=True)
    first = np.maximum(part, 0)
    ring = ring_offsets[first]  # the part's first ring, where it has one
    ring_count = np.where(part >= 0, ring_offsets[first + 1] - ring, 0)
    single = (parts == 1) & (ring_count <= 1)
    state = np.where(single, WKB_RING, WKB_NO_RING).astype(np.int8)
    # An empty row of a multipolygon column may have been an empty Polygon (GEOS: a ring of no edge) or an empty
    # MultiPolygon (no ring): GEOS says which.
    state[parts == 0] = WKB_UNREAD
    state[storage.is_null().to_numpy(zero_copy_only=False)] = WKB_UNREAD
    has = (state == WKB_RING) & (ring_count == 1)
    start = np.where(has, vertex_offsets[ring], 0).astype(np.int64)
    points = np.where(has, vertex_offsets[ring + 1] - start, 0)
    return state, x, y, start, np.maximum(points - 1, 0).astype(np.int64)


def ring_bounds_and_areas(rings: Rings, polygons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounding box (m, 4) and area (m²) of the single-ring `polygons` (indices into `rings`' polygons), read from
    their rings: the houses the clip kernel measures need no geometry object for either (`gis.footprints`).

    The area is GEOS's own formula (`Area::ofRingSigned`: the shoelace with x shifted to the first vertex, summed
    in the same order), so it is the very number `shapely.area` gives for the same ring."""
    rings_of = rings.first_ring[np.asarray(polygons, dtype=np.int64)]
    return _ring_bounds_and_areas(rings.x, rings.y, rings.start[rings_of], rings.length[rings_of])


@njit(cache=True, nogil=True)
def _ring_bounds_and_areas(x: np.ndarray, y: np.ndarray, start: np.ndarray, length: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    bounds = np.empty((len(start), 4))
    area = np.empty(len(start))
    for r in range(len(start)):
        s, n = start[r], length[r] + 1  # with the closing vertex, as GEOS counts a ring's points
        lo_x, lo_y, hi_x, hi_y = x[s], y[s], x[s], y[s]
        for k in range(1, n):
            lo_x, hi_x = min(lo_x, x[s + k]), max(hi_x, x[s + k])
            lo_y, hi_y = min(lo_y, y[s + k]), max(hi_y, y[s + k])
        bounds[r, 0], bounds[r, 1], bounds[r, 2], bounds[r, 3] = lo_x, lo_y, hi_x, hi_y
        total = 0.0
        if n >= 3:
            x0 = x[s]
            for i in range(1, n - 1):
                total += (x[s + i] - x0) * (y[s + i - 1] - y[s + i + 1])
        area[r] = abs(total / 2.0)
    return bounds, area


def warm_up() -> None:
    """Compile the kernels, or load them from Numba's on-disk cache, ahead of the first real call.

    Benchmarks call this before timing, as a database loads its extension before a query is timed; `redline check`
    calls it on a thread while it reads its files (`gis.files.run_check`): loading the kernels from the cache costs
    ~0.3 s of a process's life (Numba's start), holding the GIL, while reading GeoParquet mostly releases it.
    """
    from gis.boxes import BoxIndex

    square = shapely.box(0.0, 0.0, 1.0, 1.0)
    _, rings = convex_clip_polygons(np.array([square], dtype=object))
    clipped_areas(Rings.of(np.array([square], dtype=object)), np.zeros(1, dtype=np.int64), rings,
                  np.zeros(1, dtype=np.int64))
    ring_bounds_and_areas(rings, np.zeros(1, dtype=np.int64))
    BoxIndex.of(np.array([[0.0, 0.0, 1.0, 1.0]])).pairs(np.array([[0.5, 0.5, 2.0, 2.0]]))


def clipped_areas(subject: Rings, subject_poly: np.ndarray, clip: Rings, clip_poly: np.ndarray) -> np.ndarray:
    """Area of clip_poly[i] ∩ subject_poly[i] for each pair i (clip polygons convex, one ring each).

    `subject_poly` and `clip_poly` index the polygons behind `subject` and `clip` (see `Rings.of`).
    """
    out = np.zeros(len(subject_poly))
    if len(out):
        bands = subject.bands if subject.bands is not None else EdgeBands.of(subject.x, subject.y, subject.start,
                                                                             subject.length)
        _clip_pairs(subject.x, subject.y, subject.start, subject.length, subject.sign, subject.first_ring,
                    subject.ring_count, np.asarray(subject_poly, dtype=np.int64), clip.x, clip.y, clip.start,
                    clip.length, clip.first_ring, np.asarray(clip_poly, dtype=np.int64), out, bands.min_x,
                    bands.min_y, bands.max_x, bands.max_y, bands.first_band, bands.band_count, bands.band_height,
                    bands.band_ptr, bands.band_edges)
    return out


@njit(cache=True)
def _edge_bands(x: np.ndarray, y: np.ndarray, start: np.ndarray, length: np.ndarray, banded: int,
                per_band: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                        np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """The arrays of `EdgeBands` (two passes over the edges: count per band, then fill)."""
    n_rings = len(start)
    min_x, min_y = np.empty(n_rings), np.empty(n_rings)
    max_x, max_y = np.empty(n_rings), np.empty(n_rings)
    first_band = np.full(n_rings, -1, dtype=np.int64)
    band_count = np.zeros(n_rings, dtype=np.int64)
    band_height = np.ones(n_rings)
    total = 0
    for r in range(n_rings):
        s, n = start[r], length[r]
        lo_x, lo_y, hi_x, hi_y = np.inf, np.inf, -np.inf, -np.inf
        for k in range(n):
            lo_x, hi_x = min(lo_x, x[s + k]), max(hi_x, x[s + k])
            lo_y, hi_y = min(lo_y, y[s + k]), max(hi_y, y[s + k])
        min_x[r], min_y[r], max_x[r], max_y[r] = lo_x, lo_y, hi_x, hi_y
        if n > banded and hi_y > lo_y:
            first_band[r] = total
            band_count[r] = n // per_band
            band_height[r] = (hi_y - lo_y) / band_count[r]
            total += band_count[r]
    counts = np.zeros(total + 1, dtype=np.int64)
    for fill in range(2):
        cursor = counts.copy()
        edges = np.empty(counts[total] if fill else 0, dtype=np.int64)
        for r in range(n_rings):
            if first_band[r] < 0:
                continue
            s, n, b0, nb, h = start[r], length[r], first_band[r], band_count[r], band_height[r]
            for k in range(n):
                y0, y1 = y[s + k], y[s + (k + 1) % n]
                lo = min(max(int((min(y0, y1) - min_y[r]) / h), 0), nb - 1)
                hi = min(max(int((max(y0, y1) - min_y[r]) / h), 0), nb - 1)
                for b in range(lo, hi + 1):
                    if fill:
                        edges[cursor[b0 + b]] = s + k
                        cursor[b0 + b] += 1
                    else:
                        counts[b0 + b + 1] += 1
        if not fill:
            for b in range(total):
                counts[b + 1] += counts[b]
    return min_x, min_y, max_x, max_y, first_band, band_count, band_height, counts, edges


@njit(cache=True, nogil=True)
def _convex_rings(x: np.ndarray, y: np.ndarray, start: np.ndarray, length: np.ndarray, max_edges: int,
                  tolerance: float) -> np.ndarray:  # pragma: no cover - compiled; tested through its wrapper
    """Per ring: convex (see `convex_clip_polygons`). Coordinates are shifted to the ring's first vertex.

    "One full turn in all" is read from the edges' x-directions: a ring whose turns all go one way turns round
    once exactly when its edges' x-components change sign twice around the ring (zeros skipped: vertical edges);
    a star, turning round twice, changes them four times. (A wobble of straight-on vertices near the vertical
    adds changes and leaves such a ring to GEOS: safe.) The sum of the turning angles said the same at the price
    of an arctangent per vertex, ~0.1 s a million houses.
    """
    out = np.zeros(len(start), dtype=np.bool_)
    for r in range(len(start)):
        n = length[r]
        if n < 3 or n > max_edges:
            continue
        s = start[r]
        ox, oy = x[s], y[s]
        pos = 0
        neg = 0
        changes = 0
        first_sign = 0
        last_sign = 0
        finite = True
        for k in range(n):
            i0, i1, i2 = s + k, s + (k + 1) % n, s + (k + 2) % n
            ax, ay = x[i1] - x[i0], y[i1] - y[i0]
            bx, by = x[i2] - x[i1], y[i2] - y[i1]
            if not (np.isfinite(x[i0] - ox) and np.isfinite(y[i0] - oy)):
                finite = False
            cross = ax * by - ay * bx
            dot = ax * bx + ay * by
            if cross > tolerance:
                pos += 1
            elif cross < -tolerance:
                neg += 1
            elif dot < 0.0:
                neg += 1
                pos += 1  # a spike: the ring doubles back on itself
            sign = 1 if ax > 0.0 else (-1 if ax < 0.0 else 0)
            if sign != 0:
                if first_sign == 0:
                    first_sign = sign
                elif sign != last_sign:
                    changes += 1
                last_sign = sign
        if last_sign != first_sign:
            changes += 1  # round the ring, from the last edge to the first
        out[r] = finite and (pos == 0 or neg == 0) and (pos + neg) >= 3 and changes == 2
    return out


@njit(cache=True, nogil=True)
def _clip_pairs(sx: np.ndarray, sy: np.ndarray, s_start: np.ndarray, s_length: np.ndarray, s_sign: np.ndarray,
                s_first: np.ndarray, s_count: np.ndarray, s_poly: np.ndarray, cx: np.ndarray, cy: np.ndarray,
                c_start: np.ndarray, c_length: np.ndarray, c_first: np.ndarray, c_poly: np.ndarray,
                out: np.ndarray, r_min_x: np.ndarray, r_min_y: np.ndarray, r_max_x: np.ndarray, r_max_y: np.ndarray,
                first_band: np.ndarray, band_count: np.ndarray, band_height: np.ndarray, band_ptr: np.ndarray,
                band_edges: np.ndarray) -> None:  # pragma: no cover - compiled; tested through its wrapper
    """Sutherland–Hodgman: clip every ring of each subject polygon by its convex clip polygon, sum areas.

    A ring with no edge reaching the clip polygon's (closed) box holds all of the clip polygon or none of it,
    which the parity of a ray from one of its corners decides: the common case of a house well inside, or
    well outside, a large parcel is settled without clipping, and for a banded ring (`EdgeBands`) from the
    few edges of the house's own bands.
    """
    cap = 64
    ax_buf = np.empty(cap)
    ay_buf = np.empty(cap)
    bx_buf = np.empty(cap)
    by_buf = np.empty(cap)
    for p in range(len(s_poly)):
        cr = c_first[c_poly[p]]
        c0, ce = c_start[cr], c_length[cr]
        ox, oy = cx[c0], cy[c0]
        # Orientation and bounding box of the clip polygon (inside = left of a counter-clockwise edge).
        twice = 0.0
        cminx, cminy, cmaxx, cmaxy = np.inf, np.inf, -np.inf, -np.inf
        for k in range(ce):
            x0, y0 = cx[c0 + k] - ox, cy[c0 + k] - oy
            x1, y1 = cx[c0 + (k + 1) % ce] - ox, cy[c0 + (k + 1) % ce] - oy
            twice += x0 * y1 - x1 * y0
            cminx, cmaxx = min(cminx, x0), max(cmaxx, x0)
            cminy, cmaxy = min(cminy, y0), max(cmaxy, y0)
        orient = 1.0 if twice >= 0.0 else -1.0
        total = 0.0
        sp = s_poly[p]
        for r in range(s_first[sp], s_first[sp] + s_count[sp]):
            n = s_length[r]
            s0 = s_start[r]
            if (r_max_x[r] - ox <= cminx or r_min_x[r] - ox >= cmaxx or r_max_y[r] - oy <= cminy
                    or r_min_y[r] - oy >= cmaxy):
                continue  # this ring's box meets the clip polygon in an edge at most: no area
            fb = first_band[r]
            if fb >= 0:
                nb, h = band_count[r], band_height[r]
                lo = max(int((cminy + oy - r_min_y[r]) / h) - 1, 0)
                hi = min(int((cmaxy + oy - r_min_y[r]) / h) + 1, nb - 1)
                near = False
                for b in range(lo, hi + 1):
                    for i in range(band_ptr[fb + b], band_ptr[fb + b + 1]):
                        e = band_edges[i]
                        f = s0 + (e - s0 + 1) % n
                        x0, y0, x1, y1 = sx[e] - ox, sy[e] - oy, sx[f] - ox, sy[f] - oy
                        if (min(x0, x1) <= cmaxx and max(x0, x1) >= cminx
                                and min(y0, y1) <= cmaxy and max(y0, y1) >= cminy):
                            near = True
                            break
                    if near:
                        break
                if not near:
                    # Every edge crossing the line y = oy lies in oy's band (as the bands were built).
                    b = min(max(int((oy - r_min_y[r]) / h), 0), nb - 1)
                    inside = False
                    for i in range(band_ptr[fb + b], band_ptr[fb + b + 1]):
                        e = band_edges[i]
                        f = s0 + (e - s0 + 1) % n
                        x0, y0, x1, y1 = sx[e] - ox, sy[e] - oy, sx[f] - ox, sy[f] - oy
                        if (y0 > 0.0) != (y1 > 0.0) and x0 + (0.0 - y0) * (x1 - x0) / (y1 - y0) > 0.0:
                            inside = not inside
                    if inside:
                        total += s_sign[r] * abs(0.5 * twice)
                    continue
            need = 2 * (n + ce) + 8
            if need > cap:
                cap = 2 * need
                ax_buf, ay_buf = np.empty(cap), np.empty(cap)
                bx_buf, by_buf = np.empty(cap), np.empty(cap)
            for k in range(n):
                ax_buf[k], ay_buf[k] = sx[s0 + k] - ox, sy[s0 + k] - oy
            near = fb >= 0  # a banded ring that reaches here is near: clip it
            inside = False
            for k in range(0 if fb < 0 else n, n):
                x0, y0 = ax_buf[k], ay_buf[k]
                x1, y1 = ax_buf[k + 1 if k + 1 < n else 0], ay_buf[k + 1 if k + 1 < n else 0]
                if (min(x0, x1) <= cmaxx and max(x0, x1) >= cminx
                        and min(y0, y1) <= cmaxy and max(y0, y1) >= cminy):
                    near = True
                    break
                if (y0 > 0.0) != (y1 > 0.0) and x0 + (0.0 - y0) * (x1 - x0) / (y1 - y0) > 0.0:
                    inside = not inside
            if not near:
                if inside:
                    total += s_sign[r] * abs(0.5 * twice)
                continue
            m = n
            for k in range(ce):
                if m == 0:
                    break
                px, py = cx[c0 + k] - ox, cy[c0 + k] - oy
                ex, ey = cx[c0 + (k + 1) % ce] - cx[c0 + k], cy[c0 + (k + 1) % ce] - cy[c0 + k]
                if 2 * m + 2 > cap:
                    cap = 4 * m + 8
                    nax, nay = np.empty(cap), np.empty(cap)
                    nax[:m], nay[:m] = ax_buf[:m], ay_buf[:m]
                    ax_buf, ay_buf = nax, nay
                    bx_buf, by_buf = np.empty(cap), np.empty(cap)
                q = 0
                d_prev = orient * (ex * (ay_buf[m - 1] - py) - ey * (ax_buf[m - 1] - px))
                x_prev, y_prev = ax_buf[m - 1], ay_buf[m - 1]
                for i in range(m):
                    xi, yi = ax_buf[i], ay_buf[i]
                    d = orient * (ex * (yi - py) - ey * (xi - px))
                    if (d >= 0.0) != (d_prev >= 0.0):
                        t = d_prev / (d_prev - d)
                        bx_buf[q] = x_prev + t * (xi - x_prev)
                        by_buf[q] = y_prev + t * (yi - y_prev)
                        q += 1
                    if d >= 0.0:
                        bx_buf[q], by_buf[q] = xi, yi
                        q += 1
                    d_prev, x_prev, y_prev = d, xi, yi
                ax_buf, bx_buf = bx_buf, ax_buf
                ay_buf, by_buf = by_buf, ay_buf
                m = q
            twice_area = 0.0
            for i in range(m):
                j = i + 1 if i + 1 < m else 0
                twice_area += ax_buf[i] * ay_buf[j] - ax_buf[j] * ay_buf[i]
            total += s_sign[r] * abs(0.5 * twice_area)
        out[p] = total
