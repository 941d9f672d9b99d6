"""The review map page."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from api.cases.queries import centre_of_cases
from api.errors import NotAuthenticated
from api.http.deps import SessionDep, SettingsDep
from api.http.identity import current_user
from api.http.pages import page
from api.mapview.page import build_map

router = APIRouter(tags=["map"])
DEFAULT_CENTRE = (25.6, 112.4)  # lat, lon of the demo county


@router.get("/map", response_class=HTMLResponse)
def review_map(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """The interactive violation map (filters in the query string: township, status, period, ...)."""
    try:
        user = current_user(request, session)
    except NotAuthenticated:
        return RedirectResponse(f"/login?next={quote(str(request.url.path) + '?' + request.url.query)}",
                                status_code=303)
    centre = centre_of_cases(session, user, settings.srid) or DEFAULT_CENTRE
    return page(build_map(settings, centre), tile_url=settings.tile_url)
