"""Array kernels for the hot path: the area of (convex house ∩ polygon) for many pairs at once.

Houses are nearly all convex (rectangles). Clipping every ring of a farmland polygon against a convex
house (Sutherland–Hodgman) and taking the shoelace area of the result gives the exact intersection area —
the degenerate zero-width edges SH leaves for concave subjects carry no area — and it runs as a handful
of NumPy passes over all pairs together instead of one GEOS overlay per pair. Holes are clipped the same
way and subtracted. Coordinates are shifted to each house's first vertex before any product, so the
millions of metres of Gauss-Kruger eastings and northings do not eat the precision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

#: Houses whose convex hull exceeds them by more than this (m²) are not treated as convex.
CONVEX_TOLERANCE_M2 = 1e-4
#: A turn (cross product of consecutive edges, m²) smaller than this counts as straight on.
TURN_TOLERANCE = 1e-9
#: Clip polygons with more edges than this go to GEOS (circles and the like are rare).
MAX_CLIP_EDGES = 12


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

    @classmethod
    def of(cls, polygons: np.ndarray) -> Rings:
        """Flatten the rings of (Multi)Polygons (None and empty count as polygons with no ring)."""
        polygons = np.asarray(polygons, dtype=object)
        missing = shapely.is_missing(polygons)
        if missing.any():
            polygons = np.where(missing, shapely.Polygon(), polygons)
        n = len(polygons)
        if n == 0:
            empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0)
            return cls(empty_f, empty_f, empty_i, empty_i, empty_f, empty_i, empty_i)
        kind, coords, offsets = shapely.to_ragged_array(polygons)
        if kind == shapely.GeometryType.POLYGON:
            ring_off, part_off = offsets
            poly_off = np.arange(n + 1)
        elif kind == shapely.GeometryType.MULTIPOLYGON:
            ring_off, part_off, poly_off = offsets
        else:  # pragma: no cover - callers pass cleaned polygon layers
            raise TypeError(f"not a polygon array: {kind}")
        ring_off, part_off, poly_off = (np.asarray(o, dtype=np.int64) for o in (ring_off, part_off, poly_off))
        n_rings = len(ring_off) - 1
        first_of_part = np.zeros(n_rings, dtype=bool)
        starts_of_parts = part_off[:-1][np.diff(part_off) > 0]
        first_of_part[starts_of_parts] = True
        ring_first = part_off[poly_off[:-1]]
        ring_count = part_off[poly_off[1:]] - ring_first
        return cls(coords[:, 0].copy(), coords[:, 1].copy(), ring_off[:-1], np.maximum(np.diff(ring_off) - 1, 0),
                   np.where(first_of_part, 1.0, -1.0), ring_first, ring_count)


def convex_clip_polygons(geoms: np.ndarray) -> tuple[np.ndarray, Rings]:
    """Which houses can serve as convex clip polygons, and their exterior rings.

    Convex means: one part, no hole, at most `MAX_CLIP_EDGES` edges and every turn of the (valid, hence
    simple) exterior ring to the same side; collinear vertices are allowed. Only such single-ring
    polygons get a ring (read straight from their coordinates, without building ring objects).
    """
    n = len(geoms)
    simple = ((shapely.get_type_id(geoms) == shapely.GeometryType.POLYGON)
              & (shapely.get_num_interior_rings(geoms) == 0) & ~shapely.is_empty(geoms))
    idx = np.flatnonzero(simple)
    coords, owner = shapely.get_coordinates(geoms[idx], return_index=True)
    counts = np.bincount(owner, minlength=len(idx))
    start = np.r_[0, np.cumsum(counts)[:-1]].astype(np.int64)
    length = np.maximum(counts - 1, 0)
    first_ring = np.full(n, -1, dtype=np.int64)
    first_ring[idx] = np.arange(len(idx))
    rings = Rings(coords[:, 0].copy(), coords[:, 1].copy(), start, length, np.ones(len(idx)), first_ring,
                  simple.astype(np.int64))
    convex = np.zeros(n, dtype=bool)
    if len(idx):
        # Turn at each vertex = cross of consecutive edges, read off the flat coordinate array: the ring's
        # closing vertex makes edge k (k → k+1) valid inside a ring; the wrap-around turn pairs the last
        # edge with the first.
        x, y = rings.x, rings.y
        dx, dy = np.diff(x), np.diff(y)
        ring_of_edge = np.repeat(np.arange(len(idx)), counts)[:-1]
        cross = dx[:-1] * dy[1:] - dy[:-1] * dx[1:]
        valid = np.ones(len(dx), dtype=bool)
        closing = start + length
        valid[closing[closing < len(dx)]] = False  # the edge from a ring's closing vertex to the next ring
        same = (ring_of_edge[:-1] == ring_of_edge[1:]) & valid[:-1] & valid[1:]
        last = start + length - 1
        has = length >= 3
        wrap = dx[last[has]] * dy[start[has]] - dy[last[has]] * dx[start[has]]
        # Collinear vertices (|turn| ≈ 0) are allowed; a turn to each side means a concave corner.
        owner_inner = ring_of_edge[:-1][same]
        inner = cross[same]
        wrap_owner = np.flatnonzero(has)
        neg = (np.bincount(owner_inner, weights=inner < -TURN_TOLERANCE, minlength=len(idx))
               + np.bincount(wrap_owner, weights=wrap < -TURN_TOLERANCE, minlength=len(idx)))
        pos_turns = (np.bincount(owner_inner, weights=inner > TURN_TOLERANCE, minlength=len(idx))
                     + np.bincount(wrap_owner, weights=wrap > TURN_TOLERANCE, minlength=len(idx)))
        ok = has & (length <= MAX_CLIP_EDGES) & ((neg == 0) | (pos_turns == 0))
        convex[idx] = ok
    return convex, rings


def clipped_areas(subject: Rings, subject_poly: np.ndarray, clip: Rings, clip_poly: np.ndarray) -> np.ndarray:
    """Area of clip_poly[i] ∩ subject_poly[i] for each pair i (clip polygons convex, one ring each).

    `subject_poly` and `clip_poly` index the polygons behind `subject` and `clip` (see `Rings.of`).
    """
    n_pairs = len(subject_poly)
    if n_pairs == 0:
        return np.zeros(0)
    # One job per (pair, subject ring).
    per_pair = subject.ring_count[subject_poly]
    job_pair = np.repeat(np.arange(n_pairs), per_pair)
    ring_offset = np.arange(len(job_pair)) - np.repeat(np.cumsum(per_pair) - per_pair, per_pair)
    job_ring = subject.first_ring[subject_poly][job_pair] + ring_offset
    job_len = subject.length[job_ring]
    # Vertex arrays of every job.
    vjob = np.repeat(np.arange(len(job_ring)), job_len)
    vpos = np.arange(len(vjob)) - np.repeat(np.cumsum(job_len) - job_len, job_len)
    vidx = subject.start[job_ring][vjob] + vpos
    clip_ring = clip.first_ring[clip_poly][job_pair]  # convex clip polygons have exactly one ring
    ox, oy = clip.x[clip.start[clip_ring]], clip.y[clip.start[clip_ring]]
    x = subject.x[vidx] - ox[vjob]
    y = subject.y[vidx] - oy[vjob]
    # Orientation of each clip polygon: inside is left of a CCW edge.
    n_edges = clip.length[clip_ring]
    orient = np.sign(_ring_signed_area(clip, clip_ring, ox, oy))
    for k in range(int(n_edges.max())):
        k_edge = np.minimum(k, n_edges - 1)  # shorter rings repeat their last edge (idempotent)
        a = clip.start[clip_ring] + k_edge
        b = clip.start[clip_ring] + (k_edge + 1) % n_edges
        ax, ay = clip.x[a] - ox, clip.y[a] - oy
        ex, ey = clip.x[b] - clip.x[a], clip.y[b] - clip.y[a]
        x, y, vjob = _clip_half_plane(x, y, vjob, ax, ay, ex, ey, orient, len(job_ring))
    area = np.abs(_signed_area_by_job(x, y, vjob, len(job_ring)))
    return np.bincount(job_pair, weights=area * subject.sign[job_ring], minlength=n_pairs)


def _ring_signed_area(clip: Rings, ring: np.ndarray, ox: np.ndarray, oy: np.ndarray) -> np.ndarray:
    length = clip.length[ring]
    job = np.repeat(np.arange(len(ring)), length)
    pos = np.arange(len(job)) - np.repeat(np.cumsum(length) - length, length)
    idx = clip.start[ring][job] + pos
    return _signed_area_by_job(clip.x[idx] - ox[job], clip.y[idx] - oy[job], job, len(ring))


def _next_in_job(job: np.ndarray) -> np.ndarray:
    """Index of the cyclically next vertex within the same job (vertices grouped by job)."""
    n = len(job)
    nxt = np.arange(1, n + 1)
    if n == 0:
        return nxt
    last = np.r_[job[1:] != job[:-1], True]
    first = np.r_[True, job[1:] != job[:-1]]
    starts = np.flatnonzero(first)
    nxt[last] = starts[np.cumsum(first)[last] - 1]
    return nxt


def _signed_area_by_job(x: np.ndarray, y: np.ndarray, job: np.ndarray, n_jobs: int) -> np.ndarray:
    nxt = _next_in_job(job)
    cross = x * y[nxt] - x[nxt] * y
    return 0.5 * np.bincount(job, weights=cross, minlength=n_jobs)


def _clip_half_plane(x: np.ndarray, y: np.ndarray, job: np.ndarray, ax: np.ndarray, ay: np.ndarray,
                     ex: np.ndarray, ey: np.ndarray, orient: np.ndarray,
                     n_jobs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One Sutherland–Hodgman pass: keep each job's polygon on the inner side of its clip edge."""
    if len(x) == 0:
        return x, y, job
    d = orient[job] * (ex[job] * (y - ay[job]) - ey[job] * (x - ax[job]))
    inside = d >= 0
    nxt = _next_in_job(job)
    in_next = inside[nxt]
    crossing = inside != in_next
    count = crossing.astype(np.int64) + in_next
    total = int(count.sum())
    out_x = np.empty(total)
    out_y = np.empty(total)
    slot = np.cumsum(count) - count
    # The crossing point comes first, then the next vertex if it is inside.
    if crossing.any():
        i = np.flatnonzero(crossing)
        t = d[i] / (d[i] - d[nxt[i]])
        out_x[slot[i]] = x[i] + t * (x[nxt[i]] - x[i])
        out_y[slot[i]] = y[i] + t * (y[nxt[i]] - y[i])
    keep = np.flatnonzero(in_next)
    pos = slot[keep] + crossing[keep]
    out_x[pos] = x[nxt[keep]]
    out_y[pos] = y[nxt[keep]]
    return out_x, out_y, np.repeat(job, count)
