"""The review map as vector tiles (`api.mapview.tiles`), for counties too big for the in-memory snapshots."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from api.accounts.roles import township_of
from api.clock import utcnow
from api.errors import NotFound
from api.http.deps import SessionDep, SettingsDep
from api.http.identity import ReadingUser
from api.http.routes.cases import MapFilter
from api.mapview.snapshots import LAYERS, case_stamp, layer_stamp
from api.mapview.tiles import MEDIA_TYPE, NEVER, TileCache, case_cells, case_tile, check_tile, layer_tile

router = APIRouter(prefix="/api/tiles", tags=["map"])
TileZ = Annotated[int, Path(ge=0, le=24)]
TileXY = Annotated[int, Path(ge=0, le=2**24 - 1)]
#: Tiles change with every import, scan or case change: the browser asks again each time (the server's
#: cache makes that cheap) and keeps nothing another user of the same machine could see.
NO_STORE = {"Cache-Control": "private, no-cache"}


def _cached(request: Request, session: SessionDep, user: ReadingUser, key: tuple[Any, ...], now: dt.datetime,
            build: Callable[[], tuple[bytes, int]]) -> bytes:
    """The tile under `key` for whatever `user` may see (the township, or the whole county), cached."""
    cache: TileCache = request.app.state.tile_cache
    scoped = (*key, township_of(user.role, user.township_code))
    return cache.get_or_build(session, scoped, int(now.timestamp() * 1e9), build)


@router.get("/cases/{z}/{x}/{y}.pbf", response_class=Response,
            responses={200: {"content": {MEDIA_TYPE: {}}, "description": "a Mapbox vector tile"}})
def cases_tile(request: Request, session: SessionDep, user: ReadingUser, settings: SettingsDep, z: TileZ,
               x: TileXY, y: TileXY, where: MapFilter) -> Response:
    """The cases in a tile (z ≥ 14; an empty tile below), filtered like `/api/cases/features` and scoped to
    the caller; layer `cases`, each feature with the map's case properties and `overdue` as of now."""
    check_tile(z, x, y)
    now = utcnow()

    def build() -> tuple[bytes, int]:
        tile = case_tile(session, settings.deadline_policy, user, where, z, x, y, now)
        return tile.data, tile.valid_until_ns

    data = _cached(request, session, user, ("cases", case_stamp(session), where, z, x, y), now, build)
    return Response(data, media_type=MEDIA_TYPE, headers=NO_STORE)


@router.get("/case-counts/{z}/{x}/{y}.json")
def case_counts_tile(request: Request, session: SessionDep, user: ReadingUser, settings: SettingsDep, z: TileZ,
                     x: TileXY, y: TileXY, where: MapFilter) -> Response:
    """The cases whose centroid is in a tile, as counts on a 4 × 4 grid (for views wider than case tiles):
    `{"total", "cells": [{"lat", "lon", "count", "kinds"}]}`, filtered and scoped like the case tiles."""
    check_tile(z, x, y)
    now = utcnow()

    def build() -> tuple[bytes, int]:
        cells, valid_until = case_cells(session, settings.deadline_policy, user, where, z, x, y, now)
        body = json.dumps({"total": sum(c["count"] for c in cells), "cells": cells}, separators=(",", ":"))
        return body.encode(), valid_until

    data = _cached(request, session, user, ("counts", case_stamp(session), where, z, x, y), now, build)
    return Response(data, media_type="application/json", headers=NO_STORE)


@router.get("/{name}/{z}/{x}/{y}.pbf", response_class=Response,
            responses={200: {"content": {MEDIA_TYPE: {}}, "description": "a Mapbox vector tile"}})
def reference_tile(request: Request, session: SessionDep, user: ReadingUser, name: str, z: TileZ, x: TileXY,
                   y: TileXY) -> Any:
    """A reference layer's tile (farmland, dltb, houses, admin; layer named like the path), empty below the
    zoom the layer is drawn from. Township users see only their township's houses."""
    if name not in LAYERS:
        raise NotFound(f"no layer {name!r}; one of {', '.join(LAYERS)}")
    check_tile(z, x, y)
    data = _cached(request, session, user, (name, layer_stamp(session, name), z, x, y), utcnow(),
                   lambda: (layer_tile(session, name, user, z, x, y), NEVER))
    return Response(data, media_type=MEDIA_TYPE, headers=NO_STORE)
