"""The review map page."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pyproj import Transformer
from sqlalchemy import func, select

from api import models
from api.auth import current_user
from api.cases import scope
from api.dependencies import SessionDep, SettingsDep
from api.errors import NotAuthenticated
from api.mapping import build_map
from api.pages import page

router = APIRouter(tags=["map"])
DEFAULT_CENTRE = (25.6, 112.4)  # lat, lon of the demo county


def _centre(session: SessionDep, where: list[Any]) -> tuple[float, float]:
    """Centre of the cases the user may see (or of the demo county), as (lat, lon)."""
    stmt = select(func.ST_AsBinary(func.ST_Centroid(func.ST_Collect(models.Case.geom))))
    for clause in where:
        stmt = stmt.where(clause)
    box = session.execute(stmt).scalar()
    if box is None:
        return DEFAULT_CENTRE
    import shapely

    point = shapely.from_wkb(bytes(box))
    lon, lat = Transformer.from_crs(f"EPSG:{models.SRID}", "EPSG:4326", always_xy=True).transform(point.x, point.y)
    return lat, lon


@router.get("/map", response_class=HTMLResponse)
def review_map(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """The interactive violation map (filters in the query string: township, status, period, ...)."""
    try:
        user = current_user(request, session)
    except NotAuthenticated:
        return RedirectResponse(f"/login?next={quote(str(request.url.path) + '?' + request.url.query)}",
                                status_code=303)
    return page(build_map(settings, _centre(session, scope(user))), tile_url=settings.tile_url)
