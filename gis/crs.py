"""Coordinate reference systems: identify by definition, pick the Gauss-Kruger zone, never measure degrees.

Real CGCS2000 `.prj` files carry no EPSG code, a wrong one (a 6-degree zone with identical parameters),
or a vertical datum; so CRSs are compared by what they define, not by their number.
"""

from __future__ import annotations

import geopandas as gpd
from pyproj import CRS

from gis.errors import GeographicCRSError, MissingCRSError

#: CGCS2000 geographic.
CGCS2000 = CRS.from_epsg(4490)
#: EPSG code of CGCS2000 / 3-degree Gauss-Kruger CM 75E; codes run to 4554 (CM 135E) in 3° steps.
_GK_CM75_EPSG = 4534
_GK_CM_MIN, _GK_CM_MAX = 75, 135


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
    if target is not None:
        target_crs = CRS.from_user_input(target)
        if not target_crs.is_projected:
            raise GeographicCRSError(f"target CRS {target_crs.name} is not projected; areas need metres",
                                     source=source)
        if same_crs(gdf.crs, target_crs):
            return gdf.set_crs(target_crs, allow_override=True)
        return gdf.to_crs(target_crs)
    crs = horizontal(CRS.from_user_input(gdf.crs))
    if crs.is_projected:
        return gdf.set_crs(crs, allow_override=True) if crs != gdf.crs else gdf
    if gdf.empty:
        raise GeographicCRSError("cannot pick a projected CRS for empty geographic data", source=source)
    return gdf.to_crs(zone_for_frame(gdf))


def require_projected(gdf: gpd.GeoDataFrame, what: str) -> None:
    """Refuse to measure areas of data that is not in a projected CRS."""
    if gdf.crs is None:
        raise MissingCRSError(f"{what} has no CRS")
    if not horizontal(CRS.from_user_input(gdf.crs)).is_projected:
        raise GeographicCRSError(f"{what} is in geographic coordinates; areas in degrees are meaningless")
