"""Vectorised clipping: for each house, the part of it that lies on a layer (overlaps counted once).

This is the hot path of the engine, so it is written as array operations over all candidate pairs. Areas
(`area_on`, `pair_areas`): the houses' boxes find the pairs (`gis.boxes`), the compiled kernel clips the convex
houses, GEOS the rest. Pieces (`clip_union`, for the few houses the rules need as geometry): an STRtree finds the
pairs, a `covers` fast path skips the clip for houses wholly inside one polygon, and houses touching several
polygons are unioned in padded batches (`union_all(axis=1)`), never one by one in Python.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely import STRtree

from gis.boxes import BoxIndex
from gis.footprints import HouseShapes
from gis.geometry import polygonal_part
from gis.kernels import Rings, clipped_areas


class Layer:
    """A polygon layer prepared for repeated clipping: its geometries, two spatial indexes (an STRtree for
    geometry objects, a `BoxIndex` for houses known by their boxes alone), its rings."""

    def __init__(self, geoms: np.ndarray, rings: Rings | None = None, boxes: BoxIndex | None = None) -> None:
        self.geoms = np.asarray(geoms, dtype=object)
        self.tree = STRtree(self.geoms)
        self.rings = rings if rings is not None else Rings.of(self.geoms)
        self.boxes = boxes if boxes is not None else BoxIndex.of(shapely.bounds(self.geoms))

    def copy(self) -> Layer:
        """A layer over fresh copies of the geometries (GEOS objects a thread may use alone); the arrays are shared."""
        return Layer(shapely.from_wkb(shapely.to_wkb(self.geoms)), self.rings, self.boxes)

    def __len__(self) -> int:
        return len(self.geoms)

    def pairs(self, geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Indices (into `geoms`, into this layer) of every pair whose interiors may meet."""
        gi, li = self.tree.query(geoms, predicate="intersects")
        return gi, li


def union_groups(owner: np.ndarray, pieces: np.ndarray, n: int) -> np.ndarray:
    """Union `pieces` per `owner` index (owner sorted ascending); return an array of length n."""
    out = np.full(n, None, dtype=object)
    if len(owner) == 0:
        return out
    uniq, start, counts = np.unique(owner, return_index=True, return_counts=True)
    single = counts == 1
    out[uniq[single]] = pieces[start[single]]
    if single.all():
        return out
    in_multi = np.repeat(~single, counts)
    m_owner, m_pieces = owner[in_multi], pieces[in_multi]
    m_counts = counts[~single]
    m_uniq = uniq[~single]
    # Position of each piece inside its group.
    group_start = np.repeat(np.cumsum(m_counts) - m_counts, m_counts)
    col = np.arange(len(m_owner)) - group_start
    row = np.repeat(np.arange(len(m_uniq)), m_counts)
    # Bucket groups by size (powers of two) so one huge group does not pad every other.
    bucket = np.ceil(np.log2(m_counts)).astype(int)
    for b in np.unique(bucket):
        groups = np.flatnonzero(bucket == b)
        width = int(m_counts[groups].max())
        pad = np.full((len(groups), width), None, dtype=object)
        remap = np.full(len(m_uniq), -1)
        remap[groups] = np.arange(len(groups))
        sel = remap[row] >= 0
        pad[remap[row[sel]], col[sel]] = m_pieces[sel]
        out[m_uniq[groups]] = shapely.union_all(pad, axis=1)
    return out


def clip_union(geoms: np.ndarray, layer: Layer) -> np.ndarray:
    """For each geometry g, return g ∩ union(layer) as a (Multi)Polygon, or None where it has no area.

    Edges that only touch give None (0 m²); polygons overlapping each other count once.
    """
    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    if n == 0 or len(layer) == 0:
        return np.full(n, None, dtype=object)
    gi, li = layer.pairs(geoms)
    if len(gi) == 0:
        return np.full(n, None, dtype=object)
    g, lg = geoms[gi], layer.geoms[li]
    covered = shapely.covers(lg, g)
    pieces = np.empty(len(gi), dtype=object)
    pieces[covered] = g[covered]
    rest = ~covered
    if rest.any():
        pieces[rest] = polygonal_part(shapely.intersection(g[rest], lg[rest]))
    keep = ~shapely.is_missing(pieces)
    keep[keep] &= ~shapely.is_empty(pieces[keep])
    order = np.argsort(gi[keep], kind="stable")
    out = union_groups(gi[keep][order], pieces[keep][order], n)
    whole = np.unique(gi[covered])
    out[whole] = geoms[whole]
    return out


