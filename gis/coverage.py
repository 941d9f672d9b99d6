"""Field patrols (巡田) over the farmland grid (网格): which grid cells a GPS track covered, how far it went, and
the grid itself where a county has none. Pure geometry in one projected CRS (metres); no database, no web.

A grid cell counts as patrolled by a track when at least `min_inside_m` of the track runs inside it: a track
that clips a corner of a cell, or a GPS fix that jumps across a boundary, does not patrol it.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.errors import RedlineInputError


@dataclass(frozen=True)
class CoverageRules:
    """How much of a track must lie in a cell (m) for the cell to count as patrolled; how big generated cells
    are (m, the side of the square lattice) and how much farmland (m²) a generated cell must hold."""

    min_inside_m: float = 50.0
    cell_m: float = 500.0
    min_farmland_m2: float = 2000.0

    def __post_init__(self) -> None:
        for name in ("min_inside_m", "cell_m", "min_farmland_m2"):
            if getattr(self, name) < 0 or (name == "cell_m" and self.cell_m == 0):
                raise RedlineInputError(f"{name} must be positive, got {getattr(self, name)}", field=name)


def track_length_m(tracks: np.ndarray) -> np.ndarray:
    """The length of each track (m)."""
    return shapely.length(np.asarray(tracks, dtype=object))


def covered(tracks: np.ndarray, cells: np.ndarray, rules: CoverageRules | None = None) -> pd.DataFrame:
    """Pairs (track, cell) where at least `min_inside_m` of the track lies in the cell, with that length."""
    rules = rules or CoverageRules()
    tracks, cells = np.asarray(tracks, dtype=object), np.asarray(cells, dtype=object)
    if not len(tracks) or not len(cells):
        return pd.DataFrame({"track": np.empty(0, int), "cell": np.empty(0, int), "inside_m": np.empty(0)})
    cell_idx, track_idx = shapely.STRtree(tracks).query(cells, predicate="intersects")
    inside = shapely.length(shapely.intersection(tracks[track_idx], cells[cell_idx]))
    keep = inside >= rules.min_inside_m
    return pd.DataFrame({"track": track_idx[keep], "cell": cell_idx[keep], "inside_m": inside[keep]})


def generate_grid(villages: gpd.GeoDataFrame, farmland: np.ndarray, rules: CoverageRules | None = None,
                  code_column: str = "code", name_column: str = "name") -> gpd.GeoDataFrame:
    """A grid for a county that has none: each village cut by a square lattice of `cell_m` (aligned to the
    CRS's multiples of `cell_m`, so the same data gives the same cells), each piece kept where it holds at least
    `min_farmland_m2` of farmland. Codes are the village code and a three-digit serial in lattice order (west to
    east, south to north); names "<village> 第N网格"."""
    rules = rules or CoverageRules()
    farm = shapely.union_all(np.asarray(farmland, dtype=object)) if len(farmland) else shapely.Polygon()
    rows = []
    size = rules.cell_m
    for code, name, village in zip(villages[code_column], villages[name_column], villages.geometry, strict=True):
        minx, miny, maxx, maxy = village.bounds
        xs = np.arange(np.floor(minx / size) * size, maxx, size)
        ys = np.arange(np.floor(miny / size) * size, maxy, size)
        gx, gy = np.meshgrid(xs, ys)  # rows south to north, columns west to east
        boxes = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + size, gy.ravel() + size)
        pieces = shapely.intersection(boxes, village)
        land = shapely.area(shapely.intersection(pieces, farm))
        keep = land >= rules.min_farmland_m2
        for serial, (piece, area) in enumerate(zip(pieces[keep], land[keep], strict=True), start=1):
            rows.append({"code": f"{code}{serial:03d}", "name": f"{name} 第{serial}网格", "village_code": code,
                         "farmland_m2": float(area), "geometry": piece})
    return gpd.GeoDataFrame(rows, columns=["code", "name", "village_code", "farmland_m2", "geometry"],
                            geometry="geometry", crs=villages.crs)
