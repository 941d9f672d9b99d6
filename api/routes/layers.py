"""Reference layers for maps, by bounding box: farmland, land parcels, houses, admin areas."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from api import models
from api.auth import CurrentUser
from api.dependencies import SessionDep
from api.errors import NotFound
from api.geojson import feature_collection_response, parse_bbox
from api.repository import bbox_clause, read_frame, table_of

router = APIRouter(prefix="/api/layers", tags=["layers"])

LAYERS: dict[str, tuple[type[models.Base], list[str]]] = {
    "farmland": (models.Farmland, ["bsm", "dlbm", "area_m2"]),
    "dltb": (models.LandParcel, ["bsm", "dlbm", "dlmc", "zldwmc", "area_m2"]),
    "houses": (models.House, ["built_on", "use", "village_code", "area_m2"]),
    "admin": (models.AdminArea, ["code", "name", "level"]),
}


@router.get("/{name}")
def layer(session: SessionDep, _user: CurrentUser, name: str,
          bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat (EPSG:4326)")] = None,
          limit: Annotated[int, Query(ge=1, le=20000)] = 5000) -> dict[str, Any]:
    """Features of a reference layer in a bounding box, as GeoJSON (EPSG:4326).

    When more than `limit` features fall in the box, none are sent and `truncated` is true: the map asks
    the user to zoom in rather than freezing the browser.
    """
    if name not in LAYERS:
        raise NotFound(f"no layer {name!r}; one of {', '.join(LAYERS)}")
    model, columns = LAYERS[name]
    box = parse_bbox(bbox)
    where = [bbox_clause(session, model, box)] if box else []
    table = table_of(model)
    count_stmt = select(func.count()).select_from(table)
    for clause in where:
        count_stmt = count_stmt.where(clause)
    total = session.execute(count_stmt).scalar_one()
    if total > limit:
        return {"type": "FeatureCollection", "features": [], "truncated": True, "total": total}
    frame = read_frame(session, model, columns, where=where)
    return feature_collection_response(frame, truncated=False, total=total)  # type: ignore[return-value]
