"""GeoJSON for the web: geometries leave the county CRS for EPSG:4326 here and only here."""

from __future__ import annotations

import json
from typing import Any

import geopandas as gpd
from fastapi import Response

from api.errors import InvalidQuery
from gis.codes import WEB_CRS
from gis.crs import transformer, zone_extent

#: A county-CRS box no case can meet (at the false origin, 500 km west of the zone on the equator): what a
#: bounding box entirely outside the county's zone selects.
NOWHERE = (0.0, 0.0, 0.0, 0.0)


def parse_web_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """Parse and check 'minlon,minlat,maxlon,maxlat' (EPSG:4326)."""
    if not text:
        return None
    try:
        minx, miny, maxx, maxy = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise InvalidQuery(f"bbox must be minlon,minlat,maxlon,maxlat, got {text!r}") from exc
    # A box of no width (a view zoomed in past the data's precision) is still a place: it selects what it meets.
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InvalidQuery(f"bbox out of range or inverted: {text!r}")
    return minx, miny, maxx, maxy


def parse_bbox(text: str | None, srid: int) -> tuple[float, float, float, float] | None:
    """Parse 'minlon,minlat,maxlon,maxlat' (EPSG:4326) and return it in the county CRS (EPSG:`srid`)."""
    box = parse_web_bbox(text)
    if box is None:
        return None
    # Clip to where the county's CRS is defined: a whole-world box transformed as it is gives infinities
    # (and no cases). Cases lie in the county, so nothing outside the zone is lost.
    zone = zone_extent(f"EPSG:{srid}")
    minx, miny = max(box[0], zone.west), max(box[1], zone.south)
    maxx, maxy = min(box[2], zone.east), min(box[3], zone.north)
    if minx >= maxx or miny >= maxy:
        return NOWHERE
    to_county = transformer(WEB_CRS, f"EPSG:{srid}")
    xs, ys = to_county.transform([minx, maxx, minx, maxx], [miny, miny, maxy, maxy])
    return min(xs), min(ys), max(xs), max(ys)


def _geojson_text(gdf: gpd.GeoDataFrame, extra: dict[str, Any]) -> str:
    """A FeatureCollection in EPSG:4326 as text, with extra top-level members (dates as ISO text)."""
    web = gdf.to_crs(WEB_CRS) if len(gdf) else gdf.set_crs(WEB_CRS, allow_override=True)
    body = web.to_json(drop_id=True, to_wgs84=False, default=str)
    return body[:-1] + "," + json.dumps(extra, default=str)[1:] if extra else body


def feature_collection_response(gdf: gpd.GeoDataFrame, **extra: Any) -> Response:
    """The FeatureCollection serialised once, straight into the response (no dict round trip: map
    requests carry thousands of features and FastAPI's generic encoder is the slow part)."""
    return Response(content=_geojson_text(gdf, extra), media_type="application/json")


def feature_collection(gdf: gpd.GeoDataFrame, **extra: Any) -> dict[str, Any]:
    """The FeatureCollection as a dict (for handlers that add to it)."""
    return json.loads(_geojson_text(gdf, extra))  # type: ignore[no-any-return]
