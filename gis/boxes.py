"""Pairs of overlapping bounding boxes, from coordinate arrays: the engine's spatial join without geometry objects.

Why not shapely's STRtree: its queries take geometry objects, and `redline check` makes none for the million
houses the clip kernel measures from their rings alone (`gis.footprints`). Making one only to ask the tree cost
more than the whole join (~0.45 s to decode a million footprints, ~0.1–0.3 s to free them again).

`BoxIndex` is a loose grid in levels: a box whose larger side is at most the cell size of a level is filed once,
in the cell of that level holding its lower-left corner; level 0's cells are about the size of the layer's
typical box, each level's cells twice the size of the one below. A query box then meets every indexed box in the
cells of each level that start at most one cell to its left or below it, and no pair is found twice. The answer
is the pairs whose closed boxes meet — the same pairs as `STRtree.query` without a predicate (touching boxes
included). Coordinates are any one CRS's (the engine's: metres).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

#: The finest level has at most this many cells a side (a county of 1M houses: level 0 cells of ~25–60 m).
MAX_CELLS_A_SIDE = 1024
#: Slack (in cells) for the rounding of the cell arithmetic, whose error is ~1e-13 cells (coordinates' relative
#: error ~1e-16 times at most ~1e3 cells): a box exactly touching a query box is never left out for it.
ROUNDING = 1e-6


@dataclass(frozen=True)
class BoxIndex:
    """Boxes (n, 4: min x, min y, max x, max y) filed in a loose grid (see the module docstring).

    Per level: its cell size, its grid's width and height in cells, and where its cells start in `cell_ptr`
    (a CSR index: the boxes of cell c are `items[cell_ptr[c]:cell_ptr[c + 1]]`). A box with a NaN coordinate
    (an empty geometry's) is filed nowhere and meets nothing.
    """

    #: The boxes in `items` order (a cell's boxes side by side in memory).
    filed_bounds: np.ndarray
    x0: float
    y0: float
    cell: np.ndarray
    nx: np.ndarray
    ny: np.ndarray
    level_start: np.ndarray
    cell_ptr: np.ndarray
    items: np.ndarray

    @classmethod
    def of(cls, bounds: np.ndarray) -> BoxIndex:
        bounds = np.ascontiguousarray(bounds, dtype=np.float64).reshape(-1, 4)
        filed = np.flatnonzero(~np.isnan(bounds).any(axis=1))
        if len(filed) == 0:
            none = np.zeros(0, dtype=np.int64)
            return cls(bounds[:0], 0.0, 0.0, np.ones(0), none, none, np.zeros(1, dtype=np.int64), none.copy(), none)
        b = bounds[filed]
        x0, y0 = float(b[:, 0].min()), float(b[:, 1].min())
        extent = max(float(b[:, 2].max()) - x0, float(b[:, 3].max()) - y0)
        size = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
        base = max(float(np.median(size)), extent / MAX_CELLS_A_SIDE, 1e-9)
        level = np.ceil(np.log2(np.maximum(size / base, 1.0))).astype(np.int64)
        level += size > base * np.exp2(level)  # where rounding put a box one level too low
        levels = int(level.max()) + 1
        cell = base * np.exp2(np.arange(levels))
        nx = (np.floor(extent / cell) + 1).astype(np.int64)
        level_start = np.r_[0, np.cumsum(nx * nx)].astype(np.int64)
        cx = np.minimum(np.floor((b[:, 0] - x0) / cell[level]).astype(np.int64), nx[level] - 1)
        cy = np.minimum(np.floor((b[:, 1] - y0) / cell[level]).astype(np.int64), nx[level] - 1)
        key = level_start[level] + cy * nx[level] + cx
        order = np.argsort(key, kind="stable")
        cell_ptr = np.r_[0, np.cumsum(np.bincount(key, minlength=int(level_start[-1])))].astype(np.int64)
        items = filed[order].astype(np.int64)
        return cls(np.ascontiguousarray(bounds[items]), x0, y0, cell, nx, nx.copy(), level_start, cell_ptr, items)

    def pairs(self, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Indices (into `boxes`, into the indexed boxes) of every pair of boxes that meet, boundaries included;
        ordered by the query box. `boxes`: (m, 4) in the same CRS; a NaN box meets nothing."""
        boxes = np.ascontiguousarray(boxes, dtype=np.float64).reshape(-1, 4)
        if len(boxes) == 0 or len(self.items) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return _box_pairs(boxes, self.filed_bounds, self.x0, self.y0, self.cell, self.nx, self.ny, self.level_start,
                          self.cell_ptr, self.items)


@njit(cache=True, nogil=True)
def _box_pairs(q: np.ndarray, b: np.ndarray, x0: float, y0: float, cell: np.ndarray, nx: np.ndarray,
               ny: np.ndarray, level_start: np.ndarray, cell_ptr: np.ndarray, items: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """`BoxIndex.pairs`, compiled: one pass over the query boxes. Room for every indexed box is kept free before
    each query box, so the inner loops never grow the answer (a growth test there doubled the time)."""
    room = len(items)
    cap = 2 * len(q) + room
    qi, bi = np.empty(cap, dtype=np.int64), np.empty(cap, dtype=np.int64)
    found = 0
    levels = len(cell)
    inverse = 1.0 / cell
    for i in range(len(q)):
        qx0, qy0, qx1, qy1 = q[i, 0], q[i, 1], q[i, 2], q[i, 3]
        if not (qx0 <= qx1 and qy0 <= qy1):  # NaN (empty) or inverted: meets nothing
            continue
        if found + room > cap:
            cap = 2 * cap
            grown_q, grown_b = np.empty(cap, dtype=np.int64), np.empty(cap, dtype=np.int64)
            grown_q[:found], grown_b[:found] = qi[:found], bi[:found]
            qi, bi = grown_q, grown_b
        for level in range(levels):
            if cell_ptr[level_start[level + 1]] == cell_ptr[level_start[level]]:
                continue  # no box on this level
            f = inverse[level]
            w, h = nx[level], ny[level]
            # A box on this level is at most one cell wide and filed by its lower-left corner: one that meets the
            # query starts at most one cell left of or below it (and `ROUNDING` more either way).
            lo_x = max(int(np.floor((qx0 - x0) * f - 1.0 - ROUNDING)), 0)
            lo_y = max(int(np.floor((qy0 - y0) * f - 1.0 - ROUNDING)), 0)
            hi_x = min(int(np.floor((qx1 - x0) * f + ROUNDING)), w - 1)
            hi_y = min(int(np.floor((qy1 - y0) * f + ROUNDING)), h - 1)
            for cy in range(lo_y, hi_y + 1):
                row = level_start[level] + cy * w
                for k in range(cell_ptr[row + lo_x], cell_ptr[row + hi_x + 1] if hi_x >= lo_x else 0):
                    if b[k, 0] <= qx1 and b[k, 2] >= qx0 and b[k, 1] <= qy1 and b[k, 3] >= qy0:
                        qi[found], bi[found] = i, items[k]
                        found += 1
    return qi[:found].copy(), bi[:found].copy()
