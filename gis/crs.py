"""Coordinate reference systems: identify by definition, pick the Gauss-Kruger zone, never measure degrees.

Real CGCS2000 `.prj` files carry no EPSG code, a wrong one (a 6-degree zone with identical parameters),
or a vertical datum; so CRSs are compared by what they define, not by their number.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.transformer import TransformerGroup

from gis.errors import GeographicCRSError, MissingCRSError, RedlineInputError

if TYPE_CHECKING:  # geopandas is only named here: this module is read by light commands (`redline user add`)
    import geopandas as gpd

#: CGCS2000 geographic.
CGCS2000 = CRS.from_epsg(4490)
#: EPSG code of CGCS2000 / 3-degree Gauss-Kruger CM 75E; codes run to 4554 (CM 135E) in 3° steps.
_GK_CM75_EPSG = 4534
_GK_CM_MIN, _GK_CM_MAX = 75, 135


@dataclass(frozen=True)
class SharedTransformer:
    """A transformation between two CRSs that every thread can use at once and cheaply (see `transformer`).

    `chosen` is pyproj's `Transformer.from_crs` (always x/y); `fast` the same single operation rebuilt from its
    pipeline text, or `chosen` itself where PROJ chooses between operations per point."""

    chosen: Transformer
    fast: Transformer
    #: Neither side is in degrees: bounds need no antimeridian or pole handling, which only `chosen` knows to
    #: do (it knows which side is geographic; a pipeline does not, and gives infinite bounds).
    projected: bool

    def transform(self, xx: Any, yy: Any) -> tuple[Any, Any]:
        """Coordinates (x/longitude first) from the source CRS to the target CRS."""
        return self.fast.transform(xx, yy)  # type: ignore[no-any-return]

    def transform_bounds(self, left: float, bottom: float, right: float, top: float,
                         densify_pts: int = 21) -> tuple[float, float, float, float]:
        """The box in the target CRS around a box in the source CRS (its edges densified)."""
        way = self.fast if self.projected else self.chosen
        return way.transform_bounds(left, bottom, right, top, densify_pts=densify_pts)  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=64)
def transformer(source: Any, target: Any) -> SharedTransformer:
    """The always-xy transformation from `source` to `target` (anything pyproj reads: "EPSG:4326", 4546, a
    CRS), made once per pair and shared by all threads.

    Why not simply `Transformer.from_crs`: pyproj keeps one PROJ object per thread (3.1+), and in every new
    thread it rebuilds a `from_crs` transformer from the CRSs — PROJ's database lookups again, 90–130 ms
    measured — at the thread's first transform. The server answers on a pool of threads that grows with a
    burst and lets idle ones go, so a map's six tile requests or a queue of uploads kept paying it (the first
    tiles of a view took 0.4–1 s). Where PROJ finds exactly one way between the two CRSs (every pair of this
    county's: CGCS2000 Gauss-Kruger zones, CGCS2000 and WGS 84 degrees, Web Mercator), that operation is
    rebuilt from its pipeline text, which a new thread copies in under a millisecond, with the very same
    results (`tests/gis/test_crs.py` holds them equal). Where there is a choice (grids, areas of use), PROJ
    keeps choosing per point: `from_crs` as it is."""
    chosen = Transformer.from_crs(source, target, always_xy=True)
    single = len(TransformerGroup(source, target, always_xy=True).transformers) == 1
    fast = Transformer.from_pipeline(chosen.definition) if single else chosen
    projected = not (CRS.from_user_input(source).is_geographic or CRS.from_user_input(target).is_geographic)
    return SharedTransformer(chosen, fast, projected)


def horizontal(crs: CRS) -> CRS:
    """Return the horizontal part of a compound CRS (a `.prj` with a vertical datum), else the CRS itself."""
    if crs.is_compound:
        for sub in crs.sub_crs_list:
            if sub.is_projected or sub.is_geographic:
                return sub
    return crs


def same_crs(a: CRS | str | int, b: CRS | str | int) -> bool:
    """Tell whether two CRSs put a coordinate in the same place (by definition, ignoring names/codes)."""
    ca, cb = horizontal(CRS.from_user_input(a)), horizontal(CRS.from_user_input(b))
    if ca.equals(cb, ignore_axis_order=True):
        return True
    # Same projection method and parameters under different names (ArcGIS 'Gauss_Kruger' vs EPSG TM).
    try:
        pa, pb = ca.to_json_dict(), cb.to_json_dict()
    except Exception:  # pragma: no cover - pyproj always serialises a parsed CRS
        return False
    return _normalised_projection(pa) == _normalised_projection(pb) and _normalised_projection(pa) is not None


def _normalised_projection(d: dict) -> tuple | None:
    """A comparable tuple (ellipsoid, method family, parameter values) of a projected CRS's JSON."""
    if d.get("type") != "ProjectedCRS":
        return None
    base = d.get("base_crs", {})
    datum = base.get("datum", base.get("datum_ensemble", {}))
    ellipsoid = datum.get("ellipsoid", {})
    conv = d.get("conversion", {})
    method = conv.get("method", {}).get("name", "").lower().replace("_", " ")
    if "gauss" in method or "transverse mercator" in method:
        method = "transverse mercator"
    params = sorted(
        (p.get("name", "").lower().replace("_", " ").replace("natural origin", "origin"),
         round(float(p.get("value", 0.0)), 6))
        for p in conv.get("parameters", [])
    )
    values = tuple(v for _, v in params)
    return (round(float(ellipsoid.get("semi_major_axis", 0)), 3),
            round(float(ellipsoid.get("inverse_flattening", 0)), 6), method, tuple(sorted(values)))


def gauss_kruger_zone(longitude: float) -> CRS:
    """Return the CGCS2000 3-degree Gauss-Kruger CRS (EPSG:4534–4554, false easting 500 km) for a longitude."""
    central = 3 * round(longitude / 3.0)
    if not _GK_CM_MIN <= central <= _GK_CM_MAX:
        raise GeographicCRSError(
            f"longitude {longitude:.3f}° is outside China's 3-degree Gauss-Kruger zones (75°E–135°E); "
            "give the projected CRS explicitly"
        )
    return CRS.from_epsg(_GK_CM75_EPSG + (central - _GK_CM_MIN) // 3)


def zone_for_frame(gdf: gpd.GeoDataFrame) -> CRS:
    """Pick the Gauss-Kruger zone from the centre of a frame's extent (in geographic coordinates)."""
    if gdf.crs is None:
        raise MissingCRSError("the data has no CRS; cannot pick a Gauss-Kruger zone")
    minx, _miny, maxx, _maxy = gdf.to_crs(CGCS2000).total_bounds
    return gauss_kruger_zone((minx + maxx) / 2.0)


def to_projected(gdf: gpd.GeoDataFrame, target: CRS | str | int | None = None, *,
                 source: str = "input") -> gpd.GeoDataFrame:
    """Return `gdf` in a projected CRS fit for areas in m².

    - No CRS: an error (never guess).
    - `target` given: reproject to it unless the data is already in it (by definition).
    - Geographic data and no target: reproject to the Gauss-Kruger zone of the data's longitude.
    - Projected data and no target: kept as it is.
    """
    if gdf.crs is None:
        raise MissingCRSError("the source has no CRS (no .prj?); give it explicitly", source=source)
    check_degrees(gdf, source)
    if target is not None:
        target_crs = CRS.from_user_input(target)
        if not target_crs.is_projected:
            raise GeographicCRSError(f"target CRS {target_crs.name} is not projected; areas need metres",
                                     source=source)
        if same_crs(gdf.crs, target_crs):
            return gdf.set_crs(target_crs, allow_override=True)
        return _reprojected(gdf, target_crs, source)
    crs = horizontal(CRS.from_user_input(gdf.crs))
    if crs.is_projected:
        return gdf.set_crs(crs, allow_override=True) if crs != gdf.crs else gdf
    if gdf.empty:
        raise GeographicCRSError("cannot pick a projected CRS for empty geographic data", source=source)
    return _reprojected(gdf, zone_for_frame(gdf), source)


def _reprojected(gdf: gpd.GeoDataFrame, target: CRS, source: str) -> gpd.GeoDataFrame:
    """`gdf.to_crs(target)`, with coordinates PROJ cannot transform reported as bad input, not a crash."""
    try:
        out = gdf.to_crs(target)
    except Exception as exc:  # pyproj/GEOS errors on coordinates outside the source CRS's domain
        raise RedlineInputError(f"cannot transform the coordinates from {gdf.crs.name} to {target.name}: {exc}",
                                source=source) from exc
    b = shapely.bounds(out.geometry.to_numpy())
    bad = ~np.isfinite(b).all(axis=1) & ~shapely.is_empty(out.geometry.to_numpy()) & out.geometry.notna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        row = int(gdf["_row"].iloc[i]) if "_row" in gdf.columns else i + 1
        raise RedlineInputError(f"{int(bad.sum())} features cannot be placed in {target.name} (coordinates "
                                f"outside {gdf.crs.name}'s domain: is the CRS right?)", source=source, row=row,
                                field="geometry")
    return out


def require_projected(gdf: gpd.GeoDataFrame, what: str) -> None:
    """Refuse to measure areas of data that is not in a projected CRS."""
    if gdf.crs is None:
        raise MissingCRSError(f"{what} has no CRS")
    if not horizontal(CRS.from_user_input(gdf.crs)).is_projected:
        raise GeographicCRSError(f"{what} is in geographic coordinates; areas in degrees are meaningless")


# --- Is the data where the county is? ---------------------------------------------------------------------
#: CGCS2000 Gauss-Kruger CRSs a Chinese delivery may be in: 3-degree zones by central meridian (no zone
#: prefix, EPSG:4534-4554) first, then 3-degree with the zone number in front of the easting (4513-4533),
#: 6-degree by central meridian (4502-4512) and 6-degree with prefix (4491-4501).
GK_CANDIDATES = (*range(4534, 4555), *range(4513, 4534), *range(4502, 4513), *range(4491, 4502))
#: How far beyond a CRS's published zone data may lie before it is taken for data in the wrong zone (degrees).
#: A wrong 3-degree zone moves data by 3° (~300 km); a county at the zone's edge pokes out by a few km.
ZONE_MARGIN_DEG = 0.5
#: How far beyond the county's townships a feature may lie (degrees, ~5 km): boundary houses, sliver parcels.
COUNTY_MARGIN_DEG = 0.05


@dataclass(frozen=True)
class Extent:
    """A longitude/latitude box (CGCS2000 degrees) that data must fall in, and what it is, for messages."""

    west: float
    south: float
    east: float
    north: float
    what: str

    def widened(self, margin: float) -> Extent:
        return Extent(self.west - margin, self.south - margin, self.east + margin, self.north + margin, self.what)


def zone_extent(crs: CRS | str | int) -> Extent:
    """The published area of use of a projected CRS, widened by ZONE_MARGIN_DEG."""
    c = horizontal(CRS.from_user_input(crs))
    area = c.area_of_use
    if area is None:
        return Extent(-180, -90, 180, 90, c.name)
    label = f"the zone of {c.name} ({area.west:g}°E–{area.east:g}°E)"
    return Extent(area.west, area.south, area.east, area.north, label).widened(ZONE_MARGIN_DEG)


def county_extent(bounds: tuple[float, float, float, float], crs: CRS | str | int) -> Extent:
    """The box around the county's townships (given as projected bounds), widened by COUNTY_MARGIN_DEG."""
    to_geo = transformer(CRS.from_user_input(crs), CGCS2000)
    xs, ys = to_geo.transform([bounds[0], bounds[2], bounds[0], bounds[2]],
                              [bounds[1], bounds[1], bounds[3], bounds[3]])
    return Extent(min(xs), min(ys), max(xs), max(ys), "the county's townships").widened(COUNTY_MARGIN_DEG)


def _centres(gdf: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    b = shapely.bounds(gdf.geometry.to_numpy())
    return (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2


def likely_crs(x: float, y: float, extent: Extent) -> list[str]:
    """The CGCS2000 GK CRSs in which a raw coordinate pair (as written in the file) lands inside `extent`."""
    hits = []
    for code in GK_CANDIDATES:
        lon, lat = transformer(code, CGCS2000).transform(x, y)
        if extent.west <= lon <= extent.east and extent.south <= lat <= extent.north:
            hits.append(f"EPSG:{code} ({CRS.from_epsg(code).name})")
    if extent.west <= x <= extent.east and extent.south <= y <= extent.north:
        hits.insert(0, "EPSG:4490 (CGCS2000 longitude/latitude)")
    return hits[:2]


def check_inside(projected: gpd.GeoDataFrame, extent: Extent, *, raw: gpd.GeoDataFrame | None = None,
                 source: str = "input", row_column: str = "_row") -> None:
    """Refuse data that falls outside `extent`: a `.prj` naming the wrong zone moves a whole layer by
    hundreds of kilometres, and an import would then store houses in no township at all.

    `projected` is the data after reprojection (any CRS); `raw` the data as read, whose coordinates are
    tried in the usual Chinese CRSs to suggest the one the file is really in.
    """
    if projected.empty:
        return
    x, y = _centres(projected)
    lon, lat = transformer(projected.crs, CGCS2000).transform(x, y)
    lon, lat = np.asarray(lon), np.asarray(lat)
    geoms = projected.geometry.to_numpy()
    placed = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))  # empty ones are dropped and reported later
    outside = placed & ~((lon >= extent.west) & (lon <= extent.east) & (lat >= extent.south) & (lat <= extent.north))
    if not outside.any():
        return
    i = int(np.flatnonzero(outside)[0])
    row = int(projected[row_column].iloc[i]) if row_column in projected.columns else i + 1
    where = f"{lon[i]:.3f}°E {lat[i]:.3f}°N" if np.isfinite(lon[i]) and np.isfinite(lat[i]) else "nowhere on Earth"
    hint = ""
    if raw is not None and not raw.empty and raw.crs is not None:
        rx, ry = _centres(raw[placed])
        suggestions = likely_crs(float(np.nanmedian(rx)), float(np.nanmedian(ry)), extent)
        declared = horizontal(CRS.from_user_input(raw.crs)).name
        if suggestions:
            hint = (f"; the file says {declared}, but its coordinates fit {' or '.join(suggestions)}: fix the .prj "
                    "(or remove it and pass --src-crs)")
        else:
            hint = f"; the file says {declared}: is this the right county's data?"
    raise RedlineInputError(f"{int(outside.sum())} of {int(placed.sum())} features lie outside {extent.what} "
                            f"(the first at {where}){hint}", source=source, row=row, field="geometry")


def check_degrees(gdf: gpd.GeoDataFrame, source: str = "input") -> None:
    """Refuse 'degrees' that cannot be degrees: projected metres under a geographic `.prj`."""
    crs = horizontal(CRS.from_user_input(gdf.crs))
    if not crs.is_geographic or gdf.empty:
        return
    minx, miny, maxx, maxy = gdf.total_bounds
    if minx < -180 or maxx > 360 or miny < -90 or maxy > 90:
        raise RedlineInputError(
            f"the file says {crs.name} (degrees), but its coordinates run to x={maxx:.0f}, y={maxy:.0f}: "
            "they are projected metres; fix the .prj (or remove it and pass --src-crs EPSG:45xx)", source=source)
