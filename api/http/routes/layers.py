"""Reference layers for maps, by bounding box: farmland, land parcels, houses, admin areas."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.errors import NotFound
from api.http.deps import MapDataDep, SessionDep
from api.http.geojson import parse_web_bbox
from api.http.identity import CurrentUser
from api.mapview.snapshots import LAYERS, layer_features_text

router = APIRouter(prefix="/api/layers", tags=["layers"])


@router.get("/{name}")
def layer(session: SessionDep, user: CurrentUser, map_data: MapDataDep, name: str,
          bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat (EPSG:4326)")] = None,
          limit: Annotated[int, Query(ge=1, le=20000)] = 5000) -> Any:
    """Features of a reference layer in a bounding box, as GeoJSON (EPSG:4326).

    When more than `limit` features fall in the box, none are sent and `truncated` is true: the map asks
    the user to zoom in rather than freezing the browser. Served from an in-memory snapshot of the layer
    (`api.mapview.snapshots`), refreshed after every import. Township users see only their township's houses.
    """
    if name not in LAYERS:
        raise NotFound(f"no layer {name!r}; one of {', '.join(LAYERS)}")
    snap = map_data.layer(session, name)
    idx = snap.in_box(parse_web_bbox(bbox))
    idx = idx[snap.visible(idx, user)]
    if len(idx) > limit:
        return {"type": "FeatureCollection", "features": [], "truncated": True, "total": len(idx)}
    return Response(layer_features_text(snap, idx, truncated=False, total=len(idx)), media_type="application/json")
