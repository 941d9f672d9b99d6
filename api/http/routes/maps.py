"""The review map page."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse

from api.cases.queries import centre_of_cases
from api.http.deps import SessionDep, SettingsDep
from api.http.identity import PageUser
from api.http.language import Language
from api.http.pages import page, page_context, page_title, render
from api.mapview.areas import areas_in_scope, centre_of_areas, townships_of
from api.mapview.page import build_map
from api.mapview.tiles import count_cases

router = APIRouter(tags=["map"])
DEFAULT_CENTRE = (25.6, 112.4)  # lat, lon of the demo county
#: The global name of the Leaflet map on the page (the review modules find the map by it).
MAP_NAME = "map_redline"


@router.get("/map", response_class=HTMLResponse)
def review_map(user: PageUser, session: SessionDep, settings: SettingsDep, lang: Language) -> Response:
    """The interactive violation map (filters in the query string: township, status, period, ...)."""
    areas = areas_in_scope(session, user)
    # Above `map_tiles_above` cases the map draws vector tiles read from the database (`api.mapview.tiles`)
    # rather than the in-memory snapshots.
    tiles = count_cases(session) > settings.map_tiles_above
    panels = render("map_panel.html", townships=townships_of(areas),
                    **page_context(user, settings, {"map": MAP_NAME, "areas": areas, "tiles": tiles}, lang=lang,
                                   here="/map"))
    centre = (centre_of_areas if tiles else centre_of_cases)(session, user) or DEFAULT_CENTRE
    html = build_map(centre, panels, title=page_title("/map", lang), tile_url=settings.tile_url,
                     tile_attribution=settings.tile_attribution, map_name=MAP_NAME, vector_tiles=tiles)
    return page(html, tile_url=settings.tile_url)
