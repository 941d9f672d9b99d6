"""The review map as vector tiles (`api.mapview.tiles`), for counties too big for the in-memory snapshots."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.accounts.roles import township_of
from api.clock import utcnow
from api.errors import NotFound
from api.http.deps import SessionDep, SettingsDep
from api.http.identity import CurrentUser
from api.http.routes.cases import MapFilter
from api.mapview.snapshots import LAYERS, case_stamp, layer_stamp
from api.mapview.tiles import MEDIA_TYPE, TileCache, case_cells, case_tile, check_tile, layer_tile

router = APIRouter(prefix="/api/tiles", tags=["map"])
TileZ = Annotated[int, Path(ge=0, le=24)]
TileXY = Annotated[int, Path(ge=0, le=2**24 - 1)]
#: Tiles change with every import, scan or case change: the browser asks again each time (the server's
#: cache makes that cheap) and keeps nothing another user of the same machine could see.
NO_STORE = {"Cache-Control": "private, no-cache"}


def _short_queries(session: Session) -> None:
    """A tile is a small indexed query: on PostgreSQL, no JIT compilation (50 ms, more than the query) and
    no parallel workers (their start costs more than they save), for this request's transaction only."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))


def _cache(request: Request) -> TileCache:
    return request.app.state.tile_cache  # type: ignore[no-any-return]


def _ns(now: dt.datetime) -> int:
    return int(now.timestamp() * 1e9)


@router.get("/cases/{z}/{x}/{y}.pbf", response_class=Response,
            responses={200: {"content": {MEDIA_TYPE: {}}, "description": "a Mapbox vector tile"}})
def cases_tile(request: Request, session: SessionDep, user: CurrentUser, settings: SettingsDep, z: TileZ,
               x: TileXY, y: TileXY, where: MapFilter) -> Response:
    """The cases in a tile (z ≥ 14; an empty tile below), filtered like `/api/cases/features` and scoped to
    the caller; layer `cases`, each feature with the map's case properties and `overdue` as of now."""
    check_tile(z, x, y)
    now = utcnow()
    key = ("cases", case_stamp(session), township_of(user.role, user.township_code), where, z, x, y)
    data = _cache(request).get(key, _ns(now))
    if data is None:
        _short_queries(session)
        tile = case_tile(session, settings.deadline_policy, user, where, z, x, y, now)
        data = tile.data
        _cache(request).put(key, data, len(data) + 200, tile.valid_until_ns)
    return Response(data, media_type=MEDIA_TYPE, headers=NO_STORE)


@router.get("/case-counts/{z}/{x}/{y}.json")
def case_counts_tile(request: Request, session: SessionDep, user: CurrentUser, settings: SettingsDep, z: TileZ,
                     x: TileXY, y: TileXY, where: MapFilter) -> Response:
    """The cases whose centroid is in a tile, as counts on a 4 × 4 grid (for views wider than case tiles):
    `{"total", "cells": [{"lat", "lon", "count", "kinds"}]}`, filtered and scoped like the case tiles."""
    check_tile(z, x, y)
    now = utcnow()
    key = ("counts", case_stamp(session), township_of(user.role, user.township_code), where, z, x, y)
    data = _cache(request).get(key, _ns(now))
    if data is None:
        _short_queries(session)
        cells, valid_until = case_cells(session, settings.deadline_policy, user, where, z, x, y, now)
        body = json.dumps({"total": sum(c["count"] for c in cells), "cells": cells}, separators=(",", ":"))
        data = body.encode()
        _cache(request).put(key, data, len(data) + 200, valid_until)
    return Response(data, media_type="application/json", headers=NO_STORE)


@router.get("/{name}/{z}/{x}/{y}.pbf", response_class=Response,
            responses={200: {"content": {MEDIA_TYPE: {}}, "description": "a Mapbox vector tile"}})
def reference_tile(request: Request, session: SessionDep, user: CurrentUser, name: str, z: TileZ, x: TileXY,
                   y: TileXY) -> Any:
    """A reference layer's tile (farmland, dltb, houses, admin; layer named like the path), empty below the
    zoom the layer is drawn from. Township users see only their township's houses."""
    if name not in LAYERS:
        raise NotFound(f"no layer {name!r}; one of {', '.join(LAYERS)}")
    check_tile(z, x, y)
    key = (name, layer_stamp(session, name), township_of(user.role, user.township_code), z, x, y)
    data = _cache(request).get(key, 0)
    if data is None:
        _short_queries(session)
        data = layer_tile(session, name, user, z, x, y)
        _cache(request).put(key, data, len(data) + 200)
    return Response(data, media_type=MEDIA_TYPE, headers=NO_STORE)
