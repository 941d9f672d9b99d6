"""Polygon hygiene: repair invalid polygons, keep their polygonal parts, drop empties, and say so per row.

Footprints and farmland come from digitising by hand; bow-ties, self-touching rings and stray lines are
normal. Areas of invalid polygons are wrong (a bow-tie's signed parts cancel), so every layer passes
through `clean_polygons` before any area is taken.
"""

from __future__ import annotations

import itertools
import operator
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import GeometryType

_POLYGONAL = (GeometryType.POLYGON, GeometryType.MULTIPOLYGON)

REPORT_COLUMNS = ["source", "row", "field", "action", "reason"]


def unchanged(geoms: np.ndarray, read: np.ndarray) -> np.ndarray:
    """Per row: `geoms[i]` is still the very object `read[i]` — not reprojected, repaired or rebuilt since, so
    what was read of it (its rings; its file's bytes, `gis.footprints.HouseShapes.wkb`) still holds. Identity, not
    equality: a test of object identity costs nothing next to comparing a million footprints' coordinates."""
    return np.fromiter(map(operator.is_, geoms, read), dtype=bool, count=len(geoms))


def polygonal_part(geoms: np.ndarray) -> np.ndarray:
    """Return the polygonal part of each geometry as a (Multi)Polygon, or None where there is none.

    Collections (what `make_valid` returns for a bow-tie with a dangling edge) are split, their polygons
    kept and regrouped per input, all vectorised.
    """
    geoms = np.asarray(geoms, dtype=object)
    out = np.full(len(geoms), None, dtype=object)
    types = shapely.get_type_id(geoms)
    direct = np.isin(types, _POLYGONAL)
    out[direct] = geoms[direct]
    mixed = np.flatnonzero(types == GeometryType.GEOMETRYCOLLECTION)
    if len(mixed):
        parts, owner = shapely.get_parts(geoms[mixed], return_index=True)
        # Nested multipolygons inside a collection are split once more.
        parts, owner2 = shapely.get_parts(parts, return_index=True)
        owner = owner[owner2]
        keep = shapely.get_type_id(parts) == GeometryType.POLYGON
        if keep.any():
            regrouped = shapely.multipolygons(parts[keep], indices=owner[keep])
            present = np.unique(owner[keep])
            out[mixed[present]] = regrouped
    return out


def _threaded(func: Callable[[np.ndarray], np.ndarray], geoms: np.ndarray, workers: int) -> np.ndarray:
    """Apply a shapely ufunc in slices on `workers` threads (shapely releases the GIL)."""
    return in_threads(func, geoms, workers=workers)


def in_threads(func: Callable[..., np.ndarray], *arrays: np.ndarray, workers: int | None = None) -> np.ndarray:
    """`func(*arrays)` for aligned arrays, computed in slices on `workers` threads (default: every core).
    Shapely's vectorised operations release the GIL, so two cores do an intersection of a million pairs in
    about half the time; below 50 000 rows the threads cost more than they give."""
    workers = workers or os.cpu_count() or 1
    n = len(arrays[0])
    if workers <= 1 or n < 50_000:
        return func(*arrays)
    bounds = np.linspace(0, n, workers + 1).astype(int)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(lambda ab: func(*(a[ab[0]:ab[1]] for a in arrays)), itertools.pairwise(bounds)))
    return np.concatenate(parts)


def clean_polygons(gdf: gpd.GeoDataFrame, *, source: str = "input", row_column: str = "_row",
                   workers: int | None = None, known_valid: np.ndarray | None = None,
                   ) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Repair a polygon layer; return the clean layer and a report of every repair and drop.

    - Z/M values are dropped (areas are planar).
    - Invalid polygons are made valid (`make_valid`, structure method) and keep their polygonal parts.
    - Missing, empty, non-polygonal or zero-area features are dropped.
    The report has one row per touched feature: source, row, field, action (`repaired`/`dropped`), reason.
    `known_valid` marks rows the caller has already proven valid (simple convex polygons): GEOS validation
    is the costliest step here and is skipped for them.
    """
    workers = workers or os.cpu_count() or 1
    geoms = gdf.geometry.to_numpy()
    if shapely.has_z(geoms).any():
        geoms = shapely.force_2d(geoms)
    rows = gdf[row_column].to_numpy() if row_column in gdf.columns else np.arange(1, len(gdf) + 1)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if known_valid is None:
        valid = _threaded(shapely.is_valid, geoms, workers)
    else:
        valid = known_valid.copy()
        unknown = np.flatnonzero(~known_valid)
        valid[unknown] = _threaded(shapely.is_valid, geoms[unknown], workers)
    invalid = ~valid & ~missing
    reasons = np.full(len(geoms), "", dtype=object)
    if invalid.any():
        reasons[invalid] = shapely.is_valid_reason(geoms[invalid])
        geoms = geoms.copy()
        geoms[invalid] = shapely.make_valid(geoms[invalid], method="structure", keep_collapsed=False)
    # A proven row (`known_valid`: a convex polygon of three turns or more) is its own polygonal part and has an
    # area: only the others are asked (0.1–0.2 s a million houses).
    asked = np.flatnonzero(~known_valid) if known_valid is not None else np.arange(len(geoms))
    poly = geoms.copy()
    poly[asked] = polygonal_part(geoms[asked])
    poly_missing = np.zeros(len(geoms), dtype=bool)
    poly_missing[asked] = shapely.is_missing(poly[asked])
    area = np.ones(len(geoms))
    area[asked] = np.nan_to_num(shapely.area(poly[asked]), nan=0.0)
    drop = missing | poly_missing | (area <= 0.0)
    report = []
    dropped = np.flatnonzero(drop)
    type_names = np.asarray(gdf.geometry.iloc[dropped].geom_type.fillna("none"), dtype=object)
    for i, type_name in zip(dropped, type_names, strict=True):
        if missing[i]:
            why = "empty or missing geometry"
        elif invalid[i]:
            why = f"invalid ({reasons[i]}) with no polygonal part after repair"
        else:
            why = f"not a polygon ({type_name})" if poly_missing[i] else "zero area"
        report.append((source, int(rows[i]), "geometry", "dropped", why))
    for i in np.flatnonzero(invalid & ~drop):
        report.append((source, int(rows[i]), "geometry", "repaired", str(reasons[i])))

    out = gdf.loc[~drop].copy()
    out[out.geometry.name] = gpd.GeoSeries(poly[~drop], index=out.index, crs=gdf.crs)
    return out, pd.DataFrame(report, columns=REPORT_COLUMNS).sort_values("row", kind="stable")


def summarise_problems(problems: pd.DataFrame, first: int = 3) -> str:
    """A repair report (`clean_polygons`) in one line: "12 dropped × empty or missing geometry (rows 5, 9,
    11, ...)" per reason, most frequent first."""
    parts = []
    for (action, reason), group in sorted(problems.groupby(["action", "reason"], sort=False),
                                          key=lambda kv: -len(kv[1])):
        rows = ", ".join(str(r) for r in group["row"].head(first))
        more = ", ..." if len(group) > first else ""
        parts.append(f"{len(group)} {action} × {reason} (row{'s' if len(group) > 1 else ''} {rows}{more})")
    return "; ".join(parts)