def area_or_zero(geoms: np.ndarray) -> np.ndarray:
    """Planar area of each geometry, 0 where it is None."""
    geoms = np.asarray(geoms, dtype=object)
    area = shapely.area(geoms)
    return np.where(np.isnan(area), 0.0, area)


def intersect_or_none(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise a ∩ b (polygonal part), None where either side is None."""
    a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
    out = np.full(len(a), None, dtype=object)
    both = ~shapely.is_missing(a) & ~shapely.is_missing(b)
    if both.any():
        out[both] = polygonal_part(shapely.intersection(a[both], b[both]))
    return out


def subtract_or_keep(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise a − b (polygonal part); a itself where b is None, None where a is None."""
    a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
    out = a.copy()
    both = ~shapely.is_missing(a) & ~shapely.is_missing(b)
    if both.any():
        out[both] = polygonal_part(shapely.difference(a[both], b[both]))
    return out


def union_or_either(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise a ∪ b; whichever is present where the other is None."""
    a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
    out = np.where(shapely.is_missing(a), b, a)
    both = ~shapely.is_missing(a) & ~shapely.is_missing(b)
    if both.any():
        out[both] = shapely.union(a[both], b[both])
    return out


#: Kernel areas at or below this (m²) are rounding noise of edges that only touch.
TOUCH_EPSILON_M2 = 1e-9


def pair_areas(houses: HouseShapes, layer: Layer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (house, layer polygon) pair that shares area: indices into `houses`, into `layer`, and the area (m²).

    Pairs come from the houses' boxes (`BoxIndex`, no geometry object asked); convex houses (`houses.convex`, their
    rings in `houses.clip`) are measured by the clipping kernel, the others intersected by GEOS.
    """
    gi, li = layer.boxes.pairs(houses.bounds)
    area = np.zeros(len(gi))
    fast = houses.convex[gi]
    area[fast] = clipped_areas(layer.rings, li[fast], houses.clip, gi[fast])
    slow = np.flatnonzero(~fast)
    if len(slow):
        area[slow] = area_or_zero(shapely.intersection(houses.geometries(gi[slow]), layer.geoms[li[slow]]))
    hit = area > TOUCH_EPSILON_M2
    return gi[hit], li[hit], area[hit]


def area_on(houses: HouseShapes, layer: Layer) -> np.ndarray:
    """Area of each house on the union of `layer` (overlaps counted once), without building pieces
    (`pair_areas`). Houses that meet two layer polygons whose interiors overlap are redone with `clip_union`."""
    n = len(houses)
    if n == 0 or len(layer) == 0:
        return np.zeros(n)
    gi, li, area = pair_areas(houses, layer)
    out = np.bincount(gi, weights=area, minlength=n).astype(float)
    redo = _houses_on_overlapping_polygons(gi, li, layer)
    if len(redo):
        out[redo] = area_or_zero(clip_union(houses.geometries(redo), layer))
    return out


def _houses_on_overlapping_polygons(gi: np.ndarray, li: np.ndarray, layer: Layer) -> np.ndarray:
    """Houses meeting two layer polygons whose interiors overlap (where summing areas would count twice)."""
    counts = np.bincount(gi)
    multi = counts[gi] > 1
    if not multi.any():
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((li[multi], gi[multi]))
    mg, ml = gi[multi][order], li[multi][order]
    starts = np.r_[0, np.flatnonzero(mg[1:] != mg[:-1]) + 1]
    sizes = np.diff(np.r_[starts, len(mg)])
    firsts, seconds, owners = [], [], []
    for k in np.unique(sizes):  # one pass per group size, not per house
        s = starts[sizes == k]
        i, j = np.triu_indices(int(k), 1)
        firsts.append(ml[(s[:, None] + i[None, :]).ravel()])
        seconds.append(ml[(s[:, None] + j[None, :]).ravel()])
        owners.append(np.repeat(mg[s], len(i)))
    a, b, owner = np.concatenate(firsts), np.concatenate(seconds), np.concatenate(owners)
    pairs, inverse = np.unique(np.stack([a, b], axis=1), axis=0, return_inverse=True)
    overlapping = shapely.relate_pattern(layer.geoms[pairs[:, 0]], layer.geoms[pairs[:, 1]], "2********")
    return np.unique(owner[overlapping[inverse.ravel()]])
