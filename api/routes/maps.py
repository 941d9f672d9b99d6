"""The review map page."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from pyproj import Transformer
from sqlalchemy import func, select

from api import models
from api.dependencies import SessionDep, SettingsDep
from api.mapping import build_map

router = APIRouter(tags=["map"])
DEFAULT_CENTRE = (25.6, 112.4)  # lat, lon of the demo county


def _centre(session: SessionDep) -> tuple[float, float]:
    """Centre of the cases (or of the county), as (lat, lon)."""
    box = session.execute(select(func.ST_AsBinary(func.ST_Centroid(func.ST_Collect(models.Case.geom))))).scalar()
    if box is None:
        return DEFAULT_CENTRE
    import shapely

    point = shapely.from_wkb(bytes(box))
    lon, lat = Transformer.from_crs(f"EPSG:{models.SRID}", "EPSG:4326", always_xy=True).transform(point.x, point.y)
    return lat, lon


@router.get("/map", response_class=HTMLResponse)
def review_map(session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """The interactive violation map (filters in the query string: township, status, period, ...)."""
    return HTMLResponse(build_map(settings, _centre(session)))
