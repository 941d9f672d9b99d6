"""Synthetic benchmark counties, two families on the same house lattice (N rotated rectangles, 25 m apart).

- `voronoi` (`generate`): farmland is a share of a fine Voronoi tessellation, about one polygon per ten houses,
  a tenth with a hole: many small polygons, ~30% of houses touching, many of them on a boundary.
- `fields` (`generate_fields`): farmland is a share of a coarse tessellation, about one polygon per thousand
  houses, its boundary walked every 5 m with a 1.5 m jitter (several hundred vertices per polygon), 8% with a
  pond: few large many-vertex polygons, most houses wholly inside or wholly outside one.
Polygons never overlap (cells are shrunk before the jitter), so every peer's plain SUM of intersection
areas equals Redline's overlap-counted-once area.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

CRS = "EPSG:4546"
X0, Y0 = 440_000.0, 2_800_000.0


def houses(n: int, rng: np.random.Generator, spacing: float = 25.0) -> gpd.GeoDataFrame:
    """n rotated rectangles (8–14 m × 9–15 m) on a jittered lattice, built with array operations."""
    side = int(np.ceil(np.sqrt(n)))
    ix, iy = np.divmod(np.arange(n), side)
    cx = X0 + ix * spacing + rng.uniform(-3, 3, n)
    cy = Y0 + iy * spacing + rng.uniform(-3, 3, n)
    w, h = rng.uniform(8, 14, n) / 2, rng.uniform(9, 15, n) / 2
    a = np.radians(rng.uniform(-30, 30, n))
    cos, sin = np.cos(a), np.sin(a)
    corners = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1)], dtype=float)
    dx = corners[None, :, 0] * w[:, None]
    dy = corners[None, :, 1] * h[:, None]
    xs = cx[:, None] + dx * cos[:, None] - dy * sin[:, None]
    ys = cy[:, None] + dx * sin[:, None] + dy * cos[:, None]
    rings = shapely.polygons(np.stack([xs, ys], axis=-1))
    return gpd.GeoDataFrame({"house_id": np.arange(n)}, geometry=rings, crs=CRS)


def _voronoi_cells(n_cells: int, extent: float, rng: np.random.Generator) -> np.ndarray:
    """The Voronoi tessellation of n_cells random points over [X0, X0+extent]² (50 m margin)."""
    pts = np.column_stack([X0 + rng.uniform(0, extent, n_cells), Y0 + rng.uniform(0, extent, n_cells)])
    frame = shapely.box(X0 - 50, Y0 - 50, X0 + extent + 50, Y0 + extent + 50)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=frame))
    return shapely.intersection(cells, frame)


def farmland(n_cells: int, extent: float, rng: np.random.Generator, share: float = 0.22) -> gpd.GeoDataFrame:
    """A share of a Voronoi tessellation over [X0, X0+extent]², a tenth with a hole."""
    cells = _voronoi_cells(n_cells, extent, rng)
    keep = rng.random(len(cells)) < share
    cells = cells[keep]
    holed = rng.random(len(cells)) < 0.1
    hole = shapely.buffer(shapely.centroid(cells[holed]), 12, quad_segs=2)
    cells[holed] = shapely.difference(cells[holed], hole)
    return gpd.GeoDataFrame({"farmland_id": np.arange(len(cells))}, geometry=cells, crs=CRS)


def fields(n_cells: int, extent: float, rng: np.random.Generator, share: float = 0.35) -> gpd.GeoDataFrame:
    """Large many-vertex polygons: a share of a coarse Voronoi tessellation, boundaries walked every 5 m
    and jittered by up to 1.5 m (after a 2 m inward shrink, so neighbours never overlap), 8% with a pond."""
    cells = _voronoi_cells(n_cells, extent, rng)
    cells = cells[rng.random(len(cells)) < share]
    cells = shapely.segmentize(shapely.buffer(cells, -2.0, join_style="mitre"), 5.0)
    coords = shapely.get_coordinates(cells)
    # The jitter is a function of the position, so a ring's closing vertex moves with its first one.
    phase = coords[:, 0] * 12.9898 + coords[:, 1] * 78.233
    coords += 1.5 * np.column_stack([np.sin(phase * 43.7), np.cos(phase * 37.1)])
    cells = shapely.make_valid(shapely.set_coordinates(cells, coords))
    cells = shapely.get_parts(cells)
    cells = cells[shapely.get_type_id(cells) == shapely.GeometryType.POLYGON]
    cells = cells[shapely.area(cells) > 1000]
    pond = rng.random(len(cells)) < 0.08
    centre = shapely.point_on_surface(cells[pond])
    cells[pond] = shapely.difference(cells[pond], shapely.buffer(centre, rng.uniform(20, 60, int(pond.sum()))))
    return gpd.GeoDataFrame({"farmland_id": np.arange(len(cells))}, geometry=cells, crs=CRS)


def generate_fields(out: Path, n_houses: int, seed: int = 2) -> tuple[Path, Path]:
    """Write fields_houses_N.parquet and fields_farmland_N.parquet (one polygon per ~1 000 houses)."""
    return _write_county(out, n_houses, seed, "fields_", lambda extent, rng: fields(max(n_houses // 1000, 4),
                                                                                   extent, rng))


def _write_county(out: Path, n_houses: int, seed: int, prefix: str,
                  make_farmland: Callable[[float, np.random.Generator], gpd.GeoDataFrame]) -> tuple[Path, Path]:
    """Houses on the lattice and farmland over the same extent, written as GeoParquet."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    h = houses(n_houses, rng)
    f = make_farmland(float(np.ceil(np.sqrt(n_houses))) * 25.0, rng)
    hp, fp = out / f"{prefix}houses_{n_houses}.parquet", out / f"{prefix}farmland_{n_houses}.parquet"
    h.to_parquet(hp)
    f.to_parquet(fp)
    return hp, fp


FAMILIES = {"voronoi": lambda out, n: generate(out, n), "fields": lambda out, n: generate_fields(out, n)}


def generate(out: Path, n_houses: int, seed: int = 1) -> tuple[Path, Path]:
    """Write houses_N.parquet and farmland_N.parquet (about one farmland polygon per 10 houses)."""
    return _write_county(out, n_houses, seed, "", lambda extent, rng: farmland(max(n_houses // 3, 10), extent, rng))
